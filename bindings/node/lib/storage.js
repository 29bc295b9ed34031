'use strict';
// Storages written in JavaScript behind the C record store vtable
// (include/constra/storage.h, 0.3): a generic store of records and events
// that knows no resource. The engine keeps intents, idempotency keys,
// webhook endpoints and deliveries and the workspace metadata (kind
// "meta") in it (lib/storage/on_records.c).
//
// A JS storage has five methods (a subclass of Storage, or any object
// with them):
//   commit({ nowMs, ops, events })            -> undefined
//   get(kind, id, nowMs)                      -> record | null
//   scan({ kind, index, from, to, prefix, afterValue, afterId,
//          descending, limit, nowMs })        -> Iterable<{ value, record }>
//   events(stream, afterSequence, limit)      -> Iterable<event>
//   purge(nowMs, max)                         -> number purged
// and optionally close(), called once when the last handle lets go.
// A record is { kind, id, version, expiresAtMs, document: Buffer,
// keys: [{ index, value, unique }] }; an op { type: 'put' | 'delete' |
// 'assert', record, expectedVersion } (delete and assert: record has kind
// and id only); an event { sequence, stream, id, type, createdAtMs,
// expiresAtMs, document: Buffer }. Text is JS strings (UTF-8 in C);
// values order as their UTF-8 bytes (Buffer.compare), never as JS strings.
//
// Errors: throw StorageConflict (failedOp: the op's index, ops.length for
// an event id already stored) for a version mismatch or a taken unique
// key: CONSTRA_E_CONFLICT. StorageNotFound: CONSTRA_E_NOT_FOUND (get()
// may also return null). StorageInvalid: CONSTRA_E_INVALID_ARGUMENT.
// Anything else becomes CONSTRA_E_STORAGE in C, and the Client's
// ConstraError carries it as `cause`. A failing call must leave the store
// as it was.
//
// Threads: koffi runs these callbacks on the thread that called into C,
// which for a local Client is always the JS thread that made the call (the
// handle is opened without webhooks_own_thread, and a remote Client has no
// storage). So a JS storage needs no locking; it must not block on
// anything that needs the event loop (no await inside a method).

const { koffi, C, initStruct, takeBytes, takeText, types: T, raw: R, protos: P, status: S } = require('./native');

const NAME_MAX = 32;
const VALUE_MAX = 255;
const KEYS_MAX = 16;
const COMMIT_MAX = 1024;
const OP_TYPES = { 1: 'put', 2: 'delete', 3: 'assert' };

class StorageConflict extends Error {
  /** failedOp: the index of the conflicting operation (ops.length: an event id already stored). */
  constructor(message, failedOp) {
    super(message);
    this.name = 'StorageConflict';
    if (failedOp !== undefined) this.failedOp = failedOp;
  }
}
class StorageNotFound extends Error {
  constructor(message) { super(message); this.name = 'StorageNotFound'; }
}
class StorageInvalid extends Error {
  constructor(message, param) { super(message); this.name = 'StorageInvalid'; this.param = param; }
}

/** The base class of a JS storage: every method must be overridden. */
class Storage {
  commit(_commit) { throw new Error(`${this.constructor.name}.commit is not implemented`); }
  get(_kind, _id, _nowMs) { throw new Error(`${this.constructor.name}.get is not implemented`); }
  scan(_scan) { throw new Error(`${this.constructor.name}.scan is not implemented`); }
  events(_stream, _afterSequence, _limit) { throw new Error(`${this.constructor.name}.events is not implemented`); }
  purge(_nowMs, _max) { throw new Error(`${this.constructor.name}.purge is not implemented`); }
}
const METHODS = ['commit', 'get', 'scan', 'events', 'purge'];

// ---- the request rules (lib/storage/record_store.c) -------------------------

