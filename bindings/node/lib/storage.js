'use strict';
// Storages written in JavaScript behind the C storage vtable
// (include/constra/storage.h). Records cross as plain objects; documents
// are Buffers. Throw StorageConflict for a version mismatch / duplicate /
// taken key, StorageNotFound for a compare-and-set on a missing intent;
// any other exception becomes CONSTRA_E_STORAGE in C (state untouched) and
// the Client's ConstraError carries it as `cause`.

const { koffi, C, initStruct, takeBytes, types: T, protos: P, status: S } = require('./native');

const IN_FLIGHT = 1;
const COMPLETED = 2;

class StorageConflict extends Error {}
class StorageNotFound extends Error {}

/** A storage in JS Maps, same semantics as the C memory storage. */
class DictStorage {
  constructor() { this.clear(); }

  clear() {
    this.intents = new Map();
    this.sorted = [];
    this.byCheckout = new Map();
    this.events = [];
    this.eventsOf = new Map();
    this.seq = 0;
    this.idempotency = new Map();
  }

  commit(w) {
    const nu = w.intent;
    if (nu) {
      const cur = this.intents.get(nu.id);
      if (w.expectedVersion === 0) { if (cur) throw new StorageConflict(`intent ${nu.id} exists`); }
      else if (!cur) throw new StorageNotFound(nu.id);
      else if (cur.version !== w.expectedVersion) throw new StorageConflict(`intent ${nu.id} moved`);
      const owner = this.byCheckout.get(nu.checkoutRequestId);
      if (nu.checkoutRequestId && owner !== undefined && owner !== nu.id) {
        throw new StorageConflict('checkout id belongs to another intent');
      }
    }
    const idem = w.idempotency;
    if (idem) {
      const held = this.idempotency.get(idem.key);
      if (!held || held.state !== IN_FLIGHT || held.fingerprint !== idem.fingerprint) {
        throw new StorageConflict(`key ${idem.key} is not reserved for this request`);
      }
    }
    // Everything decided: apply in steps that cannot fail.
    if (nu) {
      const cur = this.intents.get(nu.id);
      if (!cur) {
        let lo = 0, hi = this.sorted.length;
        while (lo < hi) { const mid = (lo + hi) >> 1; if (this.sorted[mid] < nu.id) lo = mid + 1; else hi = mid; }
        this.sorted.splice(lo, 0, nu.id);
      }
      // Earlier checkout ids stay mapped for the life of the intent
      // (storage.h find_by_checkout): a late result for a superseded
      // attempt must still find it.
      this.intents.set(nu.id, nu);
      if (nu.checkoutRequestId) this.byCheckout.set(nu.checkoutRequestId, nu.id);
    }
    for (const ev of w.events) {
      const stored = { ...ev, sequence: ++this.seq };
      this.events.push(stored);
      if (ev.intentId) {
        if (!this.eventsOf.has(ev.intentId)) this.eventsOf.set(ev.intentId, []);
        this.eventsOf.get(ev.intentId).push(this.events.length - 1);
      }
    }
    if (idem) {
      const held = this.idempotency.get(idem.key);
      this.idempotency.set(idem.key, { ...held, state: COMPLETED, httpStatus: idem.httpStatus,
        response: idem.response, expiresAtMs: idem.expiresAtMs });
    }
  }

  getIntent(id) { return this.intents.get(id) ?? null; }

  findByCheckout(checkoutRequestId) {
    const owner = this.byCheckout.get(checkoutRequestId);
    return owner === undefined ? null : this.intents.get(owner) ?? null;
  }

  listIntents(q) {
    let end = this.sorted.length;
    if (q.startingAfter) {
      let lo = 0, hi = end;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (this.sorted[mid] < q.startingAfter) lo = mid + 1; else hi = mid; }
      end = lo;
    }
    const out = [];
    for (let k = end - 1; k >= 0 && out.length < q.limit; k--) {
      const r = this.intents.get(this.sorted[k]);
      if ((q.status && r.status !== q.status) || (q.reference && r.reference !== q.reference) ||
          (q.createdFromMs && r.createdAtMs < q.createdFromMs) ||
          (q.createdToMs && r.createdAtMs >= q.createdToMs)) continue;
      out.push(r);
    }
    return out;
  }

  listEvents(intentId, afterSequence, limit) {
    let rows;
    if (intentId) rows = (this.eventsOf.get(intentId) || []).map((i) => this.events[i]);
    else if (intentId === null) rows = this.events;
    else rows = this.events.filter((e) => !e.intentId);
    const out = [];
    for (const e of rows) {
      if (out.length >= limit) break;
      if (e.sequence > afterSequence) out.push(e);
    }
    return out;
  }

  idempotencyReserve(record, nowMs) {
    const cur = this.idempotency.get(record.key);
    const dead = cur && (cur.expiresAtMs <= nowMs || (cur.state === IN_FLIGHT && cur.leaseExpiresAtMs <= nowMs));
    if (cur && !dead) return cur;
    this.idempotency.set(record.key, { ...record, state: IN_FLIGHT, httpStatus: 0, response: Buffer.alloc(0) });
    return null;
  }

  idempotencyComplete(record) { this.commit({ intent: null, expectedVersion: 0, events: [], idempotency: record }); }

  idempotencyRelease(key, fingerprint) {
    const cur = this.idempotency.get(key);
    if (cur && cur.state === IN_FLIGHT && cur.fingerprint === fingerprint) this.idempotency.delete(key);
  }

  purgeExpired(nowMs) {
    for (const [k, r] of this.idempotency) if (r.expiresAtMs <= nowMs) this.idempotency.delete(k);
  }
}

