'use strict';
// Storages written in JS behind the C record store vtable (storage.h,
// 0.3): the payment loop on one, a storage that throws on its N-th call
// (for every N), misbehaving storages, the workspace metadata as records,
// bad input, and a port of tests/storage/record_conformance.c against
// DictStorage.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Client, ConstraError, Storage, DictStorage, StorageConflict, StorageInvalid } = require('..');
const { SEED, TIMELINE, createSeed } = require('./helpers');

class Injected extends Error {}
const METHODS = ['commit', 'get', 'scan', 'events', 'purge'];

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
  // Everything but the idempotency records (a failed create may release
  // its key: they may only go), which are listed by id.
  snapshot() {
    const { records, events } = this.dump();
    const enc = (r) => ({ ...r, document: r.document.toString('base64') });
    return { records: records.filter((r) => r.kind !== 'idempotency').map(enc), events: events.map(enc),
      idem: records.filter((r) => r.kind === 'idempotency').map((r) => r.id) };
  }
  of(kind) { return this.dump().records.filter((r) => r.kind === kind); }
}

const isStorageError = (e) => e instanceof ConstraError && e.status === -13 && e.cause instanceof Injected;

test('the payment loop on a JS storage: create, callback, retry, tick, list, events, replay', () => {
  const store = new DictStorage();
  const c = new Client({ storage: store, callbackTimeoutMs: 60000 });
  const made = createSeed(c);
  assert.equal(made.status, 'pending_user_action');
  assert.equal(c.simulate(made.id, 1032).status, 'requires_recovery');
  assert.equal(c.retry(made.id).status, 'pending_user_action');
  c.tick(); // nothing due yet
  assert.equal(c.get(made.id).status, 'pending_user_action');
  assert.equal(c.simulate(made.id, 0).status, 'succeeded');
  assert.equal(createSeed(c).replayed, true);
  const other = c.create({ amount: 10, phoneNumber: '0712345678', reference: 'r2' }, { idempotencyKey: 'k2' });
  assert.deepEqual(c.list().data.map((i) => i.id).sort(), [made.id, other.id].sort());
  assert.deepEqual(c.list({ status: 'succeeded' }).data.map((i) => i.id), [made.id]);
  assert.deepEqual(c.list({ reference: 'r2' }).data.map((i) => i.id), [other.id]);
  assert.deepEqual(c.list({ limit: 1, startingAfter: c.list({ limit: 1 }).data[0].id }).data.length, 1);
  assert.deepEqual(c.events(made.id).data.map((e) => e.type), TIMELINE);
  // A callback timeout found by tick.
  c.tick(Date.now() + 3600000);
  assert.equal(c.get(other.id).status, 'requires_recovery');
  c.close();
  // A second handle on the same store sees everything.
  const again = new Client({ storage: store });
  assert.equal(again.get(made.id).status, 'succeeded');
  assert.equal(again.events(made.id).data.length, 5);
  again.close();
  const kinds = new Set(store.dump().records.map((r) => r.kind));
  for (const k of ['intent', 'idempotency', 'checkout_ref', 'meta']) assert.ok(kinds.has(k), k);
  // Sequences strictly increase across the store.
  const seqs = store.dump().events.map((e) => e.sequence);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  assert.equal(new Set(seqs).size, seqs.length);
});

test('a storage written from the Storage base class, keeping what C lent it', () => {
  // Keeps the commit objects as given: they must be JS copies, not views
  // of C memory that is gone when commit returns.
  const kept = [];
  class Keeping extends Storage {
    constructor() { super(); this.inner = new DictStorage(); }
    commit(commit) { kept.push(commit); this.inner.commit(commit); }
    get(kind, id, nowMs) { return this.inner.get(kind, id, nowMs); }
    scan(q) { return this.inner.scan(q); }
    *events(stream, after, limit) { yield* this.inner.events(stream, after, limit); }
    purge(nowMs, max) { return this.inner.purge(nowMs, max); }
  }
  const c = new Client({ storage: new Keeping() });
  const made = createSeed(c);
  c.simulate(made.id, 0);
  c.close();
  assert.ok(kept.length >= 3);
  const docs = kept.flatMap((k) => k.ops.filter((o) => o.type === 'put' && o.record.kind === 'intent'))
    .map((o) => o.record.document.toString());
  assert.ok(docs.length >= 2);
  for (const d of docs) assert.ok(d.includes(`{"id":"${made.id}"`), d.slice(0, 80));
  assert.ok(kept.flatMap((k) => k.events).every((e) => e.stream === made.id && e.type.startsWith('payment_intent.')));
  // The base class alone throws: a storage error, not a crash.
  assert.throws(() => new Client({ storage: new Storage() }), (e) => e.status === -13 && /not implemented/.test(e.cause.message));
});

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

