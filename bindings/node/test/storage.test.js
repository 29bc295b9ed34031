'use strict';
// Storages written in JS behind the C vtable: a storage that throws on its
// N-th call (for every N), bad input, misbehaving storages.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Client, DictStorage, ConstraError } = require('..');
const { SEED, TIMELINE, createSeed } = require('./helpers');

class Injected extends Error {}
const METHODS = ['commit', 'getIntent', 'findByCheckout', 'listIntents', 'listEvents',
  'idempotencyReserve', 'idempotencyComplete', 'idempotencyRelease', 'purgeExpired'];

// Fails the failAt-th call of any method; remembers the state just before.
class FaultStorage extends DictStorage {
  constructor() {
    super();
    this.calls = 0; this.failAt = 0; this.failures = 0; this.stateAtFailure = null;
    for (const m of METHODS) {
      const inner = this[m].bind(this);
      this[m] = (...args) => {
        this.calls++;
        if (this.calls === this.failAt) {
          this.failures++;
          this.stateAtFailure = this.snapshot();
          throw new Injected(`injected at call ${this.calls} (${m})`);
        }
        return inner(...args);
      };
    }
  }
  snapshot() {
    return { intents: structuredClone([...this.intents]), events: structuredClone(this.events),
      idem: [...this.idempotency.keys()] };
  }
}

const isStorageError = (e) => e instanceof ConstraError && e.status === -13 && e.cause instanceof Injected;

test('a throwing storage gives a storage error with the cause, state untouched', () => {
  const store = new FaultStorage();
  const c = new Client({ storage: store });
  const created = createSeed(c);
  const before = store.snapshot();
  store.failAt = store.calls + 1;
  assert.throws(() => c.simulate(created.id, 1032), isStorageError);
  assert.deepEqual(store.snapshot(), before);
  store.failAt = 0;
  assert.equal(c.get(created.id).status, 'pending_user_action');
  assert.equal(c.simulate(created.id, 1032).status, 'requires_recovery');
  c.close();
});

test('fault at every storage call of the lifecycle', () => {
  let clean = 0, sending = 0;
  for (let n = 1; n < 80; n++) {
    const store = new FaultStorage();
    store.failAt = n;
    const c = new Client({ storage: store });
    const untouched = () => {
      const now = store.snapshot();
      assert.deepEqual(now.intents, store.stateAtFailure.intents, `n=${n}`);
      assert.deepEqual(now.events, store.stateAtFailure.events, `n=${n}`);
      assert.ok(now.idem.every((k) => store.stateAtFailure.idem.includes(k)), `n=${n}`);
    };
    let id = null;
    try { id = createSeed(c).id; } catch (e) {
      assert.ok(isStorageError(e), `n=${n}: ${e}`);
      untouched();
      store.failAt = 0;
      try { id = createSeed(c).id; } catch (e2) { assert.equal(e2.code, 'idempotent_request_in_flight', `n=${n}`); }
    }
    if (id) {
      for (const step of [() => c.simulate(id, 1032), () => c.retry(id), () => c.simulate(id, 0)]) {
        try { step(); } catch (e) {
          if (e.status === -13) { assert.ok(isStorageError(e), `n=${n}`); untouched(); }
          else assert.equal(e.httpStatus, 409, `n=${n}: ${e}`);
        }
      }
    }
    if (!store.failures) clean++;
    store.failAt = 0;
    assert.ok(store.intents.size <= 1, `n=${n}`);
    for (const rec of store.intents.values()) {
      const types = store.events.filter((e) => e.intentId === rec.id).map((e) => e.type);
      assert.deepEqual(types.slice(0, 2), TIMELINE.slice(0, Math.min(2, types.length)), `n=${n}`);
      const got = c.get(rec.id);
      const last = types.filter((t) => !t.endsWith('callback_duplicate')).at(-1);
      if (got.provider_action.state === 'sending') sending++;
      if (last === 'payment_intent.created') {
        assert.deepEqual([rec.status, got.provider_action.state], ['pending_user_action', 'sending'], `n=${n}`);
      } else assert.equal(last.split('.')[1], rec.status, `n=${n}`);
    }
    c.close();
  }
  assert.ok(clean > 0, 'the sweep never got past the last storage call');
  assert.ok(sending > 0, 'no fault hit between the sending and outcome commits');
});

