"""Storages: the C storage vtable (include/constra/storage.h) implemented
in Python.

Since 0.3 a storage is a generic *record store*: it keeps records of a
kind (``"intent"``, ``"idempotency"``, ``"meta"``, ...) without knowing
them, and the engine keeps its resources in it (lib/storage/on_records.c).
A storage written in Python subclasses :class:`Storage` (or follows its
methods) and is handed to ``Client(storage=...)``:

* ``commit(commit: Commit) -> None``: apply every :class:`Op` and append
  every :class:`Event` of the commit atomically, or nothing;
* ``get(kind, id, now_ms) -> Optional[Record]``: the live record;
* ``scan(scan: Scan) -> Iterable[(value, Record)]``: live records by one
  index, in byte order, one row per index entry;
* ``events(stream, after_sequence, limit) -> Iterable[Event]``;
* ``purge(now_ms, max) -> int``: drop dead records and expired events;
* ``close()``: called once when the engine drops the storage.

:class:`DictStorage` is a complete, thread-safe implementation in Python,
the same semantics as the C memory store (lib/storage/record_memory.c);
read it as the reference for a storage of your own.

Text (kinds, ids, index values, streams, event ids and types) is ``str``;
bytes that are not UTF-8 cross as lone surrogates (``surrogateescape``) so
that every value round-trips exactly, and values order as their UTF-8
bytes (memcmp, a prefix first), never as Python strings. Documents are
``bytes``, opaque (the engine writes its own format).

Errors: raise :class:`StorageConflict` (``failed_op=`` the index of the
operation, ``len(commit.ops)`` for an event id already stored) for a
version mismatch or a unique key held by another live record
(CONSTRA_E_CONFLICT); :class:`StorageNotFound` from ``get`` is the same
as returning None (CONSTRA_E_NOT_FOUND); :class:`StorageInvalid` for a
malformed request (CONSTRA_E_INVALID_ARGUMENT). Any other exception
becomes CONSTRA_E_STORAGE in C: the engine then leaves its state as it was
and the Client raises :class:`~constra.errors.StorageError` whose
``__cause__`` is your exception. A failing method must not have changed
anything. Commits from the engine are checked by the library
(constra_record_commit_check) before your ``commit`` sees them.
"""
from __future__ import annotations

import bisect
import ctypes
import dataclasses
import threading
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from . import _native as N

PUT = N.RECORD_PUT
DELETE = N.RECORD_DELETE
ASSERT = N.RECORD_ASSERT
NAME_MAX = N.RECORD_NAME_MAX
VALUE_MAX = N.RECORD_VALUE_MAX
KEYS_MAX = N.RECORD_KEYS_MAX
COMMIT_MAX = N.RECORD_COMMIT_MAX


class StorageConflict(Exception):
    """A version mismatch, a unique key held by another live record, or an
    event id already stored. ``failed_op``: the index of the operation
    that conflicted (``len(ops)`` for an event id), or None."""

    def __init__(self, *args: object, failed_op: Optional[int] = None) -> None:
        super().__init__(*args)
        self.failed_op = failed_op


class StorageNotFound(Exception):
    """No live record (kind, id)."""


class StorageInvalid(ValueError):
    """A malformed request (bad kind, too many keys, ...):
    CONSTRA_E_INVALID_ARGUMENT."""


# ---- the model -------------------------------------------------------------

@dataclass(frozen=True)
class Key:
    """One secondary index entry of a record."""
    index: str
    value: str
    unique: bool = False


@dataclass(frozen=True)
class Record:
    """A record as written (version ignored: the store sets it) and as
    read (the stored version)."""
    kind: str
    id: str
    version: int = 0
    expires_at_ms: int = 0  # 0: never
    document: bytes = b""
    keys: Tuple[Key, ...] = ()


@dataclass(frozen=True)
class Op:
    """One operation of a commit: PUT (the whole record), DELETE or ASSERT
    (kind and id only), each guarded by the version it expects (0: no live
    record)."""
    type: int
    record: Record
    expected_version: int = 0

    @staticmethod
    def put(record: Record, expected_version: int = 0) -> "Op":
        return Op(PUT, record, expected_version)

    @staticmethod
    def delete(kind: str, id: str, expected_version: int) -> "Op":
        return Op(DELETE, Record(kind, id), expected_version)

    @staticmethod
    def check(kind: str, id: str, expected_version: int) -> "Op":
        """ASSERT: write nothing, fail unless the live version is this."""
        return Op(ASSERT, Record(kind, id), expected_version)