test('fault at every storage call of the lifecycle: open, create, callback, retry, tick, replay', () => {
  let clean = 0, sending = 0, hitOpen = 0, hitTick = 0, hitReplay = 0;
  for (let n = 1; n < 200; n++) {
    const store = new FaultStorage();
    store.failAt = n;
    const untouched = () => {
      const now = store.snapshot();
      assert.deepEqual(now.records, store.stateAtFailure.records, `n=${n}`);
      assert.deepEqual(now.events, store.stateAtFailure.events, `n=${n}`);
      assert.ok(now.idem.every((k) => store.stateAtFailure.idem.includes(k)), `n=${n}`);
    };
    // A tick is several independent pieces of work (what is due, the
    // sweep, the purge): one failing does not stop the others, so only
    // the other steps must leave everything as the failing call found it;
    // the tick's writes are judged by the invariants below.
    const step = (fn, what) => {
      const failuresBefore = store.failures;
      try { fn(); } catch (e) {
        if (e.status === -13) {
          assert.ok(isStorageError(e), `n=${n} ${what}: ${e}`);
          if (what !== 'tick') untouched();
          return 'fault';
        }
        assert.equal(e.httpStatus, 409, `n=${n} ${what}: ${e}`);
      }
      return store.failures > failuresBefore ? 'absorbed' : 'ok';
    };
    let c = null;
    if (step(() => { c = new Client({ storage: store, callbackTimeoutMs: 60000 }); }, 'open') === 'fault') {
      hitOpen++;
      store.failAt = 0;
      c = new Client({ storage: store, callbackTimeoutMs: 60000 });
    }
    let id = null;
    if (step(() => { id = createSeed(c).id; }, 'create') === 'fault') {
      store.failAt = 0;
      try { id = createSeed(c).id; } catch (e2) { assert.equal(e2.code, 'idempotent_request_in_flight', `n=${n}`); }
    }
    if (id) {
      step(() => c.simulate(id, 1032), 'callback');
      step(() => c.retry(id), 'retry');
      if (step(() => c.tick(Date.now() + 3600000), 'tick') === 'fault') hitTick++;
      step(() => c.simulate(id, 0), 'callback 2');
      const calls = store.calls;
      if (step(() => createSeed(c), 'replay') === 'fault' && store.calls > calls) hitReplay++;
    }
    if (!store.failures) clean++;
    store.failAt = 0;
    // One intent at most, and no rail push beyond one per attempt (each
    // push gets its checkout_ref in the commit that records it).
    const intents = store.of('intent');
    assert.ok(intents.length <= 1, `n=${n}`);
    assert.ok(store.of('checkout_ref').length <= 2, `n=${n}`);
    for (const rec of intents) {
      const types = store.dump().events.filter((e) => e.stream === rec.id).map((e) => e.type);
      assert.deepEqual(types.slice(0, 2), TIMELINE.slice(0, Math.min(2, types.length)), `n=${n}`);
      const got = c.get(rec.id);
      const last = types.filter((t) => !t.endsWith('callback_duplicate')).at(-1);
      if (got.provider_action.state === 'sending') sending++;
      if (last === 'payment_intent.created') {
        assert.deepEqual([got.status, got.provider_action.state], ['pending_user_action', 'sending'], `n=${n}`);
      } else assert.equal(last.split('.')[1], got.status, `n=${n}`);
      assert.equal(types.filter((t) => t === 'payment_intent.created').length, 1, `n=${n}`);
    }
    c.close();
    if (!store.failures) break; // past the last storage call of the lifecycle
  }
  assert.ok(clean > 0, 'the sweep never got past the last storage call');
  assert.ok(sending > 0, 'no fault hit between the sending and outcome commits');
  assert.ok(hitOpen > 0 && hitTick > 0 && hitReplay > 0, `open ${hitOpen} tick ${hitTick} replay ${hitReplay}`);
});

test('workspace metadata: records of kind "meta", mode and id kept, the other mode refused', () => {
  const store = new DictStorage();
  const c = new Client({ storage: store });
  createSeed(c);
  c.close();
  const meta = (id) => store.get('meta', id, 0);
  assert.equal(meta('mode').document.toString(), 'sandbox');
  const ws = meta('workspace_id').document.toString();
  assert.match(ws, /^ws_[0-9a-z]{26}$/);
  new Client({ storage: store }).close();
  assert.equal(meta('workspace_id').document.toString(), ws); // kept, not remade
  assert.equal(meta('workspace_id').version, 1);
  // As a live workspace would have left it.
  const mode = meta('mode');
  store.commit({ nowMs: 0, events: [], ops: [{ type: 'put', expectedVersion: mode.version,
    record: { ...mode, document: Buffer.from('live') } }] });
  const before = JSON.stringify(store.dump());
  assert.throws(() => new Client({ storage: store }),
    (e) => e.code === 'workspace_mode_mismatch' && e.param === 'config.mode' && e.httpStatus === 409 &&
      /live data/.test(e.message));
  assert.equal(JSON.stringify(store.dump()), before);
});

