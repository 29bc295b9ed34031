'use strict';
// Issue 15 item 3, as it will be checked: the plain methods of a remote
// client (`await client.create(...)`, `await client.get(id)`) return
// Promises and run on a worker thread, so a remote call against a slow
// server leaves the event loop running. Also: calls awaited together go
// out together (a pool of workers, `concurrency`); errors reject with the
// ConstraError the blocking form throws, field for field; an async
// transport (fetch) works through the plain methods; listAll pages with
// for await; and a process with remote clients, closed or forgotten,
// exits on its own.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { Client, RemoteClient, RouterTransport, FetchTransport, ConstraError, TransportFailure, featureEnabled } = require('..');
const { SEED, SECRET, createSeed, slowServer, ticksDuring, fetchTransport } = require('./helpers');

const ownFetch = fetchTransport('own-fetch');

const UNKNOWN_ID = 'pi_01m84728vssdr2cpnq71nsww6j';
const HAS_CURL = process.env.CONSTRA_TEST_SERVE === '1' || featureEnabled('curl');
const DELAY_MS = 2000;


// Every field the two paths must agree on.
const fields = (e) => ({ cls: e instanceof ConstraError, name: e.name, code: e.code, message: e.message,
  param: e.param, httpStatus: e.httpStatus, status: e.status });

describe('a remote call against a 2 s server leaves the event loop running', () => {
  let local; let server; let base;
  before(async () => {
    local = new Client({ secretKey: SECRET });
    server = await slowServer(local, DELAY_MS);
    base = `http://127.0.0.1:${server.address().port}/v1`;
  });
  after(() => { server.close(); local.close(); });

  const transports = [
    ['libcurl (the default transport)', () => undefined, !HAS_CURL && 'no libcurl in this build'],
    ['FetchTransport', () => new FetchTransport(), false],
    ["an async send() of one's own on fetch", () => ownFetch, false],
  ];
  for (const [i, [name, transport, skip]] of transports.entries()) {
    it(`await client.create() and client.get(), over ${name}: a 100 ms interval fires >= 15 times each`, { skip }, async () => {
      const c = Client.remote({ baseUrl: base, secretKey: SECRET, transport: transport() });
      try {
        assert.ok(c instanceof RemoteClient && c instanceof Client);
        const key = `slow-${i}`;
        let t0 = Date.now();
        const created = c.create(SEED, { idempotencyKey: key });
        assert.ok(created instanceof Promise, 'create() answers a Promise');
        assert.ok(Date.now() - t0 < 500, 'create() returned at once');
        const { value: pi, ticks } = await ticksDuring(created);
        assert.ok(Date.now() - t0 >= DELAY_MS - 100, 'the server took its 2 s');
        assert.ok(ticks >= 15, `the interval fired ${ticks} times during create()`);
        assert.equal(pi.status, 'pending_user_action');
        assert.equal(pi.replayed, false);
        t0 = Date.now();
        const { value: got, ticks: ticks2 } = await ticksDuring(c.get(pi.id));
        assert.ok(ticks2 >= 15, `the interval fired ${ticks2} times during get()`);
        assert.ok(Date.now() - t0 >= DELAY_MS - 100);
        assert.deepEqual(got, local.get(pi.id));
        const again = await c.create(SEED, { idempotencyKey: key });
        assert.equal(again.replayed, true);
        assert.equal(again.id, pi.id);
      } finally { c.close(); }
    });
  }

  it('the other server calls are asynchronous too: events, simulate, list, webhooks', async () => {
    const c = Client.remote({ baseUrl: base, secretKey: SECRET, transport: new FetchTransport() });
    try {
      const pi = await c.create(SEED, { idempotencyKey: 'slow-others' });
      // Together: one round of the server's delay, not five.
      const t0 = Date.now();
      const { value: [events, simulated, page, endpoint, refreshed], ticks } = await ticksDuring(Promise.all([
        c.events(pi.id), c.simulate(pi.id, 0), c.list({ limit: 1 }),
        c.addWebhookEndpoint('https://hooks.example.com/constra'), c.refresh(pi.id)]));
      const took = Date.now() - t0;
      assert.ok(ticks >= 15, `the interval fired ${ticks} times`);
      assert.ok(took < 2 * DELAY_MS + 500, `five calls together took ${took} ms`);
      assert.equal(events.object, 'list');
      assert.ok(['succeeded', 'pending_user_action'].includes(simulated.status));
      assert.equal(page.data.length, 1);
      assert.match(endpoint.secret, /^whsec_/);
      assert.equal(refreshed.id, pi.id);
      const hooks = await c.webhookEndpoints();
      assert.deepEqual(hooks.map((h) => h.id), [endpoint.id]);
      assert.equal((await c.disableWebhookEndpoint(endpoint.id)).status, 'disabled');
      assert.equal(await c.deleteWebhookEndpoint(endpoint.id), undefined);
    } finally { c.close(); }
  });
});

