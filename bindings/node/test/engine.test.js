'use strict';
// The engine through the binding: the seed flow of issue 4 on memory,
// SQLite and a JS storage, replay, operator actions, errors, lifetime.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const constra = require('..');
const { Client, ConstraError, DictStorage, featureEnabled } = constra;
const { SEED, SEED_KEY, SECRET, TIMELINE, createSeed } = require('./helpers');

function seedFlow(c) {
  const created = createSeed(c);
  assert.equal(created.status, 'pending_user_action');
  assert.equal(created.next_action, 'wait_for_callback');
  assert.equal(created.provider_action.type, 'stk_push');
  assert.equal(created.provider_action.state, 'sent_to_customer');
  assert.match(created.provider_action.checkout_request_id, /^ws_CO_/);
  assert.deepEqual(created.customer, { name: 'Amina N.', phone_number: '254700000000' });
  assert.equal(created.replayed, false);
  const cancelled = c.simulate(created.id, 1032, 'Request cancelled by user.');
  assert.equal(cancelled.status, 'requires_recovery');
  assert.equal(cancelled.recovery.recommended_action, 'retry');
  assert.equal(cancelled.recovery.retry_allowed, true);
  assert.equal(cancelled.recovery.attempts_used, 1);
  assert.equal(cancelled.recovery.attempts_left, 2);
  assert.match(cancelled.recovery.agent_note.toLowerCase(), /cancelled/);
  const retried = c.retry(created.id);
  assert.equal(retried.status, 'pending_user_action');
  assert.notEqual(retried.provider_action.checkout_request_id, created.provider_action.checkout_request_id);
  const paid = c.simulate(created.id, '0', 'The service request is processed successfully.');
  assert.equal(paid.status, 'succeeded');
  const timeline = c.events(created.id);
  assert.equal(timeline.object, 'list');
  assert.deepEqual(timeline.data.map((e) => e.type), TIMELINE);
  assert.deepEqual(c.get(created.id), paid);
  return created;
}

test('seed flow on memory storage', () => {
  const c = new Client();
  try { seedFlow(c); } finally { c.close(); }
});

test('seed flow on SQLite storage, durable across handles', () => {
  if (!featureEnabled('sqlite')) {
    // A build without SQLite (the firmware profile) must say so.
    assert.throws(() => new Client({ storage: 'sqlite:/nonexistent/constra.db' }),
      (e) => e instanceof ConstraError && e.code === 'unsupported');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'constra-node-'));
  try {
    const db = path.join(dir, 'constra.db');
    const c = new Client({ storage: 'sqlite:' + db });
    const created = seedFlow(c);
    c.close();
    const again = new Client({ storage: 'sqlite:' + db });
    assert.equal(again.get(created.id).status, 'succeeded');
    assert.equal(again.events(created.id).data.length, 5);
    again.close();
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});

test('seed flow on a JS storage', () => {
  const store = new DictStorage();
  const c = new Client({ storage: store });
  const created = seedFlow(c);
  c.close();
  const { records, events } = store.dump();
  assert.ok(records.some((r) => r.kind === 'intent' && r.id === created.id));
  assert.deepEqual(events.map((e) => e.type), TIMELINE);
  assert.deepEqual(events.map((e) => e.sequence), [1, 2, 3, 4, 5]);
  assert.ok(events.every((e) => e.stream === created.id));
});

test('replay gives the same body; another request under the key is 409', () => {
  const c = new Client();
  const first = createSeed(c);
  const again = createSeed(c);
  assert.equal(again.replayed, true);
  assert.equal(JSON.stringify(again), JSON.stringify(first));
  assert.throws(() => createSeed(c, { amount: 1300 }), (e) => e instanceof ConstraError &&
    e.code === 'idempotency_key_reused' && e.httpStatus === 409);
  assert.equal(c.list().data.length, 1);
  c.close();
});

