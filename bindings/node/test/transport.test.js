'use strict';
// Transports through the C vtable: a JS transport carrying HTTP-shaped
// requests into the in-process REST router, the C loopback from JS, and
// failures classified as not-sent or outcome-unknown.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Client, RouterTransport, Loopback, TransportFailure, sendRequest, ConstraError } = require('..');
const { SEED, SEED_KEY, SECRET } = require('./helpers');

const ORIGIN = 'http://constra.test';
const AUTH = { Authorization: 'Bearer ' + SECRET };
const seedBody = () => JSON.stringify({ ...SEED, agentPolicy: undefined, agent_policy: 'operator_review' });

test('JS transport into the router: the seed flow, replay byte for byte', () => {
  const c = new Client({ secretKey: SECRET });
  const rt = new RouterTransport(c);
  const headers = { ...AUTH, 'Idempotency-Key': SEED_KEY, 'Content-Type': 'application/json' };
  const r1 = sendRequest(rt, 'POST', ORIGIN + '/v1/payment-intents', headers, seedBody());
  assert.equal(r1.status, 201, r1.body.toString());
  const pi = r1.json();
  assert.equal(pi.status, 'pending_user_action');
  const r2 = sendRequest(rt, 'POST', ORIGIN + '/v1/payment-intents', headers, Buffer.from(seedBody()));
  assert.ok(r2.body.equals(r1.body));
  assert.equal(r2.header('Idempotent-Replayed'), 'true');
  const sim = sendRequest(rt, 'POST', `${ORIGIN}/v1/payment-intents/${pi.id}/simulate-callback`,
    { ...AUTH, 'Content-Type': 'application/json' }, '{"result_code":1032,"result_desc":"Request cancelled by user."}');
  assert.equal(sim.json().status, 'requires_recovery');
  const ev = sendRequest(rt, 'GET', `${ORIGIN}/api/v1/payment-intents/${pi.id}/events`, AUTH);
  assert.deepEqual(ev.json(), c.events(pi.id));
  assert.equal(rt.requests, 4);
  assert.equal(sendRequest(rt, 'GET', ORIGIN + '/v1/payment-intents').status, 401);
  c.close();
});

test('a failing JS transport leaves the engine untouched', () => {
  const c = new Client({ secretKey: SECRET });
  const headers = { ...AUTH, 'Idempotency-Key': SEED_KEY, 'Content-Type': 'application/json' };
  const broken = { send() { throw new Error('network is unreachable'); } };
  assert.throws(() => sendRequest(broken, 'POST', ORIGIN + '/v1/payment-intents', headers, seedBody()),
    (e) => e instanceof ConstraError && e.outcomeUnknown && e.code === 'transport_failed' && e.cause.message === 'network is unreachable');
  assert.deepEqual(c.list().data, []);
  assert.equal(sendRequest(new RouterTransport(c), 'POST', ORIGIN + '/v1/payment-intents', headers, seedBody()).status, 201);
  assert.equal(c.list().data.length, 1);
  c.close();
});

test('failures: connect is not-sent, the rest outcome-unknown, the cap holds', () => {
  const via = (fn, opts) => sendRequest({ send: fn }, 'POST', ORIGIN + '/v1/payment-intents', AUTH, '{}', opts);
  assert.throws(() => via(() => { throw new TransportFailure('connect', 'refused'); }),
    (e) => e.status === -14 && e.notSent && e.code === 'transport_connect' && e.cause instanceof TransportFailure);
  assert.throws(() => via(() => { throw new TransportFailure('timeout'); }), (e) => e.status === -15 && e.code === 'transport_timeout');
  const big = () => ({ status: 200, headers: [], body: Buffer.alloc(5000, 120) });
  assert.throws(() => via(big, { maxResponseBytes: 1000 }), (e) => e.code === 'response_too_large' && e.outcomeUnknown);
  assert.equal(via(big, { maxResponseBytes: 5000 }).status, 200);
  for (const bad of [() => null, () => ({ status: 42 }), () => ({ status: '200' }), () => ({ status: 200, body: 12 })]) {
    assert.throws(() => via(bad), (e) => e.status === -15);
  }
  const seen = [];
  const r = via((req) => { seen.push(req); return { status: 204, headers: [['X-Echo', req.method]] }; }, { timeoutMs: 1234 });
  assert.equal(r.status, 204);
  assert.equal(r.header('x-echo'), 'POST');
  assert.equal(seen[0].url, ORIGIN + '/v1/payment-intents');
  assert.equal(seen[0].body.toString(), '{}');
  assert.equal(seen[0].timeoutMs, 1234);
  assert.deepEqual(seen[0].headers, [['Authorization', AUTH.Authorization]]);
});

test('request checks happen before the transport is called', () => {
  let calls = 0;
  const t = { send() { calls++; return { status: 200 }; } };
  assert.throws(() => sendRequest(t, 'GET', ORIGIN + '/v1', { 'X-Evil': 'a\r\nInjected: 1' }), (e) => /value/.test(e.param));
  assert.throws(() => sendRequest(t, 'GET', ORIGIN + '/v1', { 'Bad Name': 'x' }), (e) => /name/.test(e.param));
  assert.throws(() => sendRequest(t, 'GET', 'ftp://constra.test/x'), (e) => e.httpStatus === 400);
  assert.throws(() => sendRequest(t, 'GET', ORIGIN + '/v1', [['only-name']]), (e) => e.param === 'headers');
  assert.throws(() => sendRequest(t, 'GET', ORIGIN + '/v1', {}, 12), (e) => e.param === 'body');
  assert.throws(() => sendRequest(null, 'GET', ORIGIN + '/v1'), (e) => e.param === 'transport');
  assert.equal(calls, 0);
});

test('the router mounted on the C loopback', () => {
  const c = new Client({ secretKey: SECRET });
  const lb = new Loopback();
  lb.mountRouter(ORIGIN, c);
  const headers = { ...AUTH, 'Idempotency-Key': 'lb1', 'Content-Type': 'application/json' };
  const r = sendRequest(lb, 'POST', ORIGIN + '/v1/payment-intents', headers, seedBody());
  assert.equal(r.status, 201);
  assert.equal(c.get(r.json().id).id, r.json().id);
  assert.equal(lb.requestCount, 1);
  assert.throws(() => sendRequest(lb, 'GET', 'http://elsewhere.test/v1/payment-intents', AUTH), (e) => e.code === 'transport_connect');
  assert.equal(lb.requestCount, 2);
  lb.close();
  lb.close();
  assert.throws(() => sendRequest(lb, 'GET', ORIGIN + '/v1'), (e) => e.code === 'loopback_closed');
  c.close();
});

test('10,000 transport round trips register and release their callbacks', () => {
  const c = new Client({ secretKey: SECRET });
  const rt = new RouterTransport(c);
  for (let i = 0; i < 10000; i++) assert.equal(sendRequest(rt, 'GET', ORIGIN + '/v1/payment-intents?limit=1', AUTH).status, 200);
  c.close();
});