const bytes = (s) => Buffer.from(s, 'utf8');
const isText = (s) => typeof s === 'string' && !s.includes('\0') && s.isWellFormed();
const nameValid = (s) => typeof s === 'string' && /^[a-z0-9_]{1,32}$/.test(s);
const textValid = (s, emptyOk) => isText(s) && Buffer.byteLength(s) <= VALUE_MAX && (emptyOk || s.length > 0);
const isTime = (v) => Number.isSafeInteger(v) && v >= 0;
function bad(param, why) { throw new StorageInvalid(why, param); }

function checkRecord(r, type) {
  if (r === null || typeof r !== 'object' || !nameValid(r.kind)) bad('record.kind', 'a record kind is 1-32 bytes of [a-z0-9_]');
  if (!textValid(r.id, false)) bad('record.id', 'a record id is 1-255 bytes');
  if (type !== 'put') return;
  if (!isTime(r.expiresAtMs)) bad('record.expires_at_ms', 'expiresAtMs is 0 (never) or a time');
  if (!Buffer.isBuffer(r.document)) bad('record.document', 'a document is a Buffer');
  if (!Array.isArray(r.keys) || r.keys.length > KEYS_MAX) bad('record.keys', 'a record has at most 16 index entries');
  for (const k of r.keys) {
    if (k === null || typeof k !== 'object' || !nameValid(k.index)) bad('record.keys.index', 'an index name is 1-32 bytes of [a-z0-9_]');
    if (!textValid(k.value, true)) bad('record.keys.value', 'an index value is 0-255 bytes');
  }
}

/** Throws StorageInvalid unless the commit is within the contract (constra_record_commit_check). */
function checkCommit(c) {
  if (c === null || typeof c !== 'object' || !Array.isArray(c.ops) || !Array.isArray(c.events)) bad('commit', 'a commit has ops and events arrays');
  if (!Number.isSafeInteger(c.nowMs)) bad('commit.now_ms', 'nowMs is a time');
  if (c.ops.length === 0 && c.events.length === 0) bad('commit', 'a commit writes at least one operation or event');
  if (c.ops.length > COMMIT_MAX || c.events.length > COMMIT_MAX) bad('commit', 'a commit has at most 1024 operations and 1024 events');
  for (const op of c.ops) {
    if (op === null || typeof op !== 'object' || !['put', 'delete', 'assert'].includes(op.type)) bad('commit.ops.type', 'an operation is put, delete or assert');
    if (!Number.isSafeInteger(op.expectedVersion) || op.expectedVersion < 0 || (op.type === 'delete' && op.expectedVersion === 0)) {
      bad('commit.ops.expected_version', 'expectedVersion is 0 (absent) or the stored version; a delete names it');
    }
    checkRecord(op.record, op.type);
  }
  const ids = new Set();
  for (const e of c.events) {
    if (e === null || typeof e !== 'object' || !textValid(e.id, false) || !textValid(e.type, false) ||
        !textValid(e.stream, true) || !isTime(e.expiresAtMs) || !Number.isSafeInteger(e.createdAtMs) || !Buffer.isBuffer(e.document)) {
      bad('commit.events', 'an event has an id and a type of 1-255 bytes, a stream of 0-255');
    }
    if (ids.has(e.id)) bad('commit.events.id', 'an event id is given twice');
    ids.add(e.id);
  }
}

function checkScan(q) {
  if (q === null || typeof q !== 'object' || !nameValid(q.kind)) bad('scan.kind', 'a record kind is 1-32 bytes of [a-z0-9_]');
  if (q.index !== '' && !nameValid(q.index)) bad('scan.index', 'an index name is 1-32 bytes of [a-z0-9_], or ""');
  if (!Number.isSafeInteger(q.limit) || q.limit < 1) bad('scan.limit', 'limit is at least 1');
  if ((q.afterValue === null || q.afterValue === undefined) !== (q.afterId === null || q.afterId === undefined)) {
    bad('scan.after_id', 'a cursor has both afterValue and afterId');
  }
  for (const t of [q.from, q.to, q.prefix, q.afterValue, q.afterId]) {
    if (t !== null && t !== undefined && !textValid(t, true)) bad('scan', 'scan bounds are at most 255 bytes');
  }
}

