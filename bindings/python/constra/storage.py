"""Storages: the C storage vtable (include/constra/storage.h) implemented
in Python.

A storage written in Python subclasses :class:`Storage` (or follows its
methods) and is handed to ``Client(storage=...)``. The engine calls it
through ctypes callbacks on the thread that called into the engine; rows
cross as the records below (documents are ``bytes``, opaque JSON).

Errors: raise :class:`StorageConflict` for a version mismatch, a duplicate
id or a taken key (CONSTRA_E_CONFLICT), :class:`StorageNotFound` for a
compare-and-set on a missing intent. Any other exception becomes
CONSTRA_E_STORAGE in C: the engine then leaves its state as it was and the
Client raises :class:`~constra.errors.StorageError` whose ``__cause__`` is
your exception. A failing method must not have changed anything.
"""
from __future__ import annotations

import bisect
import ctypes
import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

from . import _native as N

IN_FLIGHT = 1
COMPLETED = 2


class StorageConflict(Exception):
    """Version mismatch, duplicate id, or idempotency key taken."""


class StorageNotFound(Exception):
    """Compare-and-set on an intent that does not exist."""


@dataclass(frozen=True)
class IntentRecord:
    id: str
    status: str
    reference: str
    checkout_request_id: str
    created_at_ms: int
    updated_at_ms: int
    version: int
    document: bytes


@dataclass(frozen=True)
class EventRecord:
    id: str
    intent_id: str  # "" for a callback that matched no intent
    type: str
    created_at_ms: int
    sequence: int  # assigned by the storage; 0 on write
    document: bytes


@dataclass(frozen=True)
class IdempotencyRecord:
    key: str
    fingerprint: str
    state: int  # IN_FLIGHT or COMPLETED
    http_status: int
    response: bytes
    created_at_ms: int
    expires_at_ms: int
    lease_expires_at_ms: int


@dataclass(frozen=True)
class Write:
    """One atomic write: all of it or none."""
    intent: Optional[IntentRecord]
    expected_version: int  # 0: insert; else the version the engine read
    events: List[EventRecord]
    idempotency: Optional[IdempotencyRecord]


@dataclass(frozen=True)
class Query:
    status: str  # "" = any
    reference: str  # "" = any
    created_from_ms: int  # inclusive; 0 = no bound
    created_to_ms: int  # exclusive; 0 = no bound
    starting_after: str  # "" = from the newest
    limit: int


class Storage:
    """The methods a storage implements (see storage.h for the contract)."""

    def commit(self, write: Write) -> None:
        raise NotImplementedError

    def get_intent(self, intent_id: str) -> Optional[IntentRecord]:
        raise NotImplementedError

    def find_by_checkout(self, checkout_request_id: str) -> Optional[IntentRecord]:
        raise NotImplementedError

    def list_intents(self, query: Query) -> Iterable[IntentRecord]:
        """Matching intents newest first (by id, descending), at most limit."""
        raise NotImplementedError

    def list_events(self, intent_id: Optional[str], after_sequence: int,
                    limit: int) -> Iterable[EventRecord]:
        """Events with sequence > after_sequence in commit order; only those
        of intent_id, or all (None), or unmatched callbacks only ("")."""
        raise NotImplementedError

    def idempotency_reserve(self, record: IdempotencyRecord,
                            now_ms: int) -> Optional[IdempotencyRecord]:
        """Insert-if-absent of an IN_FLIGHT record: None when reserved, else
        the live record that holds the key."""
        raise NotImplementedError

    def idempotency_complete(self, record: IdempotencyRecord) -> None:
        raise NotImplementedError

    def idempotency_release(self, key: str, fingerprint: str) -> None:
        raise NotImplementedError

    def purge_expired(self, now_ms: int) -> None:
        """Optional: drop idempotency records expired at now_ms."""

    def close(self) -> None:
        """Called once when the engine drops the storage."""