@dataclass(frozen=True)
class Event:
    """An event appended by a commit; ``sequence`` is assigned by the store
    (ignored on write)."""
    stream: str  # the record it is about, "" for none
    id: str
    type: str
    created_at_ms: int = 0
    expires_at_ms: int = 0  # 0: kept
    document: bytes = b""
    sequence: int = 0


@dataclass(frozen=True)
class Commit:
    """One atomic write; records with 0 < expires_at_ms <= now_ms are dead
    for it."""
    now_ms: int
    ops: Tuple[Op, ...] = ()
    events: Tuple[Event, ...] = ()


@dataclass(frozen=True)
class Scan:
    """An ordered scan over one index ("" for the ids) of one kind: values
    in [from_, to) that start with prefix, strictly after the cursor
    (after_value, after_id) in scan order, at most limit rows."""
    kind: str
    index: str = ""
    from_: Optional[str] = None
    to: Optional[str] = None
    prefix: Optional[str] = None
    after_value: Optional[str] = None
    after_id: Optional[str] = None
    descending: bool = False
    limit: int = 100
    now_ms: int = 0


class Storage:
    """The methods a storage implements (see storage.h for the contract,
    DictStorage for a reference)."""

    def commit(self, commit: Commit) -> None:
        raise NotImplementedError

    def get(self, kind: str, id: str, now_ms: int) -> Optional[Record]:
        raise NotImplementedError

    def scan(self, scan: Scan) -> Iterable[Tuple[str, Record]]:
        """(value, record) rows, value being the index value the row was
        found by (its id on the id index)."""
        raise NotImplementedError

    def events(self, stream: Optional[str], after_sequence: int,
               limit: int) -> Iterable[Event]:
        """Events with sequence > after_sequence in sequence order, of one
        stream or of all (None)."""
        raise NotImplementedError

    def purge(self, now_ms: int, max: int) -> int:
        """Deletes at most max dead records and at most max expired events;
        returns how many in all. Optional: the default deletes nothing."""
        return 0

    def close(self) -> None:
        """Called once when the engine drops the storage."""


# ---- text and the request rules (lib/storage/record_store.c) ---------------

def text_bytes(text: str) -> bytes:
    """The bytes a text crosses as (and orders by)."""
    return text.encode("utf-8", "surrogateescape")