test('workspace metadata: mode and id recorded on first open, the other mode refused', () => {
  const store = new DictStorage();
  const c = new Client({ storage: store });
  createSeed(c);
  c.close();
  assert.equal(store.meta.get('mode'), 'sandbox');
  const ws = store.meta.get('workspace_id');
  assert.match(ws, /^ws_[0-9a-z]{26}$/);
  new Client({ storage: store }).close();
  assert.equal(store.meta.get('workspace_id'), ws); // kept, not remade
  store.meta.set('mode', 'live'); // as a live workspace would have left it
  const before = JSON.stringify([[...store.intents.keys()], store.events.length, [...store.meta]]);
  assert.throws(() => new Client({ storage: store }),
    (e) => e.code === 'workspace_mode_mismatch' && e.param === 'config.mode' && e.httpStatus === 409 &&
      /live data/.test(e.message));
  assert.equal(JSON.stringify([[...store.intents.keys()], store.events.length, [...store.meta]]), before);
});

test('workspace metadata: half a pair refused, none means unchecked, failures are storage errors', () => {
  class GetOnly extends DictStorage {}
  GetOnly.prototype.metaPutIfAbsent = undefined;
  assert.throws(() => new Client({ storage: new GetOnly() }), (e) => e.param === 'storage.meta_put_if_absent');
  class Plain extends DictStorage {}
  Plain.prototype.metaGet = undefined;
  Plain.prototype.metaPutIfAbsent = undefined;
  const plain = new Plain();
  const c = new Client({ storage: plain });
  createSeed(c);
  c.close();
  assert.equal(plain.meta.size, 0);
  class Failing extends DictStorage { metaGet() { throw new Error('disk gone'); } }
  assert.throws(() => new Client({ storage: new Failing() }), (e) => e.status === -13 && e.param === 'config.storage');
  class Liar extends DictStorage { metaGet() { return 42; } }
  assert.throws(() => new Client({ storage: new Liar() }), (e) => e.status === -13);
});

test('a storage returning the wrong shape is a storage error', () => {
  class Liar extends DictStorage { getIntent(id) { return { id }; } }
  const c = new Client({ storage: new Liar() });
  const made = createSeed(c);
  assert.throws(() => c.get(made.id), (e) => e.status === -13 && e.cause instanceof TypeError);
  c.close();
});

test('bad input: wrong types, null/undefined, huge strings, NUL', () => {
  const store = new DictStorage();
  const c = new Client({ storage: store });
  createSeed(c);
  const state = () => JSON.stringify([[...store.intents.keys()], store.events.length, [...store.idempotency.keys()]]);
  const before = state();
  const refused = (fn, param) => assert.throws(fn, (e) => e instanceof ConstraError && e.httpStatus === 400 &&
    (param === undefined || e.param === param), `param ${param}`);
  const mk = (over, key = 'k2') => () => c.create({ ...SEED, ...over }, { idempotencyKey: key });
  for (const amount of [12.5, '1250', null, undefined, true, [1250], 1e30, NaN, Infinity]) refused(mk({ amount }), 'amount');
  for (const amount of [0, -1, 250001, 2n ** 63n - 1n, -(2n ** 63n)]) refused(mk({ amount }), 'amount');
  refused(mk({ currency: 840 }), 'currency');
  refused(mk({ currency: 'kes' }), 'currency');
  refused(mk({ currency: null }), 'currency');
  refused(mk({ reference: Buffer.from('x') }), 'reference');
  refused(mk({ reference: 'order\0evil' }), 'reference');
  refused(mk({ reference: 'x'.repeat(1000000) }), 'reference');
  refused(mk({ description: 'lone \udc80' }), 'description');
  refused(mk({ customer: 'Amina' }), 'customer');
  refused(mk({ customer: { name: 'A' } }), 'customer.phone_number');
  refused(mk({ customer: { nmae: 'A', phone_number: '0712345678' } }), 'customer.nmae');
  refused(mk({ draft: 'yes' }), 'draft');
  refused(mk({ agentPolicy: 'yolo' }), 'agent_policy');
  refused(mk({}, null), 'idempotency_key');
  refused(mk({}, ''), 'idempotency_key');
  refused(mk({}, 7), 'idempotency_key');
  refused(mk({}, 'k'.repeat(100000)), 'idempotency_key');
  refused(() => c.create(null, { idempotencyKey: 'x' }), 'params');
  refused(() => c.get(undefined), 'id');
  refused(() => c.get(123), 'id');
  refused(() => c.get('not an id'), 'id');
  refused(() => c.get('pi_' + 'x'.repeat(100000)), 'id');
  refused(() => c.list({ limit: '10' }), 'limit');
  refused(() => c.list({ status: 3 }), 'status');
  refused(() => c.list({ status: 'paid' }), 'status');
  refused(() => c.resolve('pi_x', 'maybe'), 'outcome');
  assert.equal(state(), before);
  const uni = c.create({ amount: 10, phoneNumber: '0712345678', description: 'Malipo — €5 ✓', customerName: 'Wanjikũ' }, { idempotencyKey: 'uni' });
  assert.equal(c.get(uni.id).description, 'Malipo — €5 ✓');
  assert.equal(c.get(uni.id).customer.name, 'Wanjikũ');
  c.close();
});

