'use strict';
// The Promise API (issue 15 item 3): remote calls run on a worker thread
// and leave the event loop running; a JS transport may be async (fetch);
// local calls have awaitable forms; listAll() pages with for await;
// verifyWebhook() returns the event.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { Client, RouterTransport, ConstraError, TransportFailure, verifyWebhook, signWebhook, featureEnabled } = require('..');
const { SEED_KEY, SECRET, TIMELINE, createSeed, SEED, slowServer, ticksDuring, fetchTransport: makeFetchTransport } = require('./helpers');

const fetchTransport = makeFetchTransport('fetch');

const UNKNOWN_ID = 'pi_01m84728vssdr2cpnq71nsww6j';
const HAS_CURL = process.env.CONSTRA_TEST_SERVE === '1' || featureEnabled('curl');


describe('remote calls leave the event loop running', () => {
  let local; let server; let base;
  before(async () => {
    local = new Client({ secretKey: SECRET });
    server = await slowServer(local, 2000);
    base = `http://127.0.0.1:${server.address().port}/v1`;
  });
  after(() => { server.close(); local.close(); });

  it('over libcurl: a 2 s answer, and a 100 ms interval fires 10 times meanwhile', { skip: !HAS_CURL && 'no libcurl' }, async () => {
    const c = Client.remote({ baseUrl: base, secretKey: SECRET });
    try {
      const t0 = Date.now();
      const { value: pi, ticks } = await ticksDuring(c.promises.create(SEED, { idempotencyKey: 'slow-curl' }));
      assert.ok(Date.now() - t0 >= 1900, 'the server took its 2 s');
      assert.ok(ticks >= 10, `the interval fired ${ticks} times`);
      assert.equal(pi.status, 'pending_user_action');
      assert.equal(pi.replayed, false);
      const again = await c.promises.create(SEED, { idempotencyKey: 'slow-curl' });
      assert.equal(again.replayed, true);
      assert.equal(again.id, pi.id);
    } finally { c.close(); }
  });

  it('over an async fetch transport, the same', async () => {
    const c = Client.remote({ baseUrl: base, secretKey: SECRET, transport: fetchTransport });
    try {
      const { value: pi, ticks } = await ticksDuring(c.promises.create(SEED, { idempotencyKey: 'slow-fetch' }));
      assert.ok(ticks >= 10, `the interval fired ${ticks} times`);
      const got = await c.promises.get(pi.id);
      assert.equal(got.id, pi.id);
      await assert.rejects(c.promises.get(UNKNOWN_ID),
        (e) => e instanceof ConstraError && e.code === 'resource_missing' && e.httpStatus === 404);
      // The blocking forms cannot wait for an async transport, and say so.
      assert.throws(() => c.sync.get(pi.id), (e) => /async transport works through the methods/.test(e.message));
    } finally { c.close(); }
  });
});

describe('the Promise API of a remote client', () => {
  it('gives the seed flow as the synchronous API does, through a sync JS transport', async () => {
    const local = new Client({ secretKey: SECRET });
    const r = Client.remote({ baseUrl: 'http://constra.test/v1', secretKey: SECRET, transport: new RouterTransport(local) });
    try {
      const first = await r.promises.create(SEED, { idempotencyKey: SEED_KEY });
      const cancelled = await r.promises.simulate(first.id, 1032);
      assert.equal(cancelled.status, 'requires_recovery');
      await r.promises.retry(first.id);
      const paid = await r.promises.simulate(first.id, 0);
      assert.equal(paid.status, 'succeeded');
      assert.deepEqual((await r.promises.events(first.id)).data.map((e) => e.type), TIMELINE);
      assert.deepEqual(await r.promises.get(first.id), r.sync.get(first.id)); // both APIs, one server
      assert.deepEqual(await r.get(first.id), r.sync.get(first.id));
      await assert.rejects(r.promises.create({ amount: -1, phoneNumber: '0712345678' }, { idempotencyKey: 'neg' }),
        (e) => e instanceof ConstraError && e.httpStatus === 400 && e.param === 'amount');
      await assert.rejects(r.promises.create({ amount: 5, phoneNumber: '0712345678', colour: 'red' }, { idempotencyKey: 'u' }),
        (e) => e.code === 'parameter_unknown' && e.param === 'colour');
    } finally { r.close(); local.close(); }
  });

  it("a transport's exception is the error's cause; calls after close reject", async () => {
    const boom = new TransportFailure('connect', 'nobody home');
    const r = Client.remote({ baseUrl: 'http://constra.test/v1', secretKey: SECRET, maxTries: 1,
      transport: { async send() { throw boom; } } });
    await assert.rejects(r.promises.get(UNKNOWN_ID), (e) => {
      assert.equal(e.httpStatus, 0, e.message);
      assert.equal(e.cause, boom);
      assert.match(e.message, /nobody home/);
      return true;
    });
    r.close();
    await assert.rejects(r.promises.get(UNKNOWN_ID), (e) => e.code === 'client_closed');
  });

  it('for await over listAll pages through a remote list', async () => {
    const local = new Client({ secretKey: SECRET });
    const r = Client.remote({ baseUrl: 'http://constra.test/v1', secretKey: SECRET, transport: new RouterTransport(local) });
    try {
      const made = [];
      for (let i = 0; i < 5; i++) made.push(createSeed(local, { amount: 10 + i }, `la${i}`).id);
      const seen = [];
      for await (const pi of r.listAll({ limit: 2 })) seen.push(pi.id);
      assert.deepEqual(seen, made.reverse());
    } finally { r.close(); local.close(); }
  });
});