// [lo, hi) of a scan as Buffers (null: unbounded), or null when empty
// (constra__record_scan_range).
function scanRange(q) {
  let lo = q.from == null ? null : bytes(q.from);
  let hi = q.to == null ? null : bytes(q.to);
  if (q.prefix != null && q.prefix !== '') {
    const p = bytes(q.prefix);
    if (lo === null || Buffer.compare(p, lo) > 0) lo = p;
    let n = p.length;
    while (n > 0 && p[n - 1] === 0xff) n--;
    if (n > 0) { // else all 0xFF: no successor, unbounded above
      const succ = Buffer.from(p.subarray(0, n));
      succ[n - 1]++;
      if (hi === null || Buffer.compare(succ, hi) < 0) hi = succ;
    }
  }
  if (lo !== null && hi !== null && Buffer.compare(lo, hi) >= 0) return null;
  return { lo, hi };
}

// ---- DictStorage: the in-memory store, as lib/storage/record_memory.c --------

// First position whose element is not below the key.
function lowerBound(arr, less) {
  let lo = 0, hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (less(arr[mid])) lo = mid + 1; else hi = mid;
  }
  return lo;
}
const strcmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0); // kinds and index names: ASCII
const recKey = (kind, id) => `${kind}\0${id}`;
const live = (r, now) => r !== undefined && r !== null && (r.expiresAtMs === 0 || r.expiresAtMs > now);

function recCmp(r, kind, idB) { return strcmp(r.kind, kind) || Buffer.compare(r.idB, idB); }
// Entry order: kind, index, value, id; a null id sorts before every id.
function entCmp(e, kind, index, valueB, idB) {
  return strcmp(e.rec.kind, kind) || strcmp(e.index, index) || Buffer.compare(e.valueB, valueB) ||
    (idB === null ? 1 : Buffer.compare(e.rec.idB, idB));
}
function expCmp(r, at, kind, idB) { return (r.expiresAtMs - at) || recCmp(r, kind, idB); }

const copyRecord = (r) => ({
  kind: r.kind, id: r.id, version: r.version, expiresAtMs: r.expiresAtMs, document: Buffer.from(r.document),
  keys: r.keys.map((k) => ({ index: k.index, value: k.value, unique: k.unique })),
});
const copyEvent = (e) => ({
  sequence: e.sequence, stream: e.stream, id: e.id, type: e.type, createdAtMs: e.createdAtMs,
  expiresAtMs: e.expiresAtMs, document: Buffer.from(e.document),
});

/**
 * The record store in JS arrays, with the C memory storage's semantics
 * (record_memory.c; tests/storage/record_conformance.c): sorted arrays and
 * binary search over Buffer.compare for the ordered indexes, a commit that
 * judges everything before it changes anything.
 */
class DictStorage extends Storage {
  constructor() { super(); this.clear(); }

  clear() {
    this.recs = [];          // by (kind, id)
    this.byId = new Map();   // recKey -> rec
    this.ents = [];          // { rec, index, value, valueB, unique } by (kind, index, value, id)
    this.expiring = [];      // recs with expiresAtMs > 0, by (expiresAtMs, kind, id)
    this.log = [];           // events by sequence
    this.byStream = new Map(); // stream -> events by sequence
    this.evExpiring = [];    // events with expiresAtMs > 0, by (expiresAtMs, sequence)
    this.eventIds = new Map();
    this.lastSequence = 0;
  }

  /** Every stored record (dead ones too) and event, copied: for tests and debugging. */
  dump() {
    return { records: this.recs.map(copyRecord), events: this.log.map(copyEvent) };
  }

  _find(kind, id) { return this.byId.get(recKey(kind, id)); }