def text_str(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def name_valid(name: object) -> bool:
    return (isinstance(name, str) and 0 < len(name) <= NAME_MAX
            and all(c in _NAME_CHARS for c in name))


def text_valid(text: object, empty_ok: bool) -> bool:
    if not isinstance(text, str):
        return False
    try:
        raw = text_bytes(text)
    except UnicodeEncodeError:
        return False
    return len(raw) <= VALUE_MAX and b"\0" not in raw and (empty_ok or len(raw) > 0)


def _bad(param: str, why: str) -> StorageInvalid:
    exc = StorageInvalid(f"{param}: {why}")
    exc.param = param  # type: ignore[attr-defined]
    return exc


def _check_record(r: object, op_type: int) -> None:
    if not isinstance(r, Record) or not name_valid(r.kind):
        raise _bad("record.kind", "a record kind is 1-32 bytes of [a-z0-9_]")
    if not text_valid(r.id, False):
        raise _bad("record.id", "a record id is 1-255 bytes")
    if op_type != PUT:
        return
    if not _is_int(r.expires_at_ms) or r.expires_at_ms < 0:
        raise _bad("record.expires_at_ms", "expires_at_ms is 0 (never) or a time")
    if not isinstance(r.document, (bytes, bytearray)):
        raise _bad("record.document", "a document is bytes")
    keys = r.keys
    if not isinstance(keys, (tuple, list)) or len(keys) > KEYS_MAX:
        raise _bad("record.keys", "a record has at most 16 index entries")
    for k in keys:
        if not isinstance(k, Key) or not name_valid(k.index):
            raise _bad("record.keys.index", "an index name is 1-32 bytes of [a-z0-9_]")
        if not text_valid(k.value, True):
            raise _bad("record.keys.value", "an index value is 0-255 bytes")


def check_commit(commit: object) -> None:
    """What every store refuses with StorageInvalid (the Python mirror of
    constra_record_commit_check)."""
    if not isinstance(commit, Commit) or not _is_int(commit.now_ms):
        raise _bad("commit", "not a Commit")
    ops, events = commit.ops, commit.events
    if not isinstance(ops, (tuple, list)) or not isinstance(events, (tuple, list)):
        raise _bad("commit", "ops and events are sequences")
    if not ops and not events:
        raise _bad("commit", "a commit writes at least one operation or event")
    if len(ops) > COMMIT_MAX or len(events) > COMMIT_MAX:
        raise _bad("commit", "a commit has at most 1024 operations and 1024 events")
    for op in ops:
        if not isinstance(op, Op) or op.type not in (PUT, DELETE, ASSERT):
            raise _bad("commit.ops.type", "an operation is PUT, DELETE or ASSERT")
        if (not _is_int(op.expected_version) or op.expected_version < 0 or
                (op.type == DELETE and op.expected_version == 0)):
            raise _bad("commit.ops.expected_version",
                       "expected_version is 0 (absent) or the stored version; a delete names it")
        _check_record(op.record, op.type)
    seen = set()
    for e in events:
        if (not isinstance(e, Event) or not text_valid(e.id, False) or
                not text_valid(e.type, False) or not text_valid(e.stream, True) or
                not _is_int(e.expires_at_ms) or e.expires_at_ms < 0 or
                not _is_int(e.created_at_ms) or
                not isinstance(e.document, (bytes, bytearray))):
            raise _bad("commit.events",
                       "an event has an id and a type of 1-255 bytes, a stream of 0-255")
        raw = text_bytes(e.id)
        if raw in seen:
            raise _bad("commit.events.id", "an event id is given twice")
        seen.add(raw)


def check_scan(scan: object) -> None:
    if not isinstance(scan, Scan) or not name_valid(scan.kind):
        raise _bad("scan.kind", "a record kind is 1-32 bytes of [a-z0-9_]")
    if not isinstance(scan.index, str) or (scan.index != "" and not name_valid(scan.index)):
        raise _bad("scan.index", 'an index name is 1-32 bytes of [a-z0-9_], or ""')
    if not _is_int(scan.limit) or scan.limit < 1:
        raise _bad("scan.limit", "limit is at least 1")
    if (scan.after_value is None) != (scan.after_id is None):
        raise _bad("scan.after_id", "a cursor has both after_value and after_id")
    for t in (scan.from_, scan.to, scan.prefix, scan.after_value, scan.after_id):
        if t is not None and not text_valid(t, True):
            raise _bad("scan", "scan bounds are at most 255 bytes")
    if not _is_int(scan.now_ms):
        raise _bad("scan.now_ms", "now_ms is an int")


def scan_range(scan: Scan) -> Tuple[Optional[bytes], Optional[bytes], bool]:
    """(lo inclusive, hi exclusive, empty) of a scan's from/to/prefix, as
    bytes (constra__record_scan_range)."""
    lo = None if scan.from_ is None else text_bytes(scan.from_)
    hi = None if scan.to is None else text_bytes(scan.to)
    if scan.prefix:
        p = text_bytes(scan.prefix)
        if lo is None or p > lo:
            lo = p
        stem = p.rstrip(b"\xff")
        if stem:  # else all 0xFF: no successor, unbounded above
            succ = stem[:-1] + bytes([stem[-1] + 1])
            if hi is None or succ < hi:
                hi = succ
    return lo, hi, lo is not None and hi is not None and lo >= hi


# ---- DictStorage: the memory store in Python --------------------------------

class _Stored:
    """A stored record with its bytes precomputed."""
    __slots__ = ("record", "kind", "id", "entries")

    def __init__(self, record: Record) -> None:
        self.record = record
        self.kind = record.kind
        self.id = text_bytes(record.id)
        # (index, value bytes, unique), one per distinct entry
        self.entries = [(k.index, text_bytes(k.value), k.unique) for k in record.keys]


def _live(rec: Optional[Record], now_ms: int) -> bool:
    return rec is not None and (rec.expires_at_ms == 0 or rec.expires_at_ms > now_ms)


class DictStorage(Storage):
    """A record store in Python, thread-safe, with the semantics of the C
    memory store (record_memory.c): sorted lists (bisect) make every read
    and the purge proportional to what it returns. :meth:`clear` forgets
    everything; :meth:`records`, :meth:`all_events` and :meth:`snapshot`
    show what is stored (for tests)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._recs: Dict[Tuple[str, bytes], _Stored] = {}
            self._ids: Dict[str, List[bytes]] = {}  # kind -> sorted ids
            # (kind, index) -> sorted (value, id)
            self._ents: Dict[Tuple[str, str], List[Tuple[bytes, bytes]]] = {}
            self._expiring: List[Tuple[int, str, bytes]] = []  # (expires, kind, id)
            self._events: List[Event] = []  # by sequence
            self._seqs: List[int] = []
            self._by_stream: Dict[bytes, Tuple[List[int], List[Event]]] = {}
            self._ev_expiring: List[Tuple[int, int]] = []  # (expires, sequence)
            self._event_ids: Dict[bytes, Event] = {}
            self._last_sequence = 0

    # -- inspection ------------------------------------------------------------
    def records(self, kind: Optional[str] = None) -> List[Record]:
        """Stored records (dead ones too, until purged) by kind and id."""
        with self._lock:
            kinds = sorted(self._ids) if kind is None else [kind]
            return [self._recs[(k, i)].record for k in kinds for i in self._ids.get(k, [])]

    def all_events(self) -> List[Event]:
        with self._lock:
            return list(self._events)

    def snapshot(self) -> Tuple[Tuple[Record, ...], Tuple[Event, ...], int]:
        """Everything stored, comparable with ==."""
        with self._lock:
            return tuple(self.records()), tuple(self._events), self._last_sequence

    # -- linking ---------------------------------------------------------------
    def _link(self, s: _Stored) -> None:
        self._recs[(s.kind, s.id)] = s
        bisect.insort(self._ids.setdefault(s.kind, []), s.id)
        for index, value, _ in s.entries:
            bisect.insort(self._ents.setdefault((s.kind, index), []), (value, s.id))
        if s.record.expires_at_ms > 0:
            bisect.insort(self._expiring, (s.record.expires_at_ms, s.kind, s.id))

    @staticmethod
    def _remove(lst: list, item: object) -> None:
        pos = bisect.bisect_left(lst, item)
        assert pos < len(lst) and lst[pos] == item
        del lst[pos]

    def _unlink(self, s: _Stored) -> None:
        for index, value, _ in s.entries:
            self._remove(self._ents[(s.kind, index)], (value, s.id))
        if s.record.expires_at_ms > 0:
            self._remove(self._expiring, (s.record.expires_at_ms, s.kind, s.id))
        self._remove(self._ids[s.kind], s.id)
        del self._recs[(s.kind, s.id)]

    # -- commit ----------------------------------------------------------------
    @staticmethod
    def _earlier(targets: List[Tuple[str, bytes]], upto: int, target) -> int:
        """Index of the last operation before upto on the same record, -1."""
        for j in range(upto - 1, -1, -1):
            if targets[j] == target:
                return j
        return -1

    def _version_before(self, c: Commit, targets, i: int) -> int:
        """The live version of op i's record as the earlier ops leave it."""
        for j in range(i - 1, -1, -1):
            if targets[j] != targets[i]:
                continue
            op = c.ops[j]
            if op.type == PUT:
                return op.expected_version + 1
            if op.type == DELETE:
                return 0
            # ASSERT changes nothing: look further back
        s = self._recs.get(targets[i])
        return s.record.version if s is not None and _live(s.record, c.now_ms) else 0

    def _key_conflict(self, c: Commit, targets, i: int) -> bool:
        r = c.ops[i].record
        kind, rid = targets[i]
        for key in r.keys:
            value = text_bytes(key.value)
            # Stored entries of other live records, unless an earlier op of
            # this commit replaced or deleted that record.
            ents = self._ents.get((kind, key.index), [])
            pos = bisect.bisect_left(ents, (value, b""))
            while pos < len(ents) and ents[pos][0] == value:
                other_id = ents[pos][1]
                pos += 1
                if other_id == rid:
                    continue
                other = self._recs[(kind, other_id)]
                if not _live(other.record, c.now_ms):
                    continue
                held_unique = any(ix == key.index and v == value and u
                                  for ix, v, u in other.entries)
                if not (key.unique or held_unique):
                    continue
                j = self._earlier(targets, i, (kind, other_id))
                if j < 0 or c.ops[j].type == ASSERT:
                    return True
            # Records this commit put before op i and did not remove since.
            for j in range(i):
                op = c.ops[j]
                o = op.record
                if (op.type != PUT or targets[j][0] != kind or targets[j][1] == rid or
                        self._earlier(targets, i, targets[j]) != j or
                        (0 < o.expires_at_ms <= c.now_ms)):
                    continue
                for m in o.keys:
                    if ((key.unique or m.unique) and m.index == key.index and
                            text_bytes(m.value) == value):
                        return True
        return False

    @staticmethod
    def _collapsed(r: Record, version: int) -> Record:
        """The record as stored: its version, each (index, value) once
        (unique if any copy is)."""
        keys: List[Key] = []
        where: Dict[Tuple[str, bytes], int] = {}
        for k in r.keys:
            at = where.get((k.index, text_bytes(k.value)))
            if at is None:
                where[(k.index, text_bytes(k.value))] = len(keys)
                keys.append(Key(k.index, text_str(text_bytes(k.value)), bool(k.unique)))
            elif k.unique and not keys[at].unique:
                keys[at] = dataclasses.replace(keys[at], unique=True)
        return Record(r.kind, text_str(text_bytes(r.id)), version, r.expires_at_ms,
                      bytes(r.document), tuple(keys))

    def commit(self, commit: Commit) -> None:
        check_commit(commit)
        c = commit
        targets = [(op.record.kind, text_bytes(op.record.id)) for op in c.ops]
        with self._lock:
            # 1. Judge every operation, then the event ids.
            for i, op in enumerate(c.ops):
                current = self._version_before(c, targets, i)
                if current != op.expected_version:
                    raise StorageConflict(
                        f"operation {i}: {op.record.kind} {op.record.id!r} is at version "
                        f"{current}, not {op.expected_version}", failed_op=i)
                if op.type == PUT and self._key_conflict(c, targets, i):
                    raise StorageConflict(
                        f"operation {i}: a unique key of {op.record.kind} {op.record.id!r} "
                        "is held by another record", failed_op=i)
            for e in c.events:
                if text_bytes(e.id) in self._event_ids:
                    raise StorageConflict(f"event id {e.id!r} is stored",
                                          failed_op=len(c.ops))
            # 2. Build everything.
            fresh = [_Stored(self._collapsed(op.record, op.expected_version + 1))
                     if op.type == PUT else None for op in c.ops]
            evs = [Event(text_str(text_bytes(e.stream)), text_str(text_bytes(e.id)),
                         text_str(text_bytes(e.type)), e.created_at_ms, e.expires_at_ms,
                         bytes(e.document)) for e in c.events]
            # 3. Apply.
            for op, target, new in zip(c.ops, targets, fresh):
                if op.type == ASSERT:
                    continue
                old = self._recs.get(target)
                if old is not None:  # the live version, or a dead one an insert replaces
                    self._unlink(old)
                if new is not None:
                    self._link(new)
            for e in evs:
                self._last_sequence += 1
                e = dataclasses.replace(e, sequence=self._last_sequence)
                self._events.append(e)
                self._seqs.append(e.sequence)
                seqs, rows = self._by_stream.setdefault(text_bytes(e.stream), ([], []))
                seqs.append(e.sequence)
                rows.append(e)
                if e.expires_at_ms > 0:
                    bisect.insort(self._ev_expiring, (e.expires_at_ms, e.sequence))
                self._event_ids[text_bytes(e.id)] = e

    # -- reads -----------------------------------------------------------------
    def get(self, kind: str, id: str, now_ms: int) -> Optional[Record]:
        if not name_valid(kind) or not text_valid(id, False) or not _is_int(now_ms):
            raise _bad("get", "a kind of [a-z0-9_] and an id of 1-255 bytes")
        with self._lock:
            s = self._recs.get((kind, text_bytes(id)))
            return s.record if s is not None and _live(s.record, now_ms) else None

    def scan(self, scan: Scan) -> List[Tuple[str, Record]]:
        check_scan(scan)
        q = scan
        lo, hi, empty = scan_range(q)
        if empty:
            return []
        after_v = None if q.after_value is None else text_bytes(q.after_value)
        after_i = None if q.after_id is None else text_bytes(q.after_id)
        on_ids = q.index == ""

        def in_range(value: bytes, rid: bytes) -> bool:
            if (lo is not None and value < lo) or (hi is not None and value >= hi):
                return False
            if after_v is not None:
                key, cur = (value, rid), (after_v, after_i)
                if (key <= cur) if not q.descending else (key >= cur):
                    return False
            return True

        out: List[Tuple[str, Record]] = []
        with self._lock:
            if on_ids:
                ids = self._ids.get(q.kind, [])
                n = len(ids)
                row = lambda i: (ids[i], ids[i])  # noqa: E731
                pos_of = lambda v, i: bisect.bisect_left(ids, v)  # noqa: E731
            else:
                ents = self._ents.get((q.kind, q.index), [])
                n = len(ents)
                row = lambda i: ents[i]  # noqa: E731
                pos_of = lambda v, i: bisect.bisect_left(ents, (v, i))  # noqa: E731
            # Start exactly where the scan can first match (the range's end
            # or the cursor, whichever comes first in its direction).
            if not q.descending:
                start = pos_of(lo or b"", b"")
                if after_v is not None:
                    start = max(start, pos_of(after_v, after_i))
                steps = range(start, n)
            else:
                start = n if hi is None else pos_of(hi, b"")
                if after_v is not None:
                    start = min(start, pos_of(after_v, after_i))
                steps = range(start - 1, -1, -1)
            for i in steps:
                if len(out) >= q.limit:
                    break
                value, rid = row(i)
                if not q.descending and hi is not None and value >= hi:
                    break
                if q.descending and lo is not None and value < lo:
                    break
                s = self._recs[(q.kind, rid)]
                if not _live(s.record, q.now_ms) or not in_range(value, rid):
                    continue
                out.append((text_str(value), s.record))
        return out

    def events(self, stream: Optional[str], after_sequence: int,
               limit: int) -> List[Event]:
        if (not _is_int(limit) or limit < 1 or not _is_int(after_sequence) or
                (stream is not None and not text_valid(stream, True))):
            raise _bad("events", "limit is at least 1; a stream is 0-255 bytes or None")
        with self._lock:
            if stream is None:
                seqs, rows = self._seqs, self._events
            else:
                seqs, rows = self._by_stream.get(text_bytes(stream), ([], []))
            pos = bisect.bisect_right(seqs, after_sequence)
            return rows[pos:pos + limit]

    def purge(self, now_ms: int, max: int) -> int:
        done = 0
        with self._lock:
            for _ in range(max):
                if not self._expiring or self._expiring[0][0] > now_ms:
                    break
                _, kind, rid = self._expiring[0]
                self._unlink(self._recs[(kind, rid)])
                done += 1
            for _ in range(max):
                if not self._ev_expiring or self._ev_expiring[0][0] > now_ms:
                    break
                _, seq = self._ev_expiring.pop(0)
                pos = bisect.bisect_left(self._seqs, seq)
                e = self._events[pos]
                del self._seqs[pos], self._events[pos]
                seqs, rows = self._by_stream[text_bytes(e.stream)]
                pos = bisect.bisect_left(seqs, seq)
                del seqs[pos], rows[pos]
                del self._event_ids[text_bytes(e.id)]
                done += 1
        return done


# ---- the adapter: a Python storage behind the C vtable ---------------------

def _cs(raw: Optional[bytes]) -> str:
    """A C text argument as str (copied: the bytes object is ours)."""
    return "" if raw is None else text_str(raw)


def _opt(raw: Optional[bytes]) -> Optional[str]:
    return None if raw is None else text_str(raw)


def _record_from_c(r: N.Record, full: bool) -> Record:
    if not full:  # DELETE and ASSERT: kind and id only
        return Record(_cs(r.kind), _cs(r.id))
    keys = tuple(Key(_cs(k.index), _cs(k.value), bool(k.unique))
                 for k in r.keys[:r.key_count]) if r.key_count else ()
    return Record(_cs(r.kind), _cs(r.id), r.version, r.expires_at_ms,
                  N.take_bytes(r.document, r.document_len), keys)


def _event_from_c(e: N.RecordEvent) -> Event:
    return Event(_cs(e.stream), _cs(e.id), _cs(e.type), e.created_at_ms, e.expires_at_ms,
                 N.take_bytes(e.document, e.document_len), 0)


def _commit_from_c(c: N.RecordCommit) -> Commit:
    ops = tuple(Op(c.ops[i].type, _record_from_c(c.ops[i].record.contents,
                                                 c.ops[i].type == PUT),
                   c.ops[i].expected_version) for i in range(c.op_count))
    events = tuple(_event_from_c(c.events[i]) for i in range(c.event_count))
    return Commit(c.now_ms, ops, events)


def _scan_from_c(q: N.RecordScan) -> Scan:
    if q.struct_size < ctypes.sizeof(N.RecordScan) or q.kind is None or q.index is None:
        raise _bad("scan", "a scan has a kind and an index")
    scan = Scan(_cs(q.kind), _cs(q.index), _opt(getattr(q, "from")), _opt(q.to),
                _opt(q.prefix), _opt(q.after_value), _opt(q.after_id), bool(q.descending),
                q.limit, q.now_ms)
    check_scan(scan)
    return scan


def _out_text(value: object, what: str, empty_ok: bool) -> bytes:
    """Text a storage returned, as the bytes C gets; garbage raises
    TypeError / ValueError (CONSTRA_E_STORAGE, never INVALID_ARGUMENT)."""
    if not isinstance(value, str):
        raise TypeError(f"storage returned {type(value).__name__} as {what}, not a str")
    if not text_valid(value, empty_ok):
        raise ValueError(f"storage returned an invalid {what}: {value[:40]!r}")
    return text_bytes(value)


def _out_int(value: object, what: str, lo: int) -> int:
    if not _is_int(value):
        raise TypeError(f"storage returned {type(value).__name__} as {what}, not an int")
    if not lo <= value < 2 ** 63:  # type: ignore[operator]
        raise ValueError(f"storage returned {what} {value}")
    return value  # type: ignore[return-value]


def _out_doc(value: object, what: str):
    if not isinstance(value, (bytes, bytearray)):
        raise TypeError(f"storage returned {type(value).__name__} as {what}, not bytes")
    data = bytes(value)
    # Always a real pointer (NULL only with length 0 is allowed, but a
    # reader may memcpy from it): one spare byte for the empty document.
    buf = ctypes.create_string_buffer(data, len(data) or 1)
    return buf, ctypes.cast(buf, ctypes.c_void_p), len(data)


class _Row:
    """A C row built from a Python one, with every object its pointers
    borrow kept alive for as long as the row is."""
    __slots__ = ("struct", "keep")

    def __init__(self, struct, keep) -> None:
        self.struct = struct
        self.keep = keep


def _record_to_c(rec: object, kind: str, id: Optional[str] = None) -> _Row:
    if not isinstance(rec, Record):
        raise TypeError(f"storage returned {type(rec).__name__}, not a Record")
    if rec.kind != kind or not name_valid(rec.kind):
        raise ValueError(f"storage returned a record of kind {rec.kind!r} for {kind!r}")
    rid = _out_text(rec.id, "record id", False)
    if id is not None and rid != text_bytes(id):
        raise ValueError(f"storage returned record {rec.id!r} for {id!r}")
    version = _out_int(rec.version, "record version", 1)
    expires = _out_int(rec.expires_at_ms, "record expires_at_ms", 0)
    buf, ptr, n = _out_doc(rec.document, "record document")
    keys = rec.keys
    if not isinstance(keys, (tuple, list)) or len(keys) > KEYS_MAX:
        raise TypeError("storage returned record keys that are not a sequence of at most 16")
    arr = (N.RecordKey * max(len(keys), 1))()
    texts = []
    for i, k in enumerate(keys):
        if not isinstance(k, Key) or not name_valid(k.index):
            raise TypeError(f"storage returned {type(k).__name__} as a record key")
        value = _out_text(k.value, "key value", True)
        index = k.index.encode("ascii")
        texts += [index, value]
        arr[i] = N.RecordKey(index, value, 1 if k.unique else 0)
    kb = kind.encode("ascii")
    row = N.Record(ctypes.sizeof(N.Record), kb, rid, version, expires, ptr, n,
                   ctypes.cast(arr, ctypes.POINTER(N.RecordKey)) if keys else None, len(keys))
    return _Row(row, (kb, rid, buf, arr, texts))


def _event_to_c(ev: object) -> _Row:
    if not isinstance(ev, Event):
        raise TypeError(f"storage returned {type(ev).__name__}, not an Event")
    texts = [_out_text(ev.stream, "event stream", True), _out_text(ev.id, "event id", False),
             _out_text(ev.type, "event type", False)]
    seq = _out_int(ev.sequence, "event sequence", 1)
    created = _out_int(ev.created_at_ms, "event created_at_ms", -(2 ** 63))
    expires = _out_int(ev.expires_at_ms, "event expires_at_ms", 0)
    buf, ptr, n = _out_doc(ev.document, "event document")
    row = N.RecordEvent(ctypes.sizeof(N.RecordEvent), seq, *texts, created, expires, ptr, n)
    return _Row(row, (texts, buf))


class StorageAdapter:
    """Builds a constra_storage whose methods call a Python storage.

    The CFUNCTYPE objects live as attributes of this adapter: C holds bare
    function pointers, so they must not be collected while a handle can
    call them (the Client keeps the adapter until constra_close returns).
    Every callback catches everything (BaseException too): an exception
    must never unwind through C frames, and ctypes would otherwise turn it
    into a return of 0, which C reads as success. Everything C lends is
    copied into Python objects before the storage sees it; every row given
    to C stays alive until its emit returns."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._local = threading.local()  # the last exception, per calling thread
        self.destroyed = False
        self.vtable = N.init_struct(N.storage_init, N.Storage)
        self._fns = dict(
            commit=N.CommitFn(self._commit),
            get=N.GetFn(self._get),
            scan=N.ScanFn(self._scan),
            events=N.EventsFn(self._events),
            purge=N.PurgeFn(self._purge),
            destroy=N.DestroyFn(self._destroy),
        )
        for name, fn in self._fns.items():
            setattr(self.vtable, name, fn)

    def _remember(self, exc: BaseException) -> None:
        self._local.exc = exc

    def take_exception(self) -> Optional[BaseException]:
        exc = getattr(self._local, "exc", None)
        self._local.exc = None
        return exc

    def _guard(self, call, failed_ptr=None, commit_of=None) -> int:
        try:
            rc = call()
            return N.OK if rc is None else int(rc)
        except StorageConflict as exc:
            try:
                at = exc.failed_op
                op_count = commit_of["ops"] if commit_of else 0
                if at is not None:
                    if not _is_int(at) or not 0 <= at <= op_count:
                        raise ValueError(f"StorageConflict(failed_op={at!r}) names no "
                                         f"operation of a commit of {op_count}")
                    if failed_ptr:
                        failed_ptr[0] = at
                return N.E_CONFLICT
            except BaseException as bad:  # noqa: B902 - nothing may cross into C
                self._remember(bad)
                return N.E_STORAGE
        except StorageNotFound:
            return N.E_NOT_FOUND
        except StorageInvalid as exc:
            self._remember(exc)
            return N.E_INVALID_ARGUMENT
        except BaseException as exc:  # noqa: B902 - nothing may cross into C
            try:
                self._remember(exc)
            except BaseException:  # noqa: B902 pragma: no cover
                pass
            return N.E_STORAGE

    # Each method converts the C arguments, calls the storage, converts back.
    def _commit(self, _ud, cptr, failed_ptr) -> int:
        commit_of = {"ops": 0}

        def run():
            if not cptr:
                return N.E_INVALID_ARGUMENT
            # The library's own rules first: the storage sees only
            # well-formed commits (and cannot disagree about them).
            rc = N.record_commit_check(cptr, None)
            if rc != N.OK:
                return rc
            commit_of["ops"] = cptr.contents.op_count
            self.storage.commit(_commit_from_c(cptr.contents))
            return N.OK
        return self._guard(run, failed_ptr, commit_of)

    def _get(self, _ud, kind, id, now, emit, ctx) -> int:
        def run():
            if not emit or kind is None or id is None:
                return N.E_INVALID_ARGUMENT
            k, i = _cs(kind), _cs(id)
            if not name_valid(k) or not text_valid(i, False):
                return N.E_INVALID_ARGUMENT
            rec = self.storage.get(k, i, now)
            if rec is None:
                return N.E_NOT_FOUND
            row = _record_to_c(rec, k, i)
            emit(ctx, ctypes.byref(row.struct))
            return N.OK
        return self._guard(run)

    def _scan(self, _ud, qptr, emit, ctx) -> int:
        def run():
            if not qptr or not emit:
                return N.E_INVALID_ARGUMENT
            scan = _scan_from_c(qptr.contents)
            sent = 0
            for item in self.storage.scan(scan):
                if sent >= scan.limit:
                    break
                if not isinstance(item, tuple) or len(item) != 2:
                    raise TypeError(f"storage scan yielded {type(item).__name__}, "
                                    "not a (value, Record) pair")
                value = _out_text(item[0], "scan value", True)
                row = _record_to_c(item[1], scan.kind)
                sent += 1
                if emit(ctx, value, ctypes.byref(row.struct)) != 0:
                    break
            return N.OK
        return self._guard(run)

    def _events(self, _ud, stream, after, limit, emit, ctx) -> int:
        def run():
            if not emit or limit == 0:
                return N.E_INVALID_ARGUMENT
            st = _opt(stream)
            if st is not None and not text_valid(st, True):
                return N.E_INVALID_ARGUMENT
            sent, last = 0, after
            for ev in self.storage.events(st, after, limit):
                if sent >= limit:
                    break
                row = _event_to_c(ev)
                if row.struct.sequence <= last:
                    raise ValueError(f"storage returned event sequence {row.struct.sequence} "
                                     f"after {last}: events come in sequence order")
                if st is not None and ev.stream != st:
                    raise ValueError(f"storage returned an event of stream {ev.stream!r} "
                                     f"for {st!r}")
                last = row.struct.sequence
                sent += 1
                if emit(ctx, ctypes.byref(row.struct)) != 0:
                    break
            return N.OK
        return self._guard(run)

    def _purge(self, _ud, now, max_, purged_ptr) -> int:
        def run():
            n = self.storage.purge(now, max_)
            n = 0 if n is None else _out_int(n, "purge count", 0)
            if purged_ptr:
                purged_ptr[0] = n
            return N.OK
        return self._guard(run)

    def _destroy(self, _ud) -> None:
        if self.destroyed:
            return
        self.destroyed = True
        try:
            close = getattr(self.storage, "close", None)
            if close is not None:
                close()
        except BaseException as exc:  # noqa: B902 - destroy cannot report
            try:
                self._remember(exc)
            except BaseException:  # noqa: B902 pragma: no cover
                pass