test('workspace metadata: a failing or lying read at open is a storage error', () => {
  class Failing extends DictStorage { get(kind, id, now) { if (kind === 'meta') throw new Error('disk gone'); return super.get(kind, id, now); } }
  assert.throws(() => new Client({ storage: new Failing() }), (e) => e.status === -13 && e.cause.message === 'disk gone');
  class Liar extends DictStorage { get(kind, id, now) { return kind === 'meta' ? { kind, id, version: 1, expiresAtMs: 0, document: 42, keys: [] } : super.get(kind, id, now); } }
  assert.throws(() => new Client({ storage: new Liar() }), (e) => e.status === -13 && e.cause instanceof TypeError);
});

test('misbehaving storages: wrong shapes and types are storage errors, never crashes', () => {
  const cases = {
    'get returns a partial record': { get(kind, id) { return { id }; } },
    'get returns another record': { get(kind, id, now) { const r = DictStorage.prototype.get.call(this, kind, id, now); return r && { ...r, id: id + 'x' }; } },
    'get returns a number': { get() { return 7; } },
    'get returns a string document': { get(kind, id, now) { const r = DictStorage.prototype.get.call(this, kind, id, now); return r && { ...r, document: r.document.toString() }; } },
    'get returns a NUL in an id': { get(kind, id, now) { const r = DictStorage.prototype.get.call(this, kind, id, now); return r && { ...r, keys: [{ index: 'a', value: 'x\0y', unique: false }] }; } },
    'get returns a float version': { get(kind, id, now) { const r = DictStorage.prototype.get.call(this, kind, id, now); return r && { ...r, version: 1.5 }; } },
    'scan returns a number': { scan() { return 42; } },
    'scan yields null': { scan() { return [null]; } },
    'scan yields a row without a value': { scan(q) { return DictStorage.prototype.scan.call(this, q).map((r) => ({ record: r.record })); } },
    'events yields a non-event': { events() { return [{ id: 'evt_1' }]; } },
    'events throws a string': { events() { throw 'nope'; } },
    'purge returns a string': { purge() { return 'three'; } },
    'commit throws': { commit() { throw new RangeError('disk full'); } },
    'commit throws null': { commit() { throw null; } },
  };
  for (const [name, over] of Object.entries(cases)) {
    class Bad extends DictStorage {}
    let armed = false;
    for (const [m, fn] of Object.entries(over)) {
      Bad.prototype[m] = function (...args) { return armed ? fn.apply(this, args) : DictStorage.prototype[m].apply(this, args); };
    }
    const store = new Bad();
    const c = new Client({ storage: store });
    const made = createSeed(c);
    // A tick may purge expired idempotency keys: intents and events only.
    const kept = () => { const d = store.dump(); return JSON.stringify([d.records.filter((r) => r.kind !== 'idempotency'), d.events]); };
    const before = kept();
    armed = true;
    let failed = 0;
    for (const call of [() => c.get(made.id), () => c.list(), () => c.events(made.id), () => c.simulate(made.id, 0),
      () => c.tick(Date.now() + 1e9), () => createSeed(c, {}, 'another')]) {
      try { call(); } catch (e) {
        assert.ok(e instanceof ConstraError, `${name}: ${e}`);
        assert.equal(e.status, -13, `${name}: ${e.code} ${e.message}`);
        failed++;
      }
    }
    assert.ok(failed > 0, `${name}: nothing failed`);
    if (name.startsWith('commit')) assert.equal(kept(), before, name);
    armed = false;
    assert.equal(c.get(made.id).id, made.id, name);
    c.close();
  }
  // Not a storage at all: refused at open, naming what is missing.
  assert.throws(() => new Client({ storage: { commit() {}, get() {} } }), (e) => e.param === 'storage' && /scan/.test(e.message));
});

test('bad input: wrong types, null/undefined, huge strings, NUL', () => {
  const store = new DictStorage();
  const c = new Client({ storage: store });
  createSeed(c);
  const state = () => JSON.stringify(store.dump());
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
  // Text beyond ASCII goes through the store's indexes as UTF-8.
  const uni = c.create({ amount: 10, phoneNumber: '0712345678', description: 'Malipo — €5 ✓', customerName: 'Wanjikũ',
    reference: 'agizo-ñ-😀' }, { idempotencyKey: 'uni' });
  assert.equal(c.get(uni.id).description, 'Malipo — €5 ✓');
  assert.equal(c.get(uni.id).customer.name, 'Wanjikũ');
  assert.deepEqual(c.list({ reference: 'agizo-ñ-😀' }).data.map((i) => i.id), [uni.id]);
  c.close();
});