describe('a local client', () => {
  it('has awaitable forms of its synchronous calls', async () => {
    const c = new Client();
    try {
      const pi = await c.promises.create({ amount: 10, phoneNumber: '0712345678' }, { idempotencyKey: 'p' });
      assert.equal((await c.promises.get(pi.id)).id, pi.id);
      assert.equal(c.get(pi.id).id, pi.id);
      await assert.rejects(c.promises.get(UNKNOWN_ID), (e) => e.code === 'resource_missing');
      await assert.rejects(c.promises.create({ amount: 10, phoneNumber: '0712345678', x: 1 }, { idempotencyKey: 'q' }),
        (e) => e.code === 'parameter_unknown');
    } finally { c.close(); }
  });

  it('listAll yields every intent once, newest first, page by page', async () => {
    const c = new Client();
    try {
      const made = [];
      for (let i = 0; i < 7; i++) made.push(c.create({ amount: 10 + i, phoneNumber: '0712345678' }, { idempotencyKey: `k${i}` }).id);
      for (const limit of [0, 1, 2, 3, 100]) {
        const seen = [];
        for await (const pi of c.listAll({ limit })) seen.push(pi.id);
        assert.deepEqual(seen, [...made].reverse(), `limit ${limit}`);
      }
      const seen = [];
      for await (const pi of c.listAll({ limit: 2, startingAfter: made[3] })) seen.push(pi.id);
      assert.deepEqual(seen, made.slice(0, 3).reverse());
      await assert.rejects(async () => { for await (const _ of c.listAll({ limt: 2 })) { /* nothing */ } },
        (e) => e.code === 'parameter_unknown');
    } finally { c.close(); }
  });
});

it('verifyWebhook returns the parsed event', () => {
  const body = Buffer.from('{"id":"evt_1","type":"payment_intent.succeeded","data":{"payment_intent_id":"pi_1"}}');
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const event = verifyWebhook(body, { secret, signature: signWebhook(body, { secret }) });
  assert.equal(event.type, 'payment_intent.succeeded');
  assert.equal(event.data.payment_intent_id, 'pi_1');
  assert.equal(verifyWebhook('hello', { secret: 'k', signature: signWebhook('hello', { secret: 'k' }) }), null);
  assert.throws(() => verifyWebhook(Buffer.concat([body, Buffer.from(' ')]), { secret, signature: signWebhook(body, { secret }) }),
    (e) => e.code === 'signature_mismatch');
});

describe('FetchTransport', () => {
  it('carries the Promise API of a remote client; a refused connection reads as what happened', async () => {
    const { FetchTransport } = require('..');
    const local = new Client({ secretKey: SECRET });
    const server = await slowServer(local, 300);
    const base = `http://127.0.0.1:${server.address().port}/v1`;
    const r = Client.remote({ baseUrl: base, secretKey: SECRET, transport: new FetchTransport() });
    // A port that was just free: nothing listens there.
    const gone = http.createServer();
    await new Promise((res) => gone.listen(0, '127.0.0.1', res));
    const deadPort = gone.address().port;
    await new Promise((res) => gone.close(res));
    const dead = Client.remote({ baseUrl: `http://127.0.0.1:${deadPort}/v1`, secretKey: SECRET, transport: new FetchTransport(), maxTries: 1 });
    try {
      const { value: pi, ticks } = await ticksDuring(r.promises.create(SEED, { idempotencyKey: 'fetch-t' }));
      assert.ok(ticks >= 2, `the interval fired ${ticks} times`);
      assert.equal((await r.promises.get(pi.id)).id, pi.id);
      await assert.rejects(dead.promises.get(UNKNOWN_ID), (e) => {
        assert.equal(e.httpStatus, 0, e.message);
        assert.equal(e.status, -14, 'not sent: safe to retry');
        assert.match(e.message, /ECONNREFUSED|connect/);
        assert.ok(e.cause instanceof TransportFailure && e.cause.kind === 'connect');
        return true;
      });
    } finally { r.close(); dead.close(); server.close(); local.close(); }
  });
});