class DictStorage(Storage):
    """A storage in Python dicts, thread-safe, same semantics as the C
    memory storage. :meth:`clear` forgets everything (for tests)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.intents: Dict[str, IntentRecord] = {}
            self._sorted: List[str] = []
            self._by_checkout: Dict[str, str] = {}
            self.events: List[EventRecord] = []
            self._events_of: Dict[str, List[int]] = {}
            self._seq = 0
            self.idempotency: Dict[str, IdempotencyRecord] = {}

    # -- writes ------------------------------------------------------------
    def commit(self, write: Write) -> None:
        with self._lock:
            # Decide everything first, then apply in steps that cannot fail.
            new = write.intent
            if new is not None:
                cur = self.intents.get(new.id)
                if write.expected_version == 0:
                    if cur is not None:
                        raise StorageConflict(f"intent {new.id} exists")
                elif cur is None:
                    raise StorageNotFound(new.id)
                elif cur.version != write.expected_version:
                    raise StorageConflict(f"intent {new.id} is at version {cur.version}")
                owner = self._by_checkout.get(new.checkout_request_id)
                if new.checkout_request_id and owner is not None and owner != new.id:
                    raise StorageConflict("checkout id belongs to another intent")
            idem = write.idempotency
            if idem is not None:
                held = self.idempotency.get(idem.key)
                if held is None or held.state != IN_FLIGHT or held.fingerprint != idem.fingerprint:
                    raise StorageConflict(f"key {idem.key} is not reserved for this request")
            if new is not None:
                cur = self.intents.get(new.id)
                if cur is None:
                    bisect.insort(self._sorted, new.id)
                # Earlier checkout ids stay mapped for the life of the intent
                # (storage.h find_by_checkout): a late result for a
                # superseded attempt must still find it.
                self.intents[new.id] = new
                if new.checkout_request_id:
                    self._by_checkout[new.checkout_request_id] = new.id
            for ev in write.events:
                self._seq += 1
                self.events.append(dataclasses.replace(ev, sequence=self._seq))
                if ev.intent_id:
                    self._events_of.setdefault(ev.intent_id, []).append(len(self.events) - 1)
            if idem is not None:
                held = self.idempotency[idem.key]
                self.idempotency[idem.key] = dataclasses.replace(
                    held, state=COMPLETED, http_status=idem.http_status,
                    response=idem.response, expires_at_ms=idem.expires_at_ms)

    def idempotency_reserve(self, record: IdempotencyRecord,
                            now_ms: int) -> Optional[IdempotencyRecord]:
        with self._lock:
            cur = self.idempotency.get(record.key)
            dead = cur is not None and (cur.expires_at_ms <= now_ms or (
                cur.state == IN_FLIGHT and cur.lease_expires_at_ms <= now_ms))
            if cur is not None and not dead:
                return cur
            self.idempotency[record.key] = dataclasses.replace(
                record, state=IN_FLIGHT, http_status=0, response=b"")
            return None

    def idempotency_complete(self, record: IdempotencyRecord) -> None:
        self.commit(Write(None, 0, [], record))

    def idempotency_release(self, key: str, fingerprint: str) -> None:
        with self._lock:
            cur = self.idempotency.get(key)
            if cur is not None and cur.state == IN_FLIGHT and cur.fingerprint == fingerprint:
                del self.idempotency[key]

    def purge_expired(self, now_ms: int) -> None:
        with self._lock:
            for key in [k for k, r in self.idempotency.items() if r.expires_at_ms <= now_ms]:
                del self.idempotency[key]

    # -- reads ---------------------------------------------------------------
    def get_intent(self, intent_id: str) -> Optional[IntentRecord]:
        with self._lock:
            return self.intents.get(intent_id)

    def find_by_checkout(self, checkout_request_id: str) -> Optional[IntentRecord]:
        with self._lock:
            owner = self._by_checkout.get(checkout_request_id)
            return self.intents.get(owner) if owner is not None else None

    def list_intents(self, query: Query) -> Iterable[IntentRecord]:
        with self._lock:
            end = len(self._sorted)
            if query.starting_after:
                end = bisect.bisect_left(self._sorted, query.starting_after)
            out: List[IntentRecord] = []
            for k in range(end - 1, -1, -1):
                if len(out) >= query.limit:
                    break
                rec = self.intents[self._sorted[k]]
                if ((query.status and rec.status != query.status) or
                        (query.reference and rec.reference != query.reference) or
                        (query.created_from_ms and rec.created_at_ms < query.created_from_ms) or
                        (query.created_to_ms and rec.created_at_ms >= query.created_to_ms)):
                    continue
                out.append(rec)
            return out

    def list_events(self, intent_id: Optional[str], after_sequence: int,
                    limit: int) -> Iterable[EventRecord]:
        with self._lock:
            if intent_id:
                rows = (self.events[i] for i in self._events_of.get(intent_id, []))
            elif intent_id is None:
                rows = iter(self.events)
            else:
                rows = (e for e in self.events if not e.intent_id)
            out: List[EventRecord] = []
            for ev in rows:
                if len(out) >= limit:
                    break
                if ev.sequence > after_sequence:
                    out.append(ev)
            return out


# ---- the adapter: a Python storage behind the C vtable ---------------------

def _s(raw: Optional[bytes]) -> str:
    return raw.decode("utf-8") if raw else ""


def _intent_from_c(row: N.StorageIntent) -> IntentRecord:
    return IntentRecord(_s(row.id), _s(row.status), _s(row.reference),
                        _s(row.checkout_request_id), row.created_at_ms, row.updated_at_ms,
                        row.version, N.take_bytes(row.document, row.document_len))


def _event_from_c(row: N.StorageEvent) -> EventRecord:
    return EventRecord(_s(row.id), _s(row.intent_id), _s(row.type), row.created_at_ms, 0,
                       N.take_bytes(row.document, row.document_len))


def _idem_from_c(row: N.StorageIdempotency) -> IdempotencyRecord:
    return IdempotencyRecord(_s(row.key), _s(row.fingerprint), row.state, row.http_status,
                             N.take_bytes(row.response, row.response_len), row.created_at_ms,
                             row.expires_at_ms, row.lease_expires_at_ms)


def _enc(text: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"storage returned {type(text).__name__} where a str belongs")
    return text.encode("utf-8")


def _doc(data: bytes):
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"storage returned {type(data).__name__} where bytes belong")
    buf = ctypes.c_char_p(bytes(data))
    return buf, ctypes.cast(buf, ctypes.c_void_p), len(data)


class _Row:
    """A C row built from a record, with the Python objects its pointers
    borrow kept alive for as long as the row is."""

    def __init__(self, struct, keep):
        self.struct = struct
        self.keep = keep


def _intent_to_c(rec: IntentRecord) -> _Row:
    strs = [_enc(rec.id), _enc(rec.status), _enc(rec.reference), _enc(rec.checkout_request_id)]
    buf, ptr, n = _doc(rec.document)
    row = N.StorageIntent(ctypes.sizeof(N.StorageIntent), *strs, rec.created_at_ms,
                          rec.updated_at_ms, rec.version, ptr, n)
    return _Row(row, (strs, buf))


def _event_to_c(rec: EventRecord) -> _Row:
    strs = [_enc(rec.id), _enc(rec.intent_id), _enc(rec.type)]
    buf, ptr, n = _doc(rec.document)
    row = N.StorageEvent(ctypes.sizeof(N.StorageEvent), *strs, rec.created_at_ms,
                         rec.sequence, ptr, n)
    return _Row(row, (strs, buf))


def _idem_to_c(rec: IdempotencyRecord) -> _Row:
    strs = [_enc(rec.key), _enc(rec.fingerprint)]
    buf, ptr, n = _doc(rec.response)
    row = N.StorageIdempotency(ctypes.sizeof(N.StorageIdempotency), *strs, rec.state,
                               rec.http_status, ptr, n, rec.created_at_ms, rec.expires_at_ms,
                               rec.lease_expires_at_ms)
    return _Row(row, (strs, buf))


class StorageAdapter:
    """Builds a constra_storage whose methods call a Python storage.

    The CFUNCTYPE objects live as attributes of this adapter: C holds bare
    function pointers, so they must not be collected while a handle can
    call them (the Client keeps the adapter until constra_close returns).
    Every callback catches everything: an exception must never unwind
    through C frames, and ctypes would otherwise turn it into a return of 0,
    which C reads as success."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.last_exception: Optional[BaseException] = None
        self.destroyed = False
        self.vtable = N.init_struct(N.storage_init, N.Storage)
        self._fns = dict(
            commit=N.CommitFn(self._commit),
            get_intent=N.GetIntentFn(self._get_intent),
            find_by_checkout=N.GetIntentFn(self._find_by_checkout),
            list_intents=N.ListIntentsFn(self._list_intents),
            list_events=N.ListEventsFn(self._list_events),
            idempotency_reserve=N.ReserveFn(self._reserve),
            idempotency_complete=N.CompleteFn(self._complete),
            idempotency_release=N.ReleaseFn(self._release),
            purge_expired=N.PurgeFn(self._purge),
            destroy=N.DestroyFn(self._destroy),
        )
        for name, fn in self._fns.items():
            setattr(self.vtable, name, fn)

    def _guard(self, call) -> int:
        try:
            rc = call()
            return N.OK if rc is None else rc
        except StorageConflict:
            return N.E_CONFLICT
        except StorageNotFound:
            return N.E_NOT_FOUND
        except BaseException as exc:  # noqa: B902 - nothing may cross into C
            self.last_exception = exc
            return N.E_STORAGE

    def take_exception(self) -> Optional[BaseException]:
        exc, self.last_exception = self.last_exception, None
        return exc

    # Each method converts the C arguments, calls the storage, converts back.
    def _commit(self, _ud, w) -> int:
        def run():
            write = w.contents
            intent = _intent_from_c(write.intent.contents) if write.intent else None
            events = [_event_from_c(write.events[i]) for i in range(write.event_count)]
            idem = _idem_from_c(write.idempotency.contents) if write.idempotency else None
            self.storage.commit(Write(intent, write.expected_version, events, idem))
        return self._guard(run)

    def _emit_one(self, rec, emit, ctx) -> int:
        if rec is None:
            return N.E_NOT_FOUND
        if not isinstance(rec, IntentRecord):
            raise TypeError(f"storage returned {type(rec).__name__}, not an IntentRecord")
        row = _intent_to_c(rec)
        emit(ctx, ctypes.byref(row.struct))
        return N.OK

    def _get_intent(self, _ud, intent_id, emit, ctx) -> int:
        return self._guard(lambda: self._emit_one(
            self.storage.get_intent(_s(intent_id)), emit, ctx))

    def _find_by_checkout(self, _ud, checkout, emit, ctx) -> int:
        return self._guard(lambda: self._emit_one(
            self.storage.find_by_checkout(_s(checkout)), emit, ctx))

    def _list_intents(self, _ud, q, emit, ctx) -> int:
        def run():
            c = q.contents
            query = Query(_s(c.status), _s(c.reference), c.created_from_ms, c.created_to_ms,
                          _s(c.starting_after), c.limit)
            rows = [_intent_to_c(r) for r in self.storage.list_intents(query)]
            for row in rows[:c.limit]:
                if emit(ctx, ctypes.byref(row.struct)) != 0:
                    break
        return self._guard(run)

    def _list_events(self, _ud, intent_id, after, limit, emit, ctx) -> int:
        def run():
            owner = None if intent_id is None else _s(intent_id)
            rows = [_event_to_c(r) for r in self.storage.list_events(owner, after, limit)]
            for row in rows[:limit]:
                if emit(ctx, ctypes.byref(row.struct)) != 0:
                    break
        return self._guard(run)

    def _reserve(self, _ud, rec, now, emit, ctx) -> int:
        def run():
            held = self.storage.idempotency_reserve(_idem_from_c(rec.contents), now)
            if held is None:
                return N.OK
            row = _idem_to_c(held)
            if emit:
                emit(ctx, ctypes.byref(row.struct))
            return N.E_CONFLICT
        return self._guard(run)

    def _complete(self, _ud, rec) -> int:
        return self._guard(lambda: self.storage.idempotency_complete(_idem_from_c(rec.contents)))

    def _release(self, _ud, key, fingerprint) -> int:
        return self._guard(lambda: self.storage.idempotency_release(_s(key), _s(fingerprint)))

    def _purge(self, _ud, now) -> int:
        return self._guard(lambda: self.storage.purge_expired(now))

    def _destroy(self, _ud) -> None:
        if self.destroyed:
            return
        self.destroyed = True
        try:
            close = getattr(self.storage, "close", None)
            if close is not None:
                close()
        except BaseException as exc:  # noqa: B902 - destroy cannot report
            self.last_exception = exc