// ---- C rows <-> records ----------------------------------------------------
const num = (v) => Number(v); // int64 fields: ms times and versions fit in 2^53
const intentFromC = (r) => ({
  id: r.id || '', status: r.status || '', reference: r.reference || '',
  checkoutRequestId: r.checkout_request_id || '', createdAtMs: num(r.created_at_ms),
  updatedAtMs: num(r.updated_at_ms), version: num(r.version),
  document: takeBytes(r.document, r.document_len),
});
const eventFromC = (r) => ({
  id: r.id || '', intentId: r.intent_id || '', type: r.type || '', createdAtMs: num(r.created_at_ms),
  sequence: 0, document: takeBytes(r.document, r.document_len),
});
const idemFromC = (r) => ({
  key: r.key || '', fingerprint: r.fingerprint || '', state: r.state, httpStatus: r.http_status,
  response: takeBytes(r.response, r.response_len), createdAtMs: num(r.created_at_ms),
  expiresAtMs: num(r.expires_at_ms), leaseExpiresAtMs: num(r.lease_expires_at_ms),
});

function str(v, what) {
  if (typeof v !== 'string') throw new TypeError(`storage returned ${typeof v} for ${what}`);
  return v;
}
function buf(v, what) {
  if (!Buffer.isBuffer(v)) throw new TypeError(`storage returned ${typeof v} for ${what}, not a Buffer`);
  return v;
}
const intentToC = (r) => {
  if (!r || typeof r !== 'object') throw new TypeError('storage returned a non-record');
  const doc = buf(r.document, 'document');
  return {
    struct_size: koffi.sizeof(T.StorageIntentT), id: str(r.id, 'id'), status: str(r.status, 'status'),
    reference: str(r.reference, 'reference'), checkout_request_id: str(r.checkoutRequestId, 'checkoutRequestId'),
    created_at_ms: r.createdAtMs, updated_at_ms: r.updatedAtMs, version: r.version,
    document: doc.length ? doc : null, document_len: doc.length,
  };
};
const eventToC = (r) => {
  const doc = buf(r.document, 'document');
  return {
    struct_size: koffi.sizeof(T.StorageEventT), id: str(r.id, 'id'), intent_id: str(r.intentId, 'intentId'),
    type: str(r.type, 'type'), created_at_ms: r.createdAtMs, sequence: r.sequence,
    document: doc.length ? doc : null, document_len: doc.length,
  };
};
const idemToC = (r) => {
  const resp = buf(r.response, 'response');
  return {
    struct_size: koffi.sizeof(T.StorageIdemT), key: str(r.key, 'key'), fingerprint: str(r.fingerprint, 'fingerprint'),
    state: r.state, http_status: r.httpStatus, response: resp.length ? resp : null, response_len: resp.length,
    created_at_ms: r.createdAtMs, expires_at_ms: r.expiresAtMs, lease_expires_at_ms: r.leaseExpiresAtMs,
  };
};

const METHODS = ['commit', 'getIntent', 'findByCheckout', 'listIntents', 'listEvents',
  'idempotencyReserve', 'idempotencyComplete', 'idempotencyRelease'];

/**
 * A constra_storage whose methods call a JS storage. The callbacks are
 * registered with koffi.register (C may call them at any time while the
 * handle lives) and unregistered by release(), after constra_close.
 * Every callback catches everything: koffi would turn an exception into a
 * return of 0, which C reads as success.
 */