describe('concurrent remote calls', () => {
  let local; let server; let base;
  before(async () => {
    local = new Client({ secretKey: SECRET });
    server = await slowServer(local, 500);
    base = `http://127.0.0.1:${server.address().port}/v1`;
  });
  after(() => { server.close(); local.close(); });

  it('go out together, each with its own answer (default pool of 4 workers)', async () => {
    const c = Client.remote({ baseUrl: base, secretKey: SECRET, transport: new FetchTransport() });
    try {
      const made = await Promise.all([0, 1, 2, 3].map((i) => createSeed(c, { amount: 100 + i }, `conc-${i}`)));
      assert.deepEqual(made.map((pi) => pi.amount), [100, 101, 102, 103]);
      assert.equal(new Set(made.map((pi) => pi.id)).size, 4);
      server.maxInFlight = 0;
      const t0 = Date.now();
      const got = await Promise.all([...made, ...made].map((pi) => c.get(pi.id)));
      const took = Date.now() - t0;
      assert.deepEqual(got.map((pi) => pi.id), [...made, ...made].map((pi) => pi.id));
      assert.ok(server.maxInFlight >= 2, `at most ${server.maxInFlight} request(s) in flight`);
      assert.ok(took < 8 * 500, `eight gets took ${took} ms: not one after the other`);
      // An error among them rejects that call only.
      const mixed = await Promise.allSettled([c.get(made[0].id), c.get(UNKNOWN_ID), c.get(made[1].id)]);
      assert.deepEqual(mixed.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
      assert.equal(mixed[1].reason.code, 'resource_missing');
    } finally { c.close(); }
  });

  it('concurrency: 1 runs them one at a time, in arrival order', async () => {
    const c = Client.remote({ baseUrl: base, secretKey: SECRET, transport: new FetchTransport(), concurrency: 1 });
    try {
      server.maxInFlight = 0;
      const t0 = Date.now();
      const pages = await Promise.all([c.list(), c.list(), c.list()]);
      assert.equal(pages.length, 3);
      assert.equal(server.maxInFlight, 1);
      assert.ok(Date.now() - t0 >= 3 * 500 - 100);
    } finally { c.close(); }
    for (const bad of [0, 65, 1.5, '2']) {
      assert.throws(() => Client.remote({ baseUrl: base, secretKey: SECRET, concurrency: bad }),
        (e) => e instanceof ConstraError && e.param === 'concurrency', String(bad));
    }
  });
});

describe('errors reject with the ConstraError the blocking form throws', () => {
  it('code, message, param, httpStatus, status and name, field for field', async () => {
    const server = new Client({ secretKey: SECRET });
    const r = Client.remote({ baseUrl: 'http://constra.test/v1', secretKey: SECRET, transport: new RouterTransport(server) });
    try {
      const pi = await createSeed(r, {}, 'err-seed');
      const cases = [
        ['get', [UNKNOWN_ID], 'resource_missing', 404],
        ['retry', [pi.id], null, 409],
        ['create', [{ ...SEED, amount: -5 }, { idempotencyKey: 'err-neg' }], null, 400],
        ['create', [{ ...SEED, colour: 'red' }, { idempotencyKey: 'err-unknown' }], 'parameter_unknown', 400],
        ['create', [{ ...SEED, amount: '12' }, { idempotencyKey: 'err-type' }], 'parameter_invalid', 400],
        ['create', [SEED, {}], 'parameter_missing', 400],
        ['list', [{ status: 'paid' }], 'parameter_invalid', 400],
        ['resolve', [pi.id, 'maybe'], 'parameter_invalid', 400],
        ['create', [{ ...SEED, amount: 99 }, { idempotencyKey: 'err-seed' }], 'idempotency_key_reused', 409],
        ['handleMpesaCallback', ['{}'], 'remote_handle', 501],
      ];
      for (const [method, args, code, httpStatus] of cases) {
        let sync = null;
        try { r.sync[method](...args); } catch (e) { sync = e; }
        assert.ok(sync, `${method} must fail`);
        await assert.rejects(r[method](...args), (e) => {
          assert.deepEqual(fields(e), fields(sync), method);
          if (code) assert.equal(e.code, code);
          assert.equal(e.httpStatus, httpStatus);
          return true;
        });
        await assert.rejects(r.promises[method](...args), (e) => e.code === sync.code);
      }
      const typeErr = await r.create({ ...SEED, amount: '12' }, { idempotencyKey: 'x' }).catch((e) => e);
      assert.equal(typeErr.name, 'ConstraTypeError');
      assert.equal(typeErr.param, 'amount');
    } finally { r.close(); server.close(); }
  });

  it("a transport failure: status, httpStatus 0 and the transport's exception as cause", async () => {
    const boom = new TransportFailure('connect', 'nobody home');
    const r = Client.remote({ baseUrl: 'http://constra.test/v1', secretKey: SECRET, maxTries: 1,
      transport: { async send() { throw boom; } } });
    try {
      await assert.rejects(r.get(UNKNOWN_ID), (e) => {
        assert.ok(e instanceof ConstraError);
        assert.equal(e.status, -14);
        assert.equal(e.httpStatus, 0);
        assert.equal(e.cause, boom);
        return true;
      });
    } finally { r.close(); }
  });

  it('an argument that cannot reach the worker rejects, never throws', async () => {
    const server = new Client({ secretKey: SECRET });
    const r = Client.remote({ baseUrl: 'http://constra.test/v1', secretKey: SECRET, transport: new RouterTransport(server) });
    try {
      const p = r.create({ ...SEED, reference: () => 1 }, { idempotencyKey: 'fn' });
      await assert.rejects(p, (e) => e instanceof ConstraError && e.code === 'parameter_invalid');
    } finally { r.close(); server.close(); }
  });
});

describe('listAll and the forms of a remote client', () => {
  it('for await pages through a slow server with the loop running', async () => {
    const local = new Client({ secretKey: SECRET });
    const server = await slowServer(local, 200);
    const r = Client.remote({ baseUrl: `http://127.0.0.1:${server.address().port}/v1`, secretKey: SECRET,
      transport: new FetchTransport() });
    try {
      const made = [];
      for (let i = 0; i < 5; i++) made.push(createSeed(local, { amount: 10 + i }, `la${i}`).id);
      const seen = [];
      const { ticks } = await ticksDuring((async () => { for await (const pi of r.listAll({ limit: 2 })) seen.push(pi.id); })());
      assert.deepEqual(seen, made.reverse());
      assert.ok(ticks >= 3, `the interval fired ${ticks} times over three pages`);
    } finally { r.close(); server.close(); local.close(); }
  });

  it('client.promises is the same calls; client.sync the blocking ones; new RemoteClient() is refused', async () => {
    const server = new Client({ secretKey: SECRET });
    const r = Client.remote({ baseUrl: 'http://constra.test/v1', secretKey: SECRET, transport: new RouterTransport(server) });
    try {
      const pi = await createSeed(r, {}, 'forms');
      assert.deepEqual(await r.promises.get(pi.id), await r.get(pi.id));
      assert.deepEqual(r.sync.get(pi.id), await r.get(pi.id));
      assert.ok(!(r.sync.get(pi.id) instanceof Promise));
      assert.ok(r.tick() instanceof Promise);
      assert.equal(typeof await r.nowMs(), 'number');
      const res = await r.request('GET', `/v1/payment-intents/${pi.id}`, { Authorization: `Bearer ${SECRET}` });
      assert.equal(res.status, 200);
      assert.equal(res.json().id, pi.id);
      assert.ok(Buffer.isBuffer(res.body));
      // A local client stays synchronous, with the same three forms.
      assert.equal(server.get(pi.id).id, pi.id);
      assert.equal(server.sync.get(pi.id).id, pi.id);
      assert.equal((await server.promises.get(pi.id)).id, pi.id);
      assert.throws(() => new RemoteClient(), TypeError);
    } finally { r.close(); server.close(); }
  });
});

describe('worker threads never keep the process alive', () => {
  // A child process uses remote clients, closes one and forgets another
  // (idle, never closed), and must exit by itself, promptly.
  const script = `
    const { Client, RouterTransport, FetchTransport } = require(${JSON.stringify(path.join(__dirname, '..'))});
    (async () => {
      const server = new Client({ secretKey: '${SECRET}' });
      const closed = Client.remote({ baseUrl: 'http://constra.test/v1', secretKey: '${SECRET}', transport: new RouterTransport(server) });
      const forgotten = Client.remote({ baseUrl: 'http://constra.test/v1', secretKey: '${SECRET}', transport: new RouterTransport(server) });
      const pi = await closed.create({ amount: 5, phoneNumber: '0712345678' }, { idempotencyKey: 'exit' });
      await Promise.all([forgotten.get(pi.id), forgotten.list(), forgotten.events(pi.id)]);
      const pending = closed.get(pi.id);   // a call in flight at close() still answers
      closed.close();
      console.log('answered', (await pending).id === pi.id);
      await closed.get(pi.id).catch((e) => console.log('after close', e.code));
      const dead = Client.remote({ baseUrl: 'http://127.0.0.1:9/v1', secretKey: '${SECRET}', maxTries: 1, transport: new FetchTransport() });
      await dead.get(pi.id).catch((e) => console.log('dead', e.status));
      console.log('done');
    })();`;

  it('the process exits on its own, closed clients and forgotten ones alike', () => {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30000, env: process.env });
    assert.equal(r.signal, null, `killed after ${Date.now() - t0} ms: the process hung\n${r.stdout}${r.stderr}`);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^answered true$/m);
    assert.match(r.stdout, /^after close client_closed$/m);
    assert.match(r.stdout, /^dead -14$/m);
    assert.match(r.stdout, /^done$/m);
  });
});