  // The live version of (kind, id) as the ops before `upto` leave it.
  _versionBefore(c, upto, kind, id) {
    for (let j = upto - 1; j >= 0; j--) {
      const op = c.ops[j];
      if (op.record.kind !== kind || op.record.id !== id) continue;
      if (op.type === 'put') return op.expectedVersion + 1;
      if (op.type === 'delete') return 0;
    }
    const r = this._find(kind, id);
    return live(r, c.nowMs) ? r.version : 0;
  }

  static _earlierOp(c, upto, kind, id) {
    for (let j = upto - 1; j >= 0; j--) {
      const r = c.ops[j].record;
      if (r.kind === kind && r.id === id) return c.ops[j];
    }
    return null;
  }

  _keyConflict(c, i) {
    const r = c.ops[i].record;
    for (const key of r.keys) {
      const vB = bytes(key.value);
      // Stored entries of other live records, unless an earlier op of
      // this commit replaced or deleted that record.
      for (let pos = lowerBound(this.ents, (e) => entCmp(e, r.kind, key.index, vB, null) < 0); pos < this.ents.length; pos++) {
        const e = this.ents[pos];
        if (e.rec.kind !== r.kind || e.index !== key.index || e.value !== key.value) break;
        const other = e.rec;
        if (other.id === r.id || !live(other, c.nowMs) || !(key.unique || e.unique)) continue;
        const later = DictStorage._earlierOp(c, i, other.kind, other.id);
        if (later === null || later.type === 'assert') return true;
      }
      // Records this commit put before `i` and did not remove since.
      for (let j = 0; j < i; j++) {
        const op = c.ops[j], o = op.record;
        if (op.type !== 'put' || o.kind !== r.kind || o.id === r.id || DictStorage._earlierOp(c, i, o.kind, o.id) !== op ||
            (o.expiresAtMs > 0 && o.expiresAtMs <= c.nowMs)) continue;
        if (o.keys.some((k) => (key.unique || k.unique) && k.index === key.index && k.value === key.value)) return true;
      }
    }
    return false;
  }

  // A stored copy; entries given twice in one record collapse into one.
  static _copyIn(r, version) {
    const keys = [];
    for (const k of r.keys) {
      const same = keys.find((x) => x.index === k.index && x.value === k.value);
      if (same) { same.unique = same.unique || Boolean(k.unique); continue; }
      keys.push({ index: k.index, value: k.value, unique: Boolean(k.unique), valueB: bytes(k.value) });
    }
    return { kind: r.kind, id: r.id, idB: bytes(r.id), version, expiresAtMs: r.expiresAtMs,
      document: Buffer.from(r.document), keys };
  }

  _unlink(r) {
    for (const k of r.keys) {
      this.ents.splice(lowerBound(this.ents, (e) => entCmp(e, r.kind, k.index, k.valueB, r.idB) < 0), 1);
    }
    if (r.expiresAtMs > 0) {
      this.expiring.splice(lowerBound(this.expiring, (x) => expCmp(x, r.expiresAtMs, r.kind, r.idB) < 0), 1);
    }
    this.recs.splice(lowerBound(this.recs, (x) => recCmp(x, r.kind, r.idB) < 0), 1);
    this.byId.delete(recKey(r.kind, r.id));
  }

  _link(r) {
    this.recs.splice(lowerBound(this.recs, (x) => recCmp(x, r.kind, r.idB) < 0), 0, r);
    this.byId.set(recKey(r.kind, r.id), r);
    for (const k of r.keys) {
      const e = { rec: r, index: k.index, value: k.value, valueB: k.valueB, unique: k.unique };
      this.ents.splice(lowerBound(this.ents, (x) => entCmp(x, r.kind, k.index, k.valueB, r.idB) < 0), 0, e);
    }
    if (r.expiresAtMs > 0) {
      this.expiring.splice(lowerBound(this.expiring, (x) => expCmp(x, r.expiresAtMs, r.kind, r.idB) < 0), 0, r);
    }
  }