test('router: bad bodies are HTTP answers, wrong JS types throw', () => {
  const key = 'cs_test_bindings_0123456789';
  const c = new Client({ secretKey: key });
  const auth = { Authorization: 'Bearer ' + key, 'Idempotency-Key': 'r1', 'Content-Type': 'application/json' };
  for (const body of ['{', Buffer.from([0xff, 0xfe]), '{"amount":"1250"}', '[]', '{}'.repeat(40000)]) {
    const r = c.request('POST', '/v1/payment-intents', auth, body);
    assert.ok([400, 413].includes(r.status), String(r.status));
    assert.ok(r.json().error);
  }
  assert.deepEqual(c.list().data, []);
  assert.throws(() => c.request('POST', '/v1/payment-intents', auth, { amount: 1 }), (e) => e.param === 'body');
  assert.throws(() => c.request('GET', '/v1/payment-intents', [['a']]), (e) => e.param === 'headers');
  c.close();
});

// The storage contract of idempotency links (storage.h), kept by DictStorage.
test('DictStorage links a key once, never releases a linked key, completes after', () => {
  const { StorageConflict } = require('..');
  const IN_FLIGHT = 1, COMPLETED = 2;
  const rec = (o = {}) => ({ key: 'k', fingerprint: 'fpL', state: IN_FLIGHT, httpStatus: 0,
    response: Buffer.alloc(0), createdAtMs: 100, expiresAtMs: 1000, leaseExpiresAtMs: 1001, ...o });
  const intent = (id, version = 1) => ({ id, status: 'pending_user_action', reference: '',
    checkoutRequestId: '', createdAtMs: 100, updatedAtMs: 100, version, document: Buffer.from('{}') });
  const link = (id) => rec({ response: Buffer.from(`{"id":"${id}"}`) });
  const s = new DictStorage();
  assert.equal(s.idempotencyReserve(rec(), 100), null);
  assert.throws(() => s.commit({ intent: intent('pi_1'), expectedVersion: 0, events: [],
    idempotency: { ...link('pi_1'), fingerprint: 'other' } }), StorageConflict);
  assert.throws(() => s.commit({ intent: intent('pi_1'), expectedVersion: 0, events: [],
    idempotency: rec() }), TypeError);
  assert.equal(s.intents.size, 0);
  s.commit({ intent: intent('pi_1'), expectedVersion: 0, events: [], idempotency: link('pi_1') });
  let held = s.idempotencyReserve(rec(), 101);
  assert.equal(held.state, IN_FLIGHT);
  assert.equal(held.httpStatus, 0);
  assert.equal(held.response.toString(), '{"id":"pi_1"}');
  assert.equal(held.leaseExpiresAtMs, 1001);
  assert.throws(() => s.commit({ intent: intent('pi_2'), expectedVersion: 0, events: [],
    idempotency: link('pi_2') }), StorageConflict);
  assert.equal(s.intents.has('pi_2'), false);
  s.idempotencyRelease('k', 'fpL');
  assert.notEqual(s.idempotencyReserve(rec(), 102), null);
  const done = rec({ state: COMPLETED, httpStatus: 201, response: Buffer.from('{"id":"pi_1"}') });
  s.idempotencyComplete(done);
  held = s.idempotencyReserve(rec(), 103);
  assert.equal(held.state, COMPLETED);
  assert.equal(held.httpStatus, 201);
  assert.throws(() => s.commit({ intent: intent('pi_1', 2), expectedVersion: 1, events: [],
    idempotency: done }), StorageConflict);
  assert.equal(s.intents.get('pi_1').version, 1);
  const s2 = new DictStorage();
  s2.idempotencyReserve(rec(), 100);
  s2.idempotencyRelease('k', 'fpL');
  assert.equal(s2.idempotency.size, 0);
});

test('the engine links the key in its first commit and completes it in the second', () => {
  const seen = [];
  class Watching extends DictStorage {
    commit(w) {
      if (w.idempotency) {
        seen.push([w.intent.version, w.idempotency.state, w.idempotency.httpStatus,
          w.idempotency.response.toString()]);
      }
      super.commit(w);
    }
  }
  const store = new Watching();
  const c = new Client({ storage: store });
  const made = createSeed(c);
  c.close();
  assert.deepEqual(seen[0], [1, 1, 0, `{"id":"${made.id}"}`]);
  assert.deepEqual(seen[1].slice(0, 3), [2, 2, 201]);
  assert.equal(seen.length, 2);
  const rec = [...store.idempotency.values()][0];
  assert.equal(rec.state, 2);
  assert.ok(rec.leaseExpiresAtMs > rec.expiresAtMs);
});