test('replay byte for byte through the in-process router', () => {
  const c = new Client({ secretKey: SECRET });
  const body = JSON.stringify({ ...SEED, agentPolicy: undefined, agent_policy: 'operator_review' });
  const headers = { Authorization: 'Bearer ' + SECRET, 'Idempotency-Key': SEED_KEY, 'Content-Type': 'application/json' };
  const r1 = c.request('POST', '/v1/payment-intents', headers, body);
  const r2 = c.request('POST', '/v1/payment-intents', headers, Buffer.from(body));
  assert.equal(r1.status, 201, r1.body.toString());
  assert.equal(r2.status, 201);
  assert.ok(r1.body.equals(r2.body));
  assert.equal(r2.header('idempotent-replayed'), 'true');
  assert.deepEqual(r1.json(), c.get(r1.json().id));
  const ev = c.request('GET', `/v1/payment-intents/${r1.json().id}/events`, { Authorization: 'Bearer ' + SECRET });
  assert.deepEqual(ev.json(), c.events(r1.json().id));
  const unauth = c.request('GET', '/v1/payment-intents');
  assert.equal(unauth.status, 401);
  assert.equal(unauth.json().error.code, 'authentication_required');
  c.close();
});

test('errors carry code, httpStatus and param; refused actions change nothing', () => {
  const c = new Client();
  assert.throws(() => c.get('pi_01m84728vssdr2cpnq71nsww6j'),
    (e) => e instanceof ConstraError && e.code === 'resource_missing' && e.httpStatus === 404);
  const created = createSeed(c);
  assert.throws(() => c.retry(created.id), (e) => e.httpStatus === 409 && /pending_user_action/.test(e.message));
  assert.deepEqual(c.get(created.id), created);
  c.close();
});

test('cancel, late success to review, resolve with receipt', () => {
  const c = new Client();
  const created = createSeed(c);
  assert.equal(c.cancel(created.id).status, 'cancelled');
  assert.equal(c.simulate(created.id, 0).status, 'review_required');
  assert.throws(() => c.resolve(created.id, 'succeeded'), (e) => e.param === 'receipt');
  assert.equal(c.resolve(created.id, 'succeeded', { receipt: 'TKR1234567', note: 'checked' }).status, 'succeeded');
  c.close();
});

test('draft then confirm', () => {
  const c = new Client();
  const draft = createSeed(c, { draft: true });
  assert.equal(draft.status, 'draft');
  assert.equal(c.confirm(draft.id).status, 'pending_user_action');
  assert.throws(() => c.confirm(draft.id), (e) => e.httpStatus === 409);
  c.close();
});

test('list filters and cursor paging', () => {
  const c = new Client();
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push(c.create({ amount: 100 + i, phoneNumber: '0712345678', reference: i % 2 ? 'ref_a' : 'ref_b' }, { idempotencyKey: `k${i}` }).id);
  const page = c.list({ limit: 2 });
  assert.deepEqual(page.data.map((x) => x.id), ids.slice().reverse().slice(0, 2));
  assert.equal(page.has_more, true);
  const rest = c.list({ startingAfter: page.data[1].id, limit: 10 });
  assert.deepEqual(rest.data.map((x) => x.id), ids.slice().reverse().slice(2));
  assert.equal(c.list({ reference: 'ref_a' }).data.length, 2);
  assert.equal(c.list({ status: 'pending_user_action' }).data.length, 5);
  c.close();
});

test('magic number outcome arrives by tick; a live Client needs a real rail', () => {
  const c = new Client();
  const made = c.create({ amount: 50, phoneNumber: '254711000003' }, { idempotencyKey: 'magic' });
  c.tick(c.nowMs() + 10000);
  assert.equal(c.get(made.id).status, 'requires_recovery');
  c.close();
  // The local Client has only the simulator: live is refused at open, so
  // magic numbers exist only in sandbox (a live workspace: Client.remote).
  assert.throws(() => new Client({ mode: 'live' }),
    (e) => e.code === 'live_needs_real_rail' && e.param === 'config.rail' && e.httpStatus === 400);
});