  commit(c) {
    checkCommit(c);
    // 1. Judge every operation, then the event ids.
    for (let i = 0; i < c.ops.length; i++) {
      const op = c.ops[i];
      const current = this._versionBefore(c, i, op.record.kind, op.record.id);
      if (current !== op.expectedVersion) {
        throw new StorageConflict(`${op.record.kind} ${op.record.id}: version ${current}, not ${op.expectedVersion}`, i);
      }
      if (op.type === 'put' && this._keyConflict(c, i)) {
        throw new StorageConflict(`${op.record.kind} ${op.record.id}: a unique key is held by another record`, i);
      }
    }
    for (const e of c.events) {
      if (this.eventIds.has(e.id)) throw new StorageConflict(`event ${e.id} exists`, c.ops.length);
    }
    // 2. Copy everything, 3. apply: nothing below can fail.
    const fresh = c.ops.map((op) => (op.type === 'put' ? DictStorage._copyIn(op.record, op.expectedVersion + 1) : null));
    const evs = c.events.map((e) => ({ ...copyEvent(e), sequence: 0 }));
    c.ops.forEach((op, i) => {
      if (op.type === 'assert') return;
      const old = this._find(op.record.kind, op.record.id);
      if (old) this._unlink(old); // the live version, or a dead one an insert replaces
      if (fresh[i]) this._link(fresh[i]);
    });
    for (const e of evs) {
      e.sequence = ++this.lastSequence;
      this.log.push(e);
      let s = this.byStream.get(e.stream);
      if (!s) this.byStream.set(e.stream, (s = []));
      s.push(e);
      if (e.expiresAtMs > 0) {
        this.evExpiring.splice(lowerBound(this.evExpiring, (x) => x.expiresAtMs < e.expiresAtMs ||
          (x.expiresAtMs === e.expiresAtMs && x.sequence < e.sequence)), 0, e);
      }
      this.eventIds.set(e.id, e);
    }
  }

  get(kind, id, nowMs) {
    if (!nameValid(kind) || !textValid(id, false)) bad('get', 'a kind and an id');
    const r = this._find(kind, id);
    return live(r, nowMs) ? copyRecord(r) : null;
  }

  scan(q) {
    checkScan(q);
    const range = scanRange(q);
    if (range === null) return [];
    const { lo, hi } = range;
    const onIds = q.index === '';
    const arr = onIds ? this.recs : this.ents;
    const recOf = onIds ? (x) => x : (x) => x.rec;
    const valueOf = onIds ? (x) => x.idB : (x) => x.valueB;
    const afterB = q.afterValue == null ? null : bytes(q.afterValue);
    const afterIdB = q.afterId == null ? null : bytes(q.afterId);
    // Lower bound of (value, id) in this kind (and index).
    const pos = (vB, idB) => (onIds
      ? lowerBound(arr, (x) => recCmp(x, q.kind, vB) < 0)
      : lowerBound(arr, (x) => entCmp(x, q.kind, q.index, vB, idB) < 0));
    let start;
    if (!q.descending) {
      start = pos(lo === null ? Buffer.alloc(0) : lo, null);
      if (afterB !== null) start = Math.max(start, pos(afterB, afterIdB));
    } else {
      // One past the last entry of the kind (and index) below `hi`.
      start = lowerBound(arr, (x) => {
        const c = strcmp(recOf(x).kind, q.kind) || (onIds ? 0 : strcmp(x.index, q.index));
        return c < 0 || (c === 0 && (hi === null || Buffer.compare(valueOf(x), hi) < 0));
      });
      if (afterB !== null) start = Math.min(start, pos(afterB, afterIdB));
    }
    const out = [];
    for (let step = 0; out.length < q.limit; step++) {
      let i;
      if (!q.descending) { i = start + step; if (i >= arr.length) break; } else { if (step >= start) break; i = start - 1 - step; }
      const x = arr[i], r = recOf(x), v = valueOf(x);
      if (r.kind !== q.kind || (!onIds && x.index !== q.index)) break; // left the kind or the index
      if ((!q.descending && hi !== null && Buffer.compare(v, hi) >= 0) ||
          (q.descending && lo !== null && Buffer.compare(v, lo) < 0)) break; // past the range
      if (!live(r, q.nowMs)) continue;
      if ((lo !== null && Buffer.compare(v, lo) < 0) || (hi !== null && Buffer.compare(v, hi) >= 0)) continue;
      if (afterB !== null) {
        const c = Buffer.compare(v, afterB) || Buffer.compare(r.idB, afterIdB);
        if (q.descending ? c >= 0 : c <= 0) continue;
      }
      out.push({ value: onIds ? r.id : x.value, record: copyRecord(r) });
    }
    return out;
  }