test('router: bad bodies are HTTP answers, wrong JS types throw', () => {
  const key = 'cs_test_bindings_0123456789';
  const c = new Client({ secretKey: key, storage: new DictStorage() });
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

// ---- tests/storage/record_conformance.c, in JS, against DictStorage ---------

const NOW = 1764239894625;
const doc = (s) => Buffer.from(s);
const rec = (kind, id, document = '', keys = [], expiresAtMs = 0) =>
  ({ kind, id, version: 0, expiresAtMs, document: doc(document), keys });
const key = (index, value, unique = false) => ({ index, value, unique });
const put = (s, r, expectedVersion, nowMs = NOW) => s.commit({ nowMs, ops: [{ type: 'put', record: r, expectedVersion }], events: [] });
const del = (s, kind, id, expectedVersion) => s.commit({ nowMs: NOW, ops: [{ type: 'delete', record: { kind, id }, expectedVersion }], events: [] });
const ev = (stream, id, expiresAtMs = 0) => ({ sequence: 0, stream, id, type: 'thing.happened', createdAtMs: NOW, expiresAtMs, document: doc('{"e":1}') });
const conflict = (failedOp) => (e) => e instanceof StorageConflict && (failedOp === undefined || e.failedOp === failedOp);
const invalid = (e) => e instanceof StorageInvalid;
const q = (kind, index, over = {}) => ({ kind, index, from: null, to: null, prefix: null, afterValue: null, afterId: null,
  descending: false, limit: 100, nowMs: NOW, ...over });
const rows = (s, kind, index, over) => s.scan(q(kind, index, over)).map((r) => `${r.value}/${r.record.id}`).join(' ');
function paged(s, kind, index, descending, page) {
  const all = [];
  let after = {};
  for (;;) {
    const got = s.scan(q(kind, index, { descending, limit: page, ...after }));
    all.push(...got.map((r) => `${r.value}/${r.record.id}`));
    if (got.length < page) break;
    after = { afterValue: got.at(-1).value, afterId: got.at(-1).record.id };
  }
  return all.join(' ');
}

test('conformance: put/get round trip, kinds are namespaces, documents are bytes', () => {
  const s = new DictStorage();
  put(s, rec('intent', 'pi_1', '{"a":1}', [key('reference', 'order-7429'), key('checkout', 'ws_CO_1', true)]), 0);
  const g = s.get('intent', 'pi_1', NOW);
  assert.deepEqual([g.version, g.expiresAtMs, g.document.toString()], [1, 0, '{"a":1}']);
  assert.deepEqual(g.keys, [key('reference', 'order-7429'), key('checkout', 'ws_CO_1', true)]);
  for (const [k, id] of [['payout', 'pi_1'], ['intent', 'pi_'], ['intent', 'pi_10']]) assert.equal(s.get(k, id, NOW), null);
  put(s, rec('payout', 'pi_1', 'other'), 0);
  assert.equal(s.get('payout', 'pi_1', NOW).document.length, 5);
  const bin = Buffer.from([0x61, 0, 0x62, 0xff, 0]);
  put(s, { ...rec('blob', 'b1'), document: bin }, 0);
  assert.deepEqual(s.get('blob', 'b1', NOW).document, bin);
  const big = Buffer.alloc(1024 * 1024, 7);
  put(s, { ...rec('blob', 'big'), document: big }, 0);
  assert.ok(s.get('blob', 'big', NOW).document.equals(big));
  // Copies both ways: changing what was given or returned changes nothing stored.
  bin[0] = 0x7a;
  s.get('blob', 'b1', NOW).document[1] = 9;
  assert.equal(s.get('blob', 'b1', NOW).document[0], 0x61);
  assert.equal(s.get('blob', 'b1', NOW).document[1], 0);
});

test('conformance: compare-and-set, delete, assert', () => {
  const s = new DictStorage();
  put(s, rec('intent', 'pi_1', 'v1'), 0);
  assert.throws(() => put(s, rec('intent', 'pi_1', 'again'), 0), conflict(0));
  put(s, rec('intent', 'pi_1', 'v2'), 1);
  assert.throws(() => put(s, rec('intent', 'pi_1', 'stale'), 1), conflict(0));
  assert.throws(() => put(s, rec('intent', 'pi_1', 'future'), 3), conflict(0));
  assert.deepEqual([s.get('intent', 'pi_1', NOW).version, s.get('intent', 'pi_1', NOW).document.toString()], [2, 'v2']);
  assert.throws(() => put(s, rec('intent', 'pi_none', 'x'), 4), conflict(0));
  assert.equal(s.get('intent', 'pi_none', NOW), null);
  assert.throws(() => del(s, 'intent', 'pi_1', 1), conflict(0));
  del(s, 'intent', 'pi_1', 2);
  assert.equal(s.get('intent', 'pi_1', NOW), null);
  assert.throws(() => del(s, 'intent', 'pi_1', 2), conflict(0));
  put(s, rec('intent', 'pi_1', "v1'"), 0);
  assert.equal(s.get('intent', 'pi_1', NOW).version, 1); // starts over
  const ops = (v) => [{ type: 'assert', record: { kind: 'intent', id: 'pi_1' }, expectedVersion: v },
    { type: 'put', record: rec('intent', 'pi_2', 'w'), expectedVersion: 0 }];
  assert.throws(() => s.commit({ nowMs: NOW, ops: ops(2), events: [] }), conflict(0));
  assert.equal(s.get('intent', 'pi_2', NOW), null);
  s.commit({ nowMs: NOW, ops: ops(1), events: [] });
  assert.equal(s.get('intent', 'pi_1', NOW).version, 1); // assert wrote nothing
  assert.ok(s.get('intent', 'pi_2', NOW));
  s.commit({ nowMs: NOW, ops: [{ type: 'assert', record: { kind: 'intent', id: 'pi_3' }, expectedVersion: 0 }], events: [] });
  assert.throws(() => s.commit({ nowMs: NOW, ops: [{ type: 'assert', record: { kind: 'intent', id: 'pi_1' }, expectedVersion: 0 }], events: [] }), conflict(0));
});

test('conformance: a commit is atomic and judged in order', () => {
  const s = new DictStorage();
  put(s, rec('intent', 'pi_b', 'b1'), 0);
  const two = (vb) => ({ nowMs: NOW, ops: [{ type: 'put', record: rec('intent', 'pi_a', 'a1'), expectedVersion: 0 },
    { type: 'put', record: rec('intent', 'pi_b', 'b2'), expectedVersion: vb }], events: [ev('pi_a', 'evt_1'), ev('pi_b', 'evt_2')] });
  assert.throws(() => s.commit(two(5)), conflict(1));
  assert.equal(s.get('intent', 'pi_a', NOW), null);
  assert.equal(s.get('intent', 'pi_b', NOW).version, 1);
  assert.equal(s.events(null, 0, 100).length, 0);
  s.commit(two(1));
  assert.equal(s.get('intent', 'pi_b', NOW).version, 2);
  assert.equal(s.events(null, 0, 100).length, 2);
  // The same record twice: the second sees the first.
  s.commit({ nowMs: NOW, events: [], ops: [{ type: 'put', record: rec('intent', 'pi_c', 'c1'), expectedVersion: 0 },
    { type: 'put', record: rec('intent', 'pi_c', 'c2'), expectedVersion: 1 }] });
  assert.deepEqual([s.get('intent', 'pi_c', NOW).version, s.get('intent', 'pi_c', NOW).document.toString()], [2, 'c2']);
  // Delete then insert again: a fresh record.
  s.commit({ nowMs: NOW, events: [], ops: [{ type: 'delete', record: { kind: 'intent', id: 'pi_c' }, expectedVersion: 2 },
    { type: 'put', record: rec('intent', 'pi_c', 'c1'), expectedVersion: 0 }] });
  assert.deepEqual([s.get('intent', 'pi_c', NOW).version, s.get('intent', 'pi_c', NOW).document.toString()], [1, 'c1']);
  assert.throws(() => s.commit({ nowMs: NOW, events: [], ops: [{ type: 'put', record: rec('intent', 'pi_a', 'x'), expectedVersion: 1 },
    { type: 'put', record: rec('intent', 'pi_a', 'y'), expectedVersion: 1 }] }), conflict(1));
  assert.equal(s.get('intent', 'pi_a', NOW).version, 1);
});

test('conformance: unique keys among live records of a kind', () => {
  const s = new DictStorage();
  const uref = key('checkout', 'ws_CO_1', true), other = key('checkout', 'ws_CO_2', true);
  put(s, rec('intent', 'pi_a', 'a', [uref]), 0);
  assert.throws(() => put(s, rec('intent', 'pi_b', 'b', [uref]), 0), conflict(0));
  assert.throws(() => put(s, rec('intent', 'pi_b', 'b', [key('checkout', 'ws_CO_1')]), 0), conflict(0));
  put(s, rec('payout', 'po_b', 'b', [uref]), 0); // another kind
  put(s, rec('intent', 'pi_b', 'b', [key('receipt', 'ws_CO_1', true)]), 0); // another index
  put(s, rec('intent', 'pi_c', 'c', [other]), 0);
  put(s, rec('intent', 'pi_a', 'a2', [uref]), 1); // the holder keeps it
  put(s, rec('intent', 'pi_r1', '', [key('reference', 'order-1')]), 0);
  put(s, rec('intent', 'pi_r2', '', [key('reference', 'order-1')]), 0);
  assert.throws(() => put(s, rec('intent', 'pi_r3', '', [key('reference', 'order-1', true)]), 0), conflict(0));
  const a3 = { type: 'put', record: rec('intent', 'pi_a', 'a3'), expectedVersion: 2 };
  const d = { type: 'put', record: rec('intent', 'pi_d', 'd', [uref]), expectedVersion: 0 };
  assert.throws(() => s.commit({ nowMs: NOW, ops: [d, a3], events: [] }), conflict(0));
  s.commit({ nowMs: NOW, ops: [a3, d], events: [] }); // released, then taken
  assert.ok(s.get('intent', 'pi_d', NOW));
  const ko = key('checkout', 'ws_CO_9', true);
  assert.throws(() => s.commit({ nowMs: NOW, events: [], ops: [{ type: 'put', record: rec('intent', 'pi_e1', '', [ko]), expectedVersion: 0 },
    { type: 'put', record: rec('intent', 'pi_e2', '', [ko]), expectedVersion: 0 }] }), conflict(1));
  assert.equal(s.get('intent', 'pi_e1', NOW), null);
  assert.throws(() => put(s, rec('intent', 'pi_f', '', [other]), 0), conflict(0));
  del(s, 'intent', 'pi_c', 1);
  put(s, rec('intent', 'pi_f', '', [other]), 0);
});

test('conformance: expiry: dead records are invisible, replaceable, their keys free', () => {
  const s = new DictStorage();
  const k = key('key', 'idem-1', true);
  put(s, rec('idempotency', 'idem-1', 'held', [k], NOW + 1000), 0);
  assert.equal(s.get('idempotency', 'idem-1', NOW + 999).expiresAtMs, NOW + 1000);
  assert.equal(s.get('idempotency', 'idem-1', NOW + 1000), null);
  assert.throws(() => put(s, rec('idempotency', 'idem-1', 'x'), 0, NOW + 999), conflict(0));
  assert.throws(() => put(s, rec('idempotency', 'other', 'x', [k]), 0, NOW + 999), conflict(0));
  assert.throws(() => put(s, rec('idempotency', 'idem-1', 'late'), 1, NOW + 1000), conflict(0));
  put(s, rec('idempotency', 'other', 'x', [k]), 0, NOW + 1000);
  put(s, rec('idempotency', 'idem-1', 'fresh', [], NOW + 5000), 0, NOW + 1000);
  const g = s.get('idempotency', 'idem-1', NOW + 1000);
  assert.deepEqual([g.version, g.document.toString()], [1, 'fresh']);
  assert.equal(rows(s, 'idempotency', '', { nowMs: NOW + 5000, limit: 10 }), 'other/other');
});

test('conformance: purge is bounded, events expire, a purged id is free again', () => {
  const s = new DictStorage();
  for (let i = 0; i < 10; i++) put(s, rec('idempotency', `k0${i}`, 'x', [], NOW + 10 + i), 0);
  put(s, rec('idempotency', 'forever', 'x'), 0);
  s.commit({ nowMs: NOW, ops: [], events: [ev('', 'evt_u1', NOW + 5), ev('', 'evt_u2', NOW + 50), ev('pi_1', 'evt_k')] });
  assert.equal(s.purge(NOW + 9, 100), 1); // evt_u1 only
  assert.equal(s.events(null, 0, 10).length, 2);
  let total = 0;
  for (let round = 0; round < 10; round++) {
    const n = s.purge(NOW + 100, 3);
    assert.ok(n <= 6);
    total += n;
    if (n === 0) break;
  }
  assert.equal(total, 11);
  assert.ok(s.get('idempotency', 'forever', NOW + 100));
  assert.deepEqual(s.events(null, 0, 10).map((e) => e.id), ['evt_k']);
  put(s, rec('idempotency', 'k00', 'y'), 0, NOW);
  // Sequences never go back, even when the newest events were purged.
  s.commit({ nowMs: NOW, ops: [], events: [ev('', 'evt_after')] });
  assert.equal(s.events(null, 0, 10).at(-1).sequence, 4);
});

function fillForScans(s) {
  for (let i = 0; i < 25; i++) {
    const id = `pi_${String(i).padStart(2, '0')}`;
    const sc = `${i % 3 === 0 ? 'succeeded' : 'pending'}|${String(1000 + i).padStart(13, '0')}`;
    const keys = [key('status_created', sc), key('reference', i < 20 ? 'same' : id)];
    if (i === 3) keys.push(key('checkout', 'ws_CO_3b', true));
    put(s, rec('intent', id, 'd', keys), 0);
  }
  put(s, rec('intent', 'pi_03', 'd', [key('checkout', 'ws_CO_3a', true), key('checkout', 'ws_CO_3b', true),
    key('status_created', 'succeeded|0000000001003'), key('reference', 'same')]), 1);
  put(s, rec('payout', 'po_1', 'd'), 0);
}

test('conformance: scans over ids: ranges, prefix, both directions, cursors, limits', () => {
  const s = new DictStorage();
  fillForScans(s);
  assert.equal(rows(s, 'intent', '', { limit: 3 }), 'pi_00/pi_00 pi_01/pi_01 pi_02/pi_02');
  assert.equal(rows(s, 'intent', '', { descending: true, limit: 2 }), 'pi_24/pi_24 pi_23/pi_23');
  assert.equal(rows(s, 'intent', '', { from: 'pi_10', to: 'pi_13' }), 'pi_10/pi_10 pi_11/pi_11 pi_12/pi_12');
  assert.equal(rows(s, 'intent', '', { from: 'pi_10', to: 'pi_13', descending: true }), 'pi_12/pi_12 pi_11/pi_11 pi_10/pi_10');
  assert.equal(rows(s, 'intent', '', { prefix: 'pi_2' }), 'pi_20/pi_20 pi_21/pi_21 pi_22/pi_22 pi_23/pi_23 pi_24/pi_24');
  assert.equal(rows(s, 'payout', ''), 'po_1/po_1');
  assert.equal(rows(s, 'refund', ''), '');
  assert.equal(rows(s, 'intent', '', { from: 'pi_13', to: 'pi_10' }), '');
  const up = paged(s, 'intent', '', false, 7), down = paged(s, 'intent', '', true, 4);
  assert.equal(up.split(' ').length, 25);
  assert.equal(up, rows(s, 'intent', ''));
  assert.equal(down, rows(s, 'intent', '', { descending: true }));
  assert.equal(rows(s, 'intent', '', { afterValue: 'pi_22', afterId: 'pi_22' }), 'pi_23/pi_23 pi_24/pi_24');
  assert.equal(rows(s, 'intent', '', { afterValue: 'pi_02', afterId: 'pi_02', descending: true }), 'pi_01/pi_01 pi_00/pi_00');
});

test('conformance: scans over a secondary index: ties by id, ordered keys, one row per entry', () => {
  const s = new DictStorage();
  fillForScans(s);
  assert.equal(rows(s, 'intent', 'reference', { from: 'same', prefix: 'same', limit: 3 }), 'same/pi_00 same/pi_01 same/pi_02');
  assert.equal(rows(s, 'intent', 'reference', { prefix: 'same', descending: true, limit: 2 }), 'same/pi_19 same/pi_18');
  assert.equal(paged(s, 'intent', 'reference', false, 3), rows(s, 'intent', 'reference'));
  assert.equal(paged(s, 'intent', 'reference', true, 6), rows(s, 'intent', 'reference', { descending: true }));
  assert.equal(paged(s, 'intent', 'reference', false, 3).split(' ').length, 25);
  assert.equal(rows(s, 'intent', 'status_created', { prefix: 'pending|', descending: true, limit: 2 }),
    'pending|0000000001023/pi_23 pending|0000000001022/pi_22');
  assert.equal(s.scan(q('intent', 'status_created', { prefix: 'succeeded|' })).length, 9);
  assert.equal(rows(s, 'intent', 'status_created', { from: 'succeeded|0000000001003', to: 'succeeded|0000000001010' }),
    'succeeded|0000000001003/pi_03 succeeded|0000000001006/pi_06 succeeded|0000000001009/pi_09');
  assert.equal(rows(s, 'intent', 'checkout'), 'ws_CO_3a/pi_03 ws_CO_3b/pi_03');
  assert.equal(rows(s, 'intent', 'checkout', { from: 'ws_CO_3b' }), 'ws_CO_3b/pi_03');
  assert.equal(rows(s, 'intent', 'nothing'), '');
  assert.equal(rows(s, 'payout', 'reference'), '');
  put(s, rec('intent', 'pi_00', 'd', [key('reference', 'moved')]), 1);
  assert.equal(rows(s, 'intent', 'reference', { prefix: 'same', limit: 1 }), 'same/pi_01');
  assert.equal(s.scan(q('intent', 'status_created', { prefix: 'succeeded|' })).length, 8);
  assert.equal(rows(s, 'intent', 'reference', { prefix: 'moved' }), 'moved/pi_00');
});

test('conformance: values order as UTF-8 bytes, a prefix first (not as JS strings)', () => {
  const s = new DictStorage();
  // U+FFFF sorts after U+10000 as UTF-16 code units, before it as UTF-8.
  const values = ['b', 'a\u0001', 'a', 'é', 'a\u{10000}', 'a\uffff', 'ab', ''];
  values.forEach((v, i) => put(s, rec('thing', `r${i}`, '', [key('v', v)]), 0));
  assert.equal(rows(s, 'thing', 'v'), '/r7 a/r2 a\u0001/r1 ab/r6 a\uffff/r5 a\u{10000}/r4 b/r0 é/r3');
  assert.equal(rows(s, 'thing', 'v', { prefix: 'a\uffff' }), 'a\uffff/r5');
  assert.equal(rows(s, 'thing', 'v', { prefix: 'a', descending: true, limit: 3 }), 'a\u{10000}/r4 a\uffff/r5 ab/r6');
  assert.equal(rows(s, 'thing', 'v', { from: 'a\u0001', to: 'ab' }), 'a\u0001/r1');
  assert.equal(paged(s, 'thing', 'v', true, 3), rows(s, 'thing', 'v', { descending: true }));
});

test('conformance: events by sequence, per stream or all, cursors, duplicate ids', () => {
  const s = new DictStorage();
  s.commit({ nowMs: NOW, ops: [{ type: 'put', record: rec('intent', 'pi_1', 'd'), expectedVersion: 0 }], events: [ev('pi_1', 'evt_1'), ev('pi_1', 'evt_2')] });
  s.commit({ nowMs: NOW, ops: [], events: [ev('pi_2', 'evt_3'), ev('', 'evt_4')] });
  s.commit({ nowMs: NOW, ops: [{ type: 'put', record: rec('intent', 'pi_1', 'd'), expectedVersion: 1 }], events: [ev('pi_1', 'evt_5')] });
  const all = s.events(null, 0, 100);
  assert.deepEqual(all.map((e) => e.id), ['evt_1', 'evt_2', 'evt_3', 'evt_4', 'evt_5']);
  assert.ok(all.every((e, i) => i === 0 || e.sequence > all[i - 1].sequence));
  assert.deepEqual(s.events('pi_1', 0, 100).map((e) => e.id), ['evt_1', 'evt_2', 'evt_5']);
  assert.deepEqual(s.events('', 0, 100).map((e) => e.id), ['evt_4']);
  assert.equal(s.events('pi_9', 0, 100).length, 0);
  assert.deepEqual(s.events(null, all[1].sequence, 2).map((e) => e.id), ['evt_3', 'evt_4']);
  assert.deepEqual(s.events('pi_1', all[1].sequence, 10).map((e) => e.id), ['evt_5']);
  assert.equal(s.events(null, all[4].sequence, 10).length, 0);
  assert.throws(() => s.commit({ nowMs: NOW, ops: [{ type: 'put', record: rec('intent', 'pi_new', 'd'), expectedVersion: 0 }],
    events: [ev('pi_new', 'evt_2')] }), conflict(1));
  assert.equal(s.get('intent', 'pi_new', NOW), null);
  assert.equal(s.events(null, 0, 100).length, 5);
  s.commit({ nowMs: NOW, ops: [], events: [ev('pi_1', 'evt_6')] });
  assert.ok(s.events(null, all[4].sequence, 10)[0].sequence > all[4].sequence);
});

test('conformance: malformed requests are StorageInvalid and change nothing', () => {
  const s = new DictStorage();
  put(s, rec('intent', 'pi_1', 'd'), 0);
  const before = JSON.stringify(s.dump());
  for (const k of ['', 'Intent', 'in tent', 'intent-x', 'a'.repeat(33)]) assert.throws(() => put(s, rec(k, 'x', 'd'), 0), invalid, k);
  assert.throws(() => put(s, rec('intent', 'i'.repeat(256), 'd'), 0), invalid);
  assert.throws(() => put(s, rec('intent', 'é'.repeat(128), 'd'), 0), invalid); // 256 bytes
  assert.throws(() => put(s, rec('intent', '', 'd'), 0), invalid);
  assert.throws(() => put(s, rec('intent', 'a\0b', 'd'), 0), invalid);
  assert.throws(() => put(s, rec('intent', 'pi_2', 'd', Array.from({ length: 17 }, () => key('k', 'v'))), 0), invalid);
  assert.throws(() => put(s, rec('intent', 'pi_2', 'd', [key('Bad', 'v')]), 0), invalid);
  assert.throws(() => put(s, { ...rec('intent', 'pi_2'), document: 'not a buffer' }, 0), invalid);
  assert.throws(() => del(s, 'intent', 'pi_1', 0), invalid);
  assert.throws(() => put(s, rec('intent', 'pi_1', 'd'), -1), invalid);
  assert.throws(() => s.commit({ nowMs: NOW, ops: [{ type: 'upsert', record: rec('intent', 'pi_2'), expectedVersion: 0 }], events: [] }), invalid);
  assert.throws(() => s.commit({ nowMs: NOW, ops: [], events: [] }), invalid);
  const good = { type: 'put', record: rec('intent', 'pi_2', 'd'), expectedVersion: 0 };
  assert.throws(() => s.commit({ nowMs: NOW, ops: [good], events: [ev('pi_2', '')] }), invalid);
  assert.throws(() => s.commit({ nowMs: NOW, ops: [good], events: [ev('pi_2', 'evt_x'), ev('pi_2', 'evt_x')] }), invalid);
  assert.equal(JSON.stringify(s.dump()), before);
  assert.throws(() => s.get('Intent', 'pi_1', NOW), invalid);
  assert.throws(() => s.scan(q('intent', '', { limit: 0 })), invalid);
  assert.throws(() => s.scan(q('intent', '', { afterValue: 'pi_1' })), invalid);
  assert.throws(() => s.events(null, 0, 0), invalid);
});