test('close is deterministic and idempotent; use after close throws', () => {
  let closed = 0;
  class Store extends DictStorage { close() { closed++; } }
  const c = new Client({ storage: new Store() });
  createSeed(c);
  assert.equal(closed, 0);
  c.close();
  assert.equal(closed, 1);
  c.close();
  assert.equal(closed, 1);
  assert.equal(c.closed, true);
  assert.throws(() => c.list(), (e) => e.code === 'client_closed');
});

test('bad configuration leaves nothing behind', () => {
  assert.throws(() => new Client({ secretKey: 'cs_live_wrong_mode_key_0123' }), (e) => e.param === 'config.secret_key');
  assert.throws(() => new Client({ storage: 'postgres://x' }), (e) => e.param === 'storage');
  assert.throws(() => new Client({ mode: 'production' }), (e) => e.param === 'mode');
  assert.throws(() => new Client({ storage: {} }), (e) => e.param === 'storage');
  assert.throws(() => new Client({ storage: 42 }), (e) => e.param === 'storage');
});

// Metadata: canonical (keys in order, empty values left out), returned by
// create and get, in every event, part of the idempotency request; wrong
// types refused by the binding, bad values by the library, nothing stored.
function metadataChecks(c, prefix) {
  const meta = { till: 'A\u00e9', order_id: '7429', empty: '' };
  const stored = { order_id: '7429', till: 'A\u00e9' };
  const pi = createSeed(c, { metadata: meta }, `${prefix}-meta`);
  assert.deepEqual(pi.metadata, stored);
  assert.deepEqual(Object.keys(pi.metadata), ['order_id', 'till']);
  const again = createSeed(c, { metadata: { empty: '', order_id: '7429', till: 'A\u00e9' } }, `${prefix}-meta`);
  assert.equal(again.id, pi.id);
  assert.equal(again.replayed, true);
  assert.throws(() => createSeed(c, { metadata: { order_id: '7430' } }, `${prefix}-meta`),
    (e) => e instanceof ConstraError && e.code === 'idempotency_key_reused');
  assert.deepEqual(c.get(pi.id).metadata, stored);
  const events = c.events(pi.id).data;
  assert.ok(events.length > 0);
  for (const ev of events) assert.deepEqual(ev.data.metadata, stored, ev.type);
  assert.deepEqual(createSeed(c, {}, `${prefix}-plain`).metadata, {});
  for (const [bad, param] of [[['k'], 'metadata'], ['k=v', 'metadata'], [{ k: 1 }, 'metadata.k'],
    [{ k: null }, 'metadata.k']]) {
    assert.throws(() => createSeed(c, { metadata: bad }, `${prefix}-bad`),
      (e) => e instanceof ConstraError && e.param === param, JSON.stringify(bad));
  }
  const many = {};
  for (let i = 0; i < 51; i++) many[`k${i}`] = 'v';
  for (const [bad, param] of [[{ ['k'.repeat(41)]: 'v' }, 'metadata'], [{ k: 'v'.repeat(501) }, 'metadata.k'],
    [many, 'metadata'], [{ 'a[0]': 'v' }, 'metadata.a[0]'], [{ k: 'a\0b' }, 'metadata'],
    [{ k: '\ud800' }, 'metadata']]) {
    assert.throws(() => createSeed(c, { metadata: bad }, `${prefix}-bad`),
      (e) => e instanceof ConstraError && e.code === 'parameter_invalid' && e.param === param,
      JSON.stringify(bad).slice(0, 40));
  }
  const fresh = createSeed(c, { metadata: { k: 'v' } }, `${prefix}-bad`);
  assert.equal(fresh.replayed, false);
  return fresh;
}

test('metadata on memory', () => {
  const c = new Client();
  try { metadataChecks(c, 'mem'); } finally { c.close(); }
});