  events(stream, afterSequence, limit) {
    if (!Number.isSafeInteger(limit) || limit < 1 || (stream !== null && !textValid(stream, true)) ||
        typeof afterSequence !== 'number') bad('events', 'a stream or null, a sequence and a limit >= 1');
    const v = stream === null ? this.log : this.byStream.get(stream) || [];
    const out = [];
    for (let p = lowerBound(v, (e) => e.sequence <= afterSequence); p < v.length && out.length < limit; p++) out.push(copyEvent(v[p]));
    return out;
  }

  _unlinkEvent(e) {
    this.log.splice(lowerBound(this.log, (x) => x.sequence < e.sequence), 1);
    const s = this.byStream.get(e.stream);
    s.splice(lowerBound(s, (x) => x.sequence < e.sequence), 1);
    if (s.length === 0) this.byStream.delete(e.stream);
    this.eventIds.delete(e.id);
  }

  purge(nowMs, max) {
    let done = 0;
    for (let k = 0; k < max && this.expiring.length > 0 && this.expiring[0].expiresAtMs <= nowMs; k++) {
      this._unlink(this.expiring[0]);
      done++;
    }
    for (let k = 0; k < max && this.evExpiring.length > 0 && this.evExpiring[0].expiresAtMs <= nowMs; k++) {
      this._unlinkEvent(this.evExpiring.shift());
      done++;
    }
    return done;
  }
}

// ---- C rows <-> JS objects ----------------------------------------------------

const num = (v) => Number(v); // int64 fields: ms times, versions and sequences fit in 2^53
const utf8 = new TextDecoder('utf-8', { fatal: true });

// Text C lent us, as a JS string; bytes that are not UTF-8 cannot be
// kept as a JS string exactly: refused (a storage error, not a
// replacement character in an index).
function text(ptr, what) {
  const b = takeText(ptr);
  if (b === null) return null;
  try { return utf8.decode(b); } catch {
    throw new TypeError(`${what} is not UTF-8 (a JS storage keeps text as strings)`);
  }
}
const stride = (TT) => BigInt(koffi.sizeof(TT));
const at = (base, i, TT) => BigInt(base) + BigInt(i) * stride(TT);

function recordFromC(ptr, full) {
  // One element at a time: koffi.decode(ptr, type, n) leaves native
  // memory behind per call (measured with koffi 2), element decodes do not.
  const r = koffi.decode(ptr, R.RecordT);
  const out = { kind: text(r.kind, 'record.kind'), id: text(r.id, 'record.id') };
  if (!full) return out;
  const keys = [];
  for (let k = 0, n = num(r.key_count); k < n; k++) {
    const key = koffi.decode(at(r.keys, k, R.RecordKeyT), R.RecordKeyT);
    keys.push({ index: text(key.index, 'record.keys.index'), value: text(key.value, 'record.keys.value'), unique: key.unique !== 0 });
  }
  return { ...out, version: num(r.version), expiresAtMs: num(r.expires_at_ms),
    document: takeBytes(r.document, r.document_len), keys };
}