class StorageAdapter {
  constructor(storage) {
    this.storage = storage;
    this.lastException = null;
    this.destroyed = false;
    const guard = (fn) => (...args) => {
      try {
        const rc = fn(...args);
        return rc === undefined ? S.OK : rc;
      } catch (e) {
        if (e instanceof StorageConflict) return S.E_CONFLICT;
        if (e instanceof StorageNotFound) return S.E_NOT_FOUND;
        this.lastException = e;
        return S.E_STORAGE;
      }
    };
    const emitIntent = (rec, emit, ctx) => {
      if (rec === null || rec === undefined) return S.E_NOT_FOUND;
      koffi.call(emit, P.IntentFn, ctx, intentToC(rec));
      return S.OK;
    };
    const impl = {
      commit: [P.CommitFn, (_ud, wp) => {
        const w = koffi.decode(wp, T.StorageWriteT);
        const n = Number(w.event_count);
        // One element at a time: koffi.decode(ptr, type, n) leaves native
        // memory behind per call (measured), element decodes do not.
        const size = BigInt(koffi.sizeof(T.StorageEventT));
        const evs = [];
        for (let i = 0; i < n; i++) evs.push(koffi.decode(w.events + BigInt(i) * size, T.StorageEventT));
        this.storage.commit({
          intent: w.intent ? intentFromC(koffi.decode(w.intent, T.StorageIntentT)) : null,
          expectedVersion: num(w.expected_version),
          events: evs.map(eventFromC),
          idempotency: w.idempotency ? idemFromC(koffi.decode(w.idempotency, T.StorageIdemT)) : null,
        });
      }],
      get_intent: [P.GetIntentFn, (_ud, id, emit, ctx) => emitIntent(this.storage.getIntent(id || ''), emit, ctx)],
      find_by_checkout: [P.GetIntentFn, (_ud, cid, emit, ctx) => emitIntent(this.storage.findByCheckout(cid || ''), emit, ctx)],
      list_intents: [P.ListIntentsFn, (_ud, qp, emit, ctx) => {
        const q = koffi.decode(qp, T.StorageQueryT);
        const limit = Number(q.limit);
        const rows = [...this.storage.listIntents({
          status: q.status || '', reference: q.reference || '', createdFromMs: num(q.created_from_ms),
          createdToMs: num(q.created_to_ms), startingAfter: q.starting_after || '', limit,
        })].slice(0, limit).map(intentToC);
        for (const row of rows) if (koffi.call(emit, P.IntentFn, ctx, row) !== 0) break;
      }],
      list_events: [P.ListEventsFn, (_ud, intentId, after, limit, emit, ctx) => {
        const lim = Number(limit);
        const rows = [...this.storage.listEvents(intentId === null ? null : intentId, num(after), lim)]
          .slice(0, lim).map(eventToC);
        for (const row of rows) if (koffi.call(emit, P.EventFn, ctx, row) !== 0) break;
      }],
      idempotency_reserve: [P.ReserveFn, (_ud, rp, now, emit, ctx) => {
        const held = this.storage.idempotencyReserve(idemFromC(koffi.decode(rp, T.StorageIdemT)), num(now));
        if (held === null || held === undefined) return S.OK;
        const row = idemToC(held);
        if (emit) koffi.call(emit, P.IdemFn, ctx, row);
        return S.E_CONFLICT;
      }],
      idempotency_complete: [P.CompleteFn, (_ud, rp) => {
        this.storage.idempotencyComplete(idemFromC(koffi.decode(rp, T.StorageIdemT)));
      }],
      idempotency_release: [P.ReleaseFn, (_ud, key, fp) => { this.storage.idempotencyRelease(key || '', fp || ''); }],
      purge_expired: [P.PurgeFn, (_ud, now) => {
        if (typeof this.storage.purgeExpired === 'function') this.storage.purgeExpired(num(now));
      }],
    };
    this.registered = [];
    this.vtable = initStruct(C.storage_init, T.StorageT);
    for (const [field, [proto, fn]] of Object.entries(impl)) {
      const cb = koffi.register(guard(fn), koffi.pointer(proto));
      this.registered.push(cb);
      this.vtable[field] = cb;
    }
    const destroy = koffi.register(() => {
      if (this.destroyed) return;
      this.destroyed = true;
      try { if (typeof this.storage.close === 'function') this.storage.close(); } catch (e) { this.lastException = e; }
    }, koffi.pointer(P.DestroyFn));
    this.registered.push(destroy);
    this.vtable.destroy = destroy;
  }

  takeException() { const e = this.lastException; this.lastException = null; return e; }

  /** Unregisters the callbacks; only after the handle is closed. */
  release() {
    for (const cb of this.registered) koffi.unregister(cb);
    this.registered = [];
  }
}

module.exports = { DictStorage, StorageAdapter, StorageConflict, StorageNotFound, METHODS, IN_FLIGHT, COMPLETED };