test('metadata on SQLite survives a restart', (t) => {
  if (!featureEnabled('sqlite')) { t.skip('no sqlite in this build'); return; }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'constra-meta-'));
  const db = path.join(dir, 'meta.db');
  try {
    let c = new Client({ storage: 'sqlite:' + db });
    let pi;
    try { pi = metadataChecks(c, 'sql'); } finally { c.close(); }
    c = new Client({ storage: 'sqlite:' + db });
    try {
      assert.deepEqual(c.get(pi.id).metadata, { k: 'v' });
      for (const ev of c.events(pi.id).data) assert.deepEqual(ev.data.metadata, { k: 'v' });
    } finally { c.close(); }
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});

// One vocabulary (issue 15 item 6): the codes REST gives for the same faults.
test('unknown create and list parameters are refused as REST refuses them', () => {
  const c = new Client();
  try {
    assert.throws(() => c.create({ amount: 10, phoneNumber: '0712345678', colour: 'red' }, { idempotencyKey: 'u1' }),
      (e) => e instanceof ConstraError && e.code === 'parameter_unknown' && e.param === 'colour' && e.httpStatus === 400);
    // snake_case spellings are not silently dropped either
    assert.throws(() => c.create({ amount: 10, phone_number: '0712345678' }, { idempotencyKey: 'u2' }),
      (e) => e.code === 'parameter_unknown' && e.param === 'phone_number');
    assert.throws(() => c.list({ limt: 2 }), (e) => e.code === 'parameter_unknown' && e.param === 'limt');
    assert.throws(() => c.create({ amount: 10, phoneNumber: '0712345678' }, { idempotency_key: 'u3' }),
      (e) => e.code === 'parameter_unknown' && e.param === 'idempotency_key');
    assert.equal(c.list({}).data.length, 0);
    assert.equal(c.list().object, 'list');
  } finally { c.close(); }
});

test('a malformed id is parameter_invalid from every call', () => {
  const c = new Client();
  try {
    const bad = 'pi_no/such id!';
    for (const call of [() => c.get(bad), () => c.events(bad), () => c.retry(bad), () => c.cancel(bad),
      () => c.webhookEndpoint('we_bad id'), () => c.deleteWebhookEndpoint('we_bad/id'),
      () => c.replayWebhookDelivery('whd_bad id'), () => c.webhookDeliveries({ endpoint: 'we_bad id' })]) {
      assert.throws(call, (e) => e.code === 'parameter_invalid' && e.httpStatus === 400, String(call));
    }
    assert.throws(() => c.webhookEndpoint('we_01m84728vssdr2cpnq71nsww6j'), (e) => e.code === 'resource_missing');
  } finally { c.close(); }
});

test('decodeResult, endpoints and deliveries use the field names of the CLI, Python and REST', () => {
  const r = constra.decodeResult(1032);
  assert.deepEqual(Object.keys(r), ['code', 'api', 'outcome', 'known', 'retry_allowed', 'description',
    'recovery_note', 'recommended_action', 'message_match']);
  assert.equal(r.recommended_action, 'retry');
  assert.equal(r.recommendedAction, 'retry'); // the old name, kept as an alias
  const sent = [];
  const c = new Client({ webhookTransport: { send(q) { sent.push(q); return { status: 500 }; } } });
  try {
    const ep = c.addWebhookEndpoint('http://hooks.test/x');
    assert.equal(ep.created_at, new Date(ep.created_at_ms).toISOString());
    assert.match(ep.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    c.create({ amount: 10, phoneNumber: '0712345678' }, { idempotencyKey: 'v' });
    c.tick();
    const pending = c.webhookDeliveries({ status: 'pending' });
    assert.ok(pending.length > 0);
    assert.equal(pending[0].next_attempt_at, new Date(pending[0].next_attempt_at_ms).toISOString());
  } finally { c.close(); }
});