function commitFromC(ptr) {
  const c = koffi.decode(ptr, R.RecordCommitT);
  const ops = [];
  for (let i = 0, n = num(c.op_count); i < n; i++) {
    const op = koffi.decode(at(c.ops, i, R.RecordOpT), R.RecordOpT);
    const type = OP_TYPES[op.type];
    ops.push({ type, record: recordFromC(op.record, type === 'put'), expectedVersion: num(op.expected_version) });
  }
  const events = [];
  for (let i = 0, n = num(c.event_count); i < n; i++) {
    const e = koffi.decode(at(c.events, i, R.RecordEventT), R.RecordEventT);
    events.push({ sequence: 0, stream: text(e.stream, 'event.stream'), id: text(e.id, 'event.id'),
      type: text(e.type, 'event.type'), createdAtMs: num(e.created_at_ms), expiresAtMs: num(e.expires_at_ms),
      document: takeBytes(e.document, e.document_len) });
  }
  return { nowMs: num(c.now_ms), ops, events };
}

function scanFromC(ptr) {
  const q = koffi.decode(ptr, R.RecordScanT);
  return { kind: text(q.kind, 'scan.kind'), index: text(q.index, 'scan.index'), from: text(q.from, 'scan.from'),
    to: text(q.to, 'scan.to'), prefix: text(q.prefix, 'scan.prefix'), afterValue: text(q.after_value, 'scan.after_value'),
    afterId: text(q.after_id, 'scan.after_id'), descending: q.descending !== 0, limit: num(q.limit), nowMs: num(q.now_ms) };
}

function str(v, what, emptyOk = true) {
  if (typeof v !== 'string') throw new TypeError(`storage returned ${typeof v} for ${what}, not a string`);
  if (!isText(v) || (!emptyOk && v === '')) throw new TypeError(`storage returned a malformed ${what} (empty, NUL or lone surrogate)`);
  return v;
}
function int(v, what) {
  if (!Number.isSafeInteger(v)) throw new TypeError(`storage returned ${typeof v === 'number' ? v : typeof v} for ${what}, not an integer`);
  return v;
}
function buf(v, what) {
  if (!Buffer.isBuffer(v)) throw new TypeError(`storage returned ${typeof v} for ${what}, not a Buffer`);
  return v;
}
function obj(v, what) {
  if (v === null || typeof v !== 'object') throw new TypeError(`storage returned ${v === null ? 'null' : typeof v} for ${what}`);
  return v;
}

const recordToC = (r) => {
  obj(r, 'a record');
  const doc = buf(r.document, 'record.document');
  if (!Array.isArray(r.keys)) throw new TypeError(`storage returned ${typeof r.keys} for record.keys, not an array`);
  if (r.keys.length > KEYS_MAX) throw new TypeError(`storage returned ${r.keys.length} keys (at most ${KEYS_MAX})`);
  const keys = r.keys.map((k) => {
    obj(k, 'a record key');
    return { index: str(k.index, 'record.keys.index', false), value: str(k.value, 'record.keys.value'), unique: k.unique ? 1 : 0 };
  });
  return {
    struct_size: koffi.sizeof(T.RecordT), kind: str(r.kind, 'record.kind', false), id: str(r.id, 'record.id', false),
    version: int(r.version, 'record.version'), expires_at_ms: int(r.expiresAtMs, 'record.expiresAtMs'),
    document: doc.length ? doc : null, document_len: doc.length, keys: keys.length ? keys : null, key_count: keys.length,
  };
};
const eventToC = (e) => {
  obj(e, 'an event');
  const doc = buf(e.document, 'event.document');
  return {
    struct_size: koffi.sizeof(T.RecordEventT), sequence: int(e.sequence, 'event.sequence'),
    stream: str(e.stream, 'event.stream'), id: str(e.id, 'event.id', false), type: str(e.type, 'event.type', false),
    created_at_ms: int(e.createdAtMs, 'event.createdAtMs'), expires_at_ms: int(e.expiresAtMs, 'event.expiresAtMs'),
    document: doc.length ? doc : null, document_len: doc.length,
  };
};
function iterate(rows, what) {
  if (rows === null || rows === undefined || typeof rows[Symbol.iterator] !== 'function') {
    throw new TypeError(`storage returned ${rows === null ? 'null' : typeof rows} from ${what}, not an iterable`);
  }
  return rows;
}

/**
 * A constra_storage whose methods call a JS storage. The callbacks are
 * registered with koffi.register (C may call them at any time while the
 * handle lives) and unregistered by release(), after constra_close.
 * Every callback catches everything: koffi would turn an exception into a
 * return of 0, which C reads as success. Everything C lends (the commit,
 * the scan, text) is copied into JS values before the JS storage sees it;
 * every row JS gives back is converted (and checked) before emit.
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
        if (e instanceof StorageInvalid) return S.E_INVALID_ARGUMENT;
        this.lastException = e;
        return S.E_STORAGE;
      }
    };
    const impl = {
      commit: [P.CommitFn, (_ud, cp, failedOp) => {
        // The contract's request rules, checked in C (and so exactly):
        // a malformed commit never reaches the JS storage.
        const rc = C.record_commit_check(cp, null);
        if (rc !== S.OK) return rc;
        const commit = commitFromC(cp);
        try {
          this.storage.commit(commit);
        } catch (e) {
          if (e instanceof StorageConflict && failedOp && Number.isSafeInteger(e.failedOp) &&
              e.failedOp >= 0 && e.failedOp <= commit.ops.length) {
            koffi.encode(failedOp, 'size_t', e.failedOp);
          }
          throw e;
        }
      }],
      get: [P.GetFn, (_ud, kp, ip, now, emit, ctx) => {
        const kind = text(kp, 'kind'), id = text(ip, 'id');
        if (kind === null || id === null || !emit) return S.E_INVALID_ARGUMENT;
        const rec = this.storage.get(kind, id, num(now));
        if (rec === null || rec === undefined) return S.E_NOT_FOUND;
        const row = recordToC(rec);
        if (row.kind !== kind || row.id !== id) throw new TypeError(`storage.get(${kind}, ${id}) returned ${row.kind} ${row.id}`);
        koffi.call(emit, P.RecordFn, ctx, row);
      }],
      scan: [P.ScanFn, (_ud, qp, emit, ctx) => {
        if (!qp || !emit) return S.E_INVALID_ARGUMENT;
        const q = scanFromC(qp);
        if (q.kind === null || q.index === null || q.limit < 1) return S.E_INVALID_ARGUMENT;
        let sent = 0;
        for (const row of iterate(this.storage.scan(q), 'scan')) {
          if (sent >= q.limit) break;
          obj(row, 'a scan row');
          const value = str(row.value, 'scan row value');
          const rec = recordToC(row.record);
          if (rec.kind !== q.kind) throw new TypeError(`storage.scan(${q.kind}) returned a record of kind ${rec.kind}`);
          sent++;
          if (koffi.call(emit, P.ScanRowFn, ctx, value, rec) !== 0) break;
        }
      }],
      events: [P.EventsFn, (_ud, sp, after, limit, emit, ctx) => {
        const lim = num(limit);
        if (!emit || lim < 1) return S.E_INVALID_ARGUMENT;
        const stream = sp ? text(sp, 'stream') : null;
        let sent = 0;
        for (const e of iterate(this.storage.events(stream, num(after), lim), 'events')) {
          if (sent >= lim) break;
          const row = eventToC(e);
          sent++;
          if (koffi.call(emit, P.EventRowFn, ctx, row) !== 0) break;
        }
      }],
      purge: [P.PurgeFn, (_ud, now, max, purged) => {
        const n = this.storage.purge(num(now), num(max));
        const count = n === undefined || n === null ? 0 : int(n, 'the purge count');
        if (purged) koffi.encode(purged, 'size_t', count);
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

module.exports = {
  Storage, DictStorage, StorageAdapter, StorageConflict, StorageNotFound, StorageInvalid, METHODS,
  checkCommit,
};
