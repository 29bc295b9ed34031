"""A Python port of tests/storage/record_conformance.c (a meaningful
subset: compare-and-set, ASSERT, ordered atomic commits, unique keys,
expiry, purge, scans with cursors both ways and byte order, events, bad
input), run three ways with the same cases:

  DictStorage               called directly from Python;
  DictStorage via C         through StorageAdapter's constra_storage (the
                            ctypes trampolines, both directions);
  C memory store            constra_storage_memory(), the reference: the
                            same cases prove DictStorage mirrors it.
"""
import ctypes
import threading
import unittest

import constra
from constra import _native as N
from constra.storage import (ASSERT, DELETE, PUT, Commit, DictStorage, Event, Key, Op, Record,
                             Scan, StorageAdapter, StorageConflict, StorageInvalid,
                             _commit_from_c, _event_from_c, _record_from_c, check_commit,
                             text_bytes, text_str)

NOW = 1764239894625


# ---- a Python storage API over any C constra_storage -----------------------

def commit_to_c(commit):
    """A Python Commit as C structs (and what they borrow)."""
    keep = []

    def b(t):
        raw = text_bytes(t)
        keep.append(raw)
        return raw

    def doc(d):
        buf = ctypes.create_string_buffer(bytes(d), len(d) or 1)
        keep.append(buf)
        return ctypes.cast(buf, ctypes.c_void_p), len(d)

    ops = (N.RecordOp * max(len(commit.ops), 1))()
    for i, op in enumerate(commit.ops):
        r = op.record
        keys = (N.RecordKey * max(len(r.keys), 1))()
        for k, key in enumerate(r.keys):
            keys[k] = N.RecordKey(b(key.index), b(key.value), int(key.unique))
        ptr, n = doc(r.document)
        rec = N.Record(ctypes.sizeof(N.Record), b(r.kind), b(r.id), r.version, r.expires_at_ms,
                       ptr, n, ctypes.cast(keys, ctypes.POINTER(N.RecordKey)), len(r.keys))
        keep += [keys, rec]
        ops[i] = N.RecordOp(op.type, ctypes.pointer(rec), op.expected_version)
    evs = (N.RecordEvent * max(len(commit.events), 1))()
    for i, e in enumerate(commit.events):
        ptr, n = doc(e.document)
        evs[i] = N.RecordEvent(ctypes.sizeof(N.RecordEvent), 0, b(e.stream), b(e.id), b(e.type),
                               e.created_at_ms, e.expires_at_ms, ptr, n)
    c = N.RecordCommit(ctypes.sizeof(N.RecordCommit), commit.now_ms,
                       ops if commit.ops else None, len(commit.ops),
                       evs if commit.events else None, len(commit.events))
    keep += [ops, evs]
    return c, keep


def raise_for(rc, failed=None):
    if rc == N.OK:
        return
    if rc == N.E_CONFLICT:
        raise StorageConflict(failed_op=failed)
    if rc == N.E_INVALID_ARGUMENT:
        raise StorageInvalid("invalid")
    raise RuntimeError(f"storage returned {rc}")


class CStore:
    """The Python storage methods on top of a constra_storage."""

    def __init__(self, vt, owner=None):
        self.vt = vt
        self.owner = owner  # keeps an adapter alive

    def commit(self, commit):
        c, keep = commit_to_c(commit)
        failed = ctypes.c_size_t(12345)
        rc = self.vt.commit(self.vt.user_data, ctypes.byref(c), ctypes.byref(failed))
        raise_for(rc, failed.value)

    def get(self, kind, id, now_ms):
        got = []
        fn = N.RecordFn(lambda ctx, r: got.append(_record_from_c(r.contents, True)) or 0)
        rc = self.vt.get(self.vt.user_data, text_bytes(kind), text_bytes(id), now_ms, fn, None)
        if rc == N.E_NOT_FOUND:
            assert got == []
            return None
        raise_for(rc)
        assert len(got) == 1
        return got[0]

    def scan(self, q, stop_after=0):
        rows = []

        def emit(ctx, value, r):
            rows.append((text_str(value), _record_from_c(r.contents, True)))
            return 1 if stop_after and len(rows) >= stop_after else 0
        fn = N.RecordScanFn(emit)
        opt = lambda t: None if t is None else text_bytes(t)  # noqa: E731
        cq = N.RecordScan(ctypes.sizeof(N.RecordScan), opt(q.kind), opt(q.index), opt(q.from_),
                          opt(q.to), opt(q.prefix), opt(q.after_value), opt(q.after_id),
                          int(q.descending), q.limit, q.now_ms)
        raise_for(self.vt.scan(self.vt.user_data, ctypes.byref(cq), fn, None))
        return rows

    def events(self, stream, after, limit, stop_after=0):
        out = []

        def emit(ctx, e):
            ev = _event_from_c(e.contents)
            out.append(Event(ev.stream, ev.id, ev.type, ev.created_at_ms, ev.expires_at_ms,
                             ev.document, e.contents.sequence))
            return 1 if stop_after and len(out) >= stop_after else 0
        fn = N.RecordEventFn(emit)
        raise_for(self.vt.events(self.vt.user_data, None if stream is None else text_bytes(stream),
                                 after, limit, fn, None))
        return out

    def purge(self, now_ms, max):
        n = ctypes.c_size_t(999)
        raise_for(self.vt.purge(self.vt.user_data, now_ms, max, ctypes.byref(n)))
        return n.value

    def close(self):
        if self.vt.destroy:
            self.vt.destroy(self.vt.user_data)


def c_memory_store():
    vt = N.init_struct(N.storage_init, N.Storage)
    err = N.new_error()
    assert N.storage_memory(ctypes.byref(vt), None, ctypes.byref(err)) == N.OK
    return CStore(vt)


def dict_through_c():
    adapter = StorageAdapter(DictStorage())
    return CStore(adapter.vtable, adapter)


# ---- the cases ------------------------------------------------------------

def rec(kind, id, doc=b"d", keys=(), expires=0):
    return Record(kind, id, 0, expires, doc, tuple(Key(*k) for k in keys))


class Conformance:
    """Mixed into one TestCase per backend (make())."""

    def setUp(self):
        self.st = self.make()

    def tearDown(self):
        self.st.close()

    # helpers as in the C suite
    def put(self, kind, id, expected, doc=b"d", keys=(), expires=0, now=NOW):
        self.st.commit(Commit(now, (Op.put(rec(kind, id, doc, keys, expires), expected),)))

    def conflict(self, fn, *args, failed=None, **kw):
        with self.assertRaises(StorageConflict) as cm:
            fn(*args, **kw)
        if failed is not None:
            self.assertEqual(cm.exception.failed_op, failed)

    def get(self, kind, id, now=NOW):
        return self.st.get(kind, id, now)

    def scan(self, kind, index, from_=None, to=None, prefix=None, desc=False, limit=100,
             now=NOW, after=None, stop_after=0):
        q = Scan(kind, index, from_, to, prefix, after[0] if after else None,
                 after[1] if after else None, desc, limit, now)
        rows = self.st.scan(q, stop_after) if stop_after else self.st.scan(q)
        return " ".join(f"{v}/{r.id}" for v, r in rows)

    def paged(self, kind, index, desc, page):
        out, after = [], None
        for _ in range(1000):
            q = Scan(kind, index, None, None, None, after and after[0], after and after[1],
                     desc, page, NOW)
            rows = list(self.st.scan(q))
            out += [f"{v}/{r.id}" for v, r in rows]
            if len(rows) < page:
                break
            after = (rows[-1][0], rows[-1][1].id)
        return " ".join(out)

    def ev(self, stream, id, expires=0):
        return Event(stream, id, "thing.happened", NOW, expires, b'{"e":1}')

    # -- records -----------------------------------------------------------------
    def test_put_get_round_trip(self):
        self.put("intent", "pi_1", 0, b'{"a":1}', [("reference", "order-7429"),
                                                  ("checkout", "ws_CO_1", True)])
        g = self.get("intent", "pi_1")
        self.assertEqual((g.version, g.expires_at_ms, g.document), (1, 0, b'{"a":1}'))
        self.assertEqual(sorted(g.keys, key=lambda k: k.index),
                         [Key("checkout", "ws_CO_1", True), Key("reference", "order-7429")])
        self.assertIsNone(self.get("payout", "pi_1"))
        self.assertIsNone(self.get("intent", "pi_"))
        self.assertIsNone(self.get("intent", "pi_10"))
        self.put("payout", "pi_1", 0, b"other")
        self.assertEqual(self.get("payout", "pi_1").document, b"other")
        self.assertEqual(self.get("intent", "pi_1").document, b'{"a":1}')

    def test_documents_are_bytes(self):
        self.put("blob", "b1", 0, b"a\0b\xff\0")
        self.assertEqual(self.get("blob", "b1").document, b"a\0b\xff\0")
        self.put("blob", "empty", 0, b"")
        self.assertEqual(self.get("blob", "empty").document, b"")
        big = bytes((i * 31 + 7) & 0xFF for i in range(1 << 20))
        self.put("blob", "big", 0, big)
        self.assertEqual(self.get("blob", "big").document, big)

    def test_compare_and_set(self):
        self.put("intent", "pi_1", 0, b"v1")
        self.conflict(self.put, "intent", "pi_1", 0, b"again", failed=0)
        self.put("intent", "pi_1", 1, b"v2")
        self.conflict(self.put, "intent", "pi_1", 1, b"stale")
        self.conflict(self.put, "intent", "pi_1", 3, b"future")
        g = self.get("intent", "pi_1")
        self.assertEqual((g.version, g.document), (2, b"v2"))
        self.conflict(self.put, "intent", "pi_none", 4)
        self.assertIsNone(self.get("intent", "pi_none"))
        delete = lambda v: self.st.commit(Commit(NOW, (Op.delete("intent", "pi_1", v),)))  # noqa
        self.conflict(delete, 1)
        self.assertEqual(self.get("intent", "pi_1").version, 2)
        delete(2)
        self.assertIsNone(self.get("intent", "pi_1"))
        self.conflict(delete, 2)
        self.put("intent", "pi_1", 0, b"v1'")
        self.assertEqual(self.get("intent", "pi_1").version, 1)
        # ASSERT: a read the commit depends on.
        ops = lambda v: (Op.check("intent", "pi_1", v), Op.put(rec("intent", "pi_2", b"w")))  # noqa
        self.conflict(self.st.commit, Commit(NOW, ops(2)), failed=0)
        self.assertIsNone(self.get("intent", "pi_2"))
        self.st.commit(Commit(NOW, ops(1)))
        self.assertEqual(self.get("intent", "pi_1").version, 1)
        self.assertIsNotNone(self.get("intent", "pi_2"))
        self.st.commit(Commit(NOW, (Op.check("intent", "pi_3", 0),)))
        self.conflict(self.st.commit, Commit(NOW, (Op.check("intent", "pi_1", 0),)))

    def test_commit_is_atomic_and_ordered(self):
        self.put("intent", "pi_b", 0, b"b1")
        ra, rb = rec("intent", "pi_a", b"a1"), rec("intent", "pi_b", b"b2")
        evs = (self.ev("pi_a", "evt_1"), self.ev("pi_b", "evt_2"))
        self.conflict(self.st.commit, Commit(NOW, (Op.put(ra), Op.put(rb, 5)), evs), failed=1)
        self.assertIsNone(self.get("intent", "pi_a"))
        self.assertEqual(self.get("intent", "pi_b").version, 1)
        self.assertEqual(self.st.events(None, 0, 100), [])
        self.st.commit(Commit(NOW, (Op.put(ra), Op.put(rb, 1)), evs))
        self.assertEqual(self.get("intent", "pi_a").version, 1)
        self.assertEqual(self.get("intent", "pi_b").version, 2)
        self.assertEqual(len(self.st.events(None, 0, 100)), 2)
        c1, c2 = rec("intent", "pi_c", b"c1"), rec("intent", "pi_c", b"c2")
        self.st.commit(Commit(NOW, (Op.put(c1), Op.put(c2, 1))))
        g = self.get("intent", "pi_c")
        self.assertEqual((g.version, g.document), (2, b"c2"))
        self.st.commit(Commit(NOW, (Op(DELETE, c1, 2), Op.put(c1))))
        g = self.get("intent", "pi_c")
        self.assertEqual((g.version, g.document), (1, b"c1"))
        self.conflict(self.st.commit, Commit(NOW, (Op.put(ra, 1), Op.put(ra, 1))), failed=1)
        self.assertEqual(self.get("intent", "pi_a").version, 1)

    def test_unique_keys(self):
        uref, ref, other = ("checkout", "ws_CO_1", True), ("checkout", "ws_CO_1"), \
            ("checkout", "ws_CO_2", True)
        self.put("intent", "pi_a", 0, b"a", [uref])
        self.conflict(self.put, "intent", "pi_b", 0, b"b", [uref])
        self.conflict(self.put, "intent", "pi_b", 0, b"b", [ref])
        self.assertIsNone(self.get("intent", "pi_b"))
        self.put("payout", "po_b", 0, b"b", [uref])
        self.put("intent", "pi_b", 0, b"b", [("receipt", "ws_CO_1", True)])
        self.put("intent", "pi_c", 0, b"c", [other])
        self.put("intent", "pi_a", 1, b"a2", [uref])
        self.put("intent", "pi_r1", 0, b"", [("reference", "order-1")])
        self.put("intent", "pi_r2", 0, b"", [("reference", "order-1")])
        self.conflict(self.put, "intent", "pi_r3", 0, b"", [("reference", "order-1", True)])
        # In one commit: release by one record, take by another (in order).
        a3 = rec("intent", "pi_a", b"a3")
        d = rec("intent", "pi_d", b"d", [uref])
        self.conflict(self.st.commit, Commit(NOW, (Op.put(d), Op.put(a3, 2))), failed=0)
        self.st.commit(Commit(NOW, (Op.put(a3, 2), Op.put(d))))
        self.assertIsNotNone(self.get("intent", "pi_d"))
        e1 = rec("intent", "pi_e1", b"", [("checkout", "ws_CO_9", True)])
        e2 = rec("intent", "pi_e2", b"", [("checkout", "ws_CO_9", True)])
        self.conflict(self.st.commit, Commit(NOW, (Op.put(e1), Op.put(e2))), failed=1)
        self.assertIsNone(self.get("intent", "pi_e1"))
        self.conflict(self.put, "intent", "pi_f", 0, b"", [other])
        self.st.commit(Commit(NOW, (Op.delete("intent", "pi_c", 1),)))
        self.put("intent", "pi_f", 0, b"", [other])
        # An entry given twice in one record collapses into one.
        self.put("thing", "t1", 0, b"", [("v", "x"), ("v", "x", True)])
        self.assertEqual(self.get("thing", "t1").keys, (Key("v", "x", True),))
        self.assertEqual(self.scan("thing", "v"), "x/t1")

    def test_expiry(self):
        k = ("key", "idem-1", True)
        self.put("idempotency", "idem-1", 0, b"held", [k], expires=NOW + 1000)
        self.assertEqual(self.get("idempotency", "idem-1", NOW + 999).expires_at_ms, NOW + 1000)
        self.assertIsNone(self.get("idempotency", "idem-1", NOW + 1000))
        self.conflict(self.put, "idempotency", "idem-1", 0, b"x", now=NOW + 999)
        self.conflict(self.put, "idempotency", "other", 0, b"x", [k], now=NOW + 999)
        self.conflict(self.put, "idempotency", "idem-1", 1, b"late", now=NOW + 1000)
        self.put("idempotency", "other", 0, b"x", [k], now=NOW + 1000)
        self.put("idempotency", "idem-1", 0, b"fresh", expires=NOW + 5000, now=NOW + 1000)
        g = self.get("idempotency", "idem-1", NOW + 1000)
        self.assertEqual((g.version, g.document), (1, b"fresh"))
        self.assertEqual(self.scan("idempotency", "", now=NOW + 5000), "other/other")

    def test_purge_is_bounded(self):
        for i in range(10):
            self.put("idempotency", f"k{i:02d}", 0, b"x", expires=NOW + 10 + i)
        self.put("idempotency", "forever", 0, b"x")
        self.st.commit(Commit(NOW, (), (self.ev("", "evt_u1", NOW + 5),
                                        self.ev("", "evt_u2", NOW + 50),
                                        self.ev("pi_1", "evt_k"))))
        self.assertEqual(self.st.purge(NOW + 9, 100), 1)
        self.assertEqual(len(self.st.events(None, 0, 10)), 2)
        total = 0
        for _ in range(10):
            n = self.st.purge(NOW + 100, 3)
            self.assertLessEqual(n, 6)
            total += n
            if n == 0:
                break
        self.assertEqual(total, 11)
        self.assertIsNotNone(self.get("idempotency", "forever", NOW + 100))
        self.assertEqual([e.id for e in self.st.events(None, 0, 10)], ["evt_k"])
        self.put("idempotency", "k00", 0, b"y")

    # -- scans ---------------------------------------------------------------------
    def fill(self):
        for i in range(25):
            sc = f"{'succeeded' if i % 3 == 0 else 'pending'}|{1000 + i:013d}"
            keys = [("status_created", sc), ("reference", "same" if i < 20 else f"pi_{i:02d}")]
            if i == 3:
                keys.append(("checkout", "ws_CO_3b", True))
            self.put("intent", f"pi_{i:02d}", 0, b"d", keys)
        self.put("intent", "pi_03", 1, b"d", [("checkout", "ws_CO_3a", True),
                                             ("checkout", "ws_CO_3b", True),
                                             ("status_created", "succeeded|0000000001003"),
                                             ("reference", "same")])
        self.put("payout", "po_1", 0)

    def test_scan_ids_and_ranges(self):
        self.fill()
        self.assertEqual(self.scan("intent", "", limit=3), "pi_00/pi_00 pi_01/pi_01 pi_02/pi_02")
        self.assertEqual(self.scan("intent", "", desc=True, limit=2), "pi_24/pi_24 pi_23/pi_23")
        self.assertEqual(self.scan("intent", "", "pi_10", "pi_13"),
                         "pi_10/pi_10 pi_11/pi_11 pi_12/pi_12")
        self.assertEqual(self.scan("intent", "", "pi_10", "pi_13", desc=True),
                         "pi_12/pi_12 pi_11/pi_11 pi_10/pi_10")
        self.assertEqual(self.scan("intent", "", prefix="pi_2"),
                         "pi_20/pi_20 pi_21/pi_21 pi_22/pi_22 pi_23/pi_23 pi_24/pi_24")
        self.assertEqual(self.scan("payout", ""), "po_1/po_1")
        self.assertEqual(self.scan("refund", ""), "")
        self.assertEqual(self.scan("intent", "", "pi_13", "pi_10"), "")
        self.assertEqual(self.scan("intent", "", after=("pi_21", "pi_21")),
                         "pi_22/pi_22 pi_23/pi_23 pi_24/pi_24")
        self.assertEqual(self.scan("intent", "", desc=True, limit=2, after=("pi_02", "pi_02")),
                         "pi_01/pi_01 pi_00/pi_00")
        up, down = self.paged("intent", "", False, 7), self.paged("intent", "", True, 4)
        self.assertEqual(len(up.split()), 25)
        self.assertEqual(up, self.scan("intent", ""))
        self.assertEqual(down, self.scan("intent", "", desc=True))

    def test_scan_secondary_index(self):
        self.fill()
        self.assertEqual(self.scan("intent", "reference", "same", prefix="same", limit=3),
                         "same/pi_00 same/pi_01 same/pi_02")
        self.assertEqual(self.scan("intent", "reference", prefix="same", desc=True, limit=2),
                         "same/pi_19 same/pi_18")
        self.assertEqual(len(self.paged("intent", "reference", False, 3).split()), 25)
        down = self.paged("intent", "reference", True, 6)
        self.assertEqual(len(down.split()), 25)
        self.assertEqual(down, self.scan("intent", "reference", desc=True))
        self.assertEqual(self.scan("intent", "reference", after=("same", "pi_17"), limit=2),
                         "same/pi_18 same/pi_19")
        self.assertEqual(self.scan("intent", "status_created", prefix="pending|", desc=True,
                                   limit=2),
                         "pending|0000000001023/pi_23 pending|0000000001022/pi_22")
        self.assertEqual(len(self.scan("intent", "status_created",
                                       prefix="succeeded|").split()), 9)
        self.assertEqual(self.scan("intent", "status_created", "succeeded|0000000001003",
                                   "succeeded|0000000001010"),
                         "succeeded|0000000001003/pi_03 succeeded|0000000001006/pi_06 "
                         "succeeded|0000000001009/pi_09")
        self.assertEqual(self.scan("intent", "checkout"), "ws_CO_3a/pi_03 ws_CO_3b/pi_03")
        self.assertEqual(self.scan("intent", "checkout", "ws_CO_3b"), "ws_CO_3b/pi_03")
        self.assertEqual(self.scan("intent", "nothing"), "")
        self.assertEqual(self.scan("payout", "reference"), "")
        self.put("intent", "pi_00", 1, b"d", [("reference", "moved")])
        self.assertEqual(self.scan("intent", "reference", prefix="same", limit=1), "same/pi_01")
        self.assertEqual(len(self.scan("intent", "status_created",
                                       prefix="succeeded|").split()), 8)
        self.assertEqual(self.scan("intent", "reference", prefix="moved"), "moved/pi_00")

    def test_scan_byte_order(self):
        # Values as bytes (surrogateescape for what is not UTF-8).
        values = [b"b", b"a\x01", b"a", b"\xc3\xa9", b"a\xff\xff", b"a\xff", b"ab", b""]
        for i, v in enumerate(values):
            self.put("thing", f"r{i}", 0, b"", [("v", text_str(v))])
        t = lambda raw: text_str(raw)  # noqa: E731
        self.assertEqual(self.scan("thing", "v"),
                         t(b"/r7 a/r2 a\x01/r1 ab/r6 a\xff/r5 a\xff\xff/r4 b/r0 \xc3\xa9/r3"))
        self.assertEqual(self.scan("thing", "v", prefix=t(b"a\xff")), t(b"a\xff/r5 a\xff\xff/r4"))
        self.assertEqual(self.scan("thing", "v", prefix=t(b"\xff")), "")
        self.assertEqual(self.scan("thing", "v", prefix="a", desc=True, limit=3),
                         t(b"a\xff\xff/r4 a\xff/r5 ab/r6"))
        self.assertEqual(self.scan("thing", "v", "a\x01", "ab"), "a\x01/r1")
        self.assertEqual(self.scan("thing", "v", prefix="\u00e9"), "\u00e9/r3")

    def test_scan_skips_dead_and_stops_early(self):
        self.put("lease", "l1", 0, b"", [("o", "x")], expires=NOW + 1)
        self.put("lease", "l2", 0, b"", [("o", "x")])
        self.put("lease", "l3", 0, b"", [("o", "x")], expires=NOW - 1)
        self.assertEqual(self.scan("lease", "o"), "x/l1 x/l2")
        self.assertEqual(self.scan("lease", "o", now=NOW + 1), "x/l2")
        self.assertEqual(self.scan("lease", "", desc=True, now=NOW + 1), "l2/l2")
        if isinstance(self.st, CStore):  # the emitter's stop, through C
            self.assertEqual(self.scan("lease", "o", stop_after=1), "x/l1")

    # -- events ----------------------------------------------------------------------
    def test_events(self):
        r = rec("intent", "pi_1")
        self.st.commit(Commit(NOW, (Op.put(r),), (self.ev("pi_1", "evt_1"),
                                                 self.ev("pi_1", "evt_2"))))
        self.st.commit(Commit(NOW, (), (self.ev("pi_2", "evt_3"), self.ev("", "evt_4"))))
        self.st.commit(Commit(NOW, (Op.put(r, 1),), (self.ev("pi_1", "evt_5"),)))
        all_ = self.st.events(None, 0, 100)
        self.assertEqual([e.id for e in all_], [f"evt_{i}" for i in range(1, 6)])
        seqs = [e.sequence for e in all_]
        self.assertEqual(seqs, sorted(set(seqs)))
        self.assertEqual((all_[0].type, all_[0].created_at_ms, all_[0].document),
                         ("thing.happened", NOW, b'{"e":1}'))
        one = self.st.events("pi_1", 0, 100)
        self.assertEqual([e.id for e in one], ["evt_1", "evt_2", "evt_5"])
        self.assertEqual([e.id for e in self.st.events("", 0, 100)], ["evt_4"])
        self.assertEqual(self.st.events("pi_9", 0, 100), [])
        self.assertEqual([e.id for e in self.st.events(None, seqs[1], 2)], ["evt_3", "evt_4"])
        self.assertEqual([e.id for e in self.st.events("pi_1", one[1].sequence, 10)], ["evt_5"])
        self.assertEqual(self.st.events(None, seqs[4], 10), [])
        if isinstance(self.st, CStore):
            self.assertEqual(len(self.st.events(None, 0, 10, stop_after=1)), 1)
        ins = Op.put(rec("intent", "pi_new"))
        self.conflict(self.st.commit, Commit(NOW, (ins,), (self.ev("pi_new", "evt_2"),)),
                      failed=1)
        self.assertIsNone(self.get("intent", "pi_new"))
        self.assertEqual(len(self.st.events(None, 0, 100)), 5)
        self.st.commit(Commit(NOW, (), (self.ev("pi_1", "evt_6"),)))
        last = self.st.events(None, seqs[4], 10)
        self.assertEqual(len(last), 1)
        self.assertGreater(last[0].sequence, seqs[4])

    # -- bad input -----------------------------------------------------------------------
    def test_bad_input_changes_nothing(self):
        self.put("intent", "pi_1", 0)
        invalid = lambda *a, **kw: self.assertRaises(StorageInvalid, *a, **kw)  # noqa: E731
        for kind in ("", "Intent", "in tent", "intent-x", "a" * 33):
            invalid(self.put, kind, "x", 0)
        invalid(self.put, "intent", "i" * 256, 0)
        self.put("intent", "i" * 255, 0)
        invalid(self.put, "intent", "", 0)
        invalid(self.put, "intent", "pi_2", 0, b"d", [("k", "v")] * 17)
        invalid(self.put, "intent", "pi_2", 0, b"d", [("Bad", "v")])
        invalid(self.st.commit, Commit(NOW, (Op.delete("intent", "pi_1", 0),)))
        invalid(self.put, "intent", "pi_1", -1)
        good = Op.put(rec("intent", "pi_2"))
        invalid(self.st.commit, Commit(NOW, (Op(7, rec("intent", "pi_2")),)))
        invalid(self.st.commit, Commit(NOW))
        invalid(self.st.commit, Commit(NOW, (good,), (self.ev("pi_2", ""),)))
        invalid(self.st.commit, Commit(NOW, (good,), (self.ev("pi_2", "evt_x"),
                                                      self.ev("pi_2", "evt_x"))))
        self.assertIsNone(self.get("intent", "pi_2"))
        self.assertEqual(self.st.events(None, 0, 10), [])
        self.assertEqual(self.get("intent", "pi_1").version, 1)
        invalid(self.st.get, "Intent", "pi_1", NOW)
        invalid(self.st.scan, Scan("intent", "", limit=0, now_ms=NOW))
        invalid(self.st.scan, Scan("intent", "", after_value="pi_1", limit=1, now_ms=NOW))
        invalid(self.st.events, None, 0, 0)

    # -- races ---------------------------------------------------------------------------
    def test_compare_and_set_race(self):
        wins, rounds = [0] * 4, 50
        barrier = threading.Barrier(4)

        def worker(n):
            barrier.wait()
            done = 0
            while done < rounds:
                g = self.get("counter", "c")
                v = g.version if g else 0
                try:
                    self.put("counter", "c", v, str(v + 1).encode())
                    done += 1
                    wins[n] += 1
                except StorageConflict:
                    pass
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        g = self.get("counter", "c")
        self.assertEqual((g.version, g.document), (200, b"200"))
        self.assertEqual(sum(wins), 200)


class DirectDict(Conformance, unittest.TestCase):
    def make(self):
        return DictStorage()


class DictThroughC(Conformance, unittest.TestCase):
    def make(self):
        return dict_through_c()


class CMemory(Conformance, unittest.TestCase):
    def make(self):
        return c_memory_store()


class Checks(unittest.TestCase):
    """The Python request rules (check_commit) agree with the library's
    (constra_record_commit_check) on good and malformed commits."""

    def test_python_and_c_checks_agree(self):
        good = Op.put(rec("intent", "pi_1", keys=[("k", "v")]))
        cases = [
            Commit(NOW, (good,)), Commit(NOW), Commit(NOW, (), (Event("", "e", "t"),)),
            Commit(NOW, (Op.put(rec("Bad", "x")),)), Commit(NOW, (Op.put(rec("k", "")),)),
            Commit(NOW, (Op.put(rec("k", "x" * 256)),)), Commit(NOW, (Op.put(rec("k", "x" * 255)),)),
            Commit(NOW, (Op.put(rec("k", "x", keys=[("i", "v")] * 17)),)),
            Commit(NOW, (Op.put(rec("k", "x", keys=[("i", "v")] * 16)),)),
            Commit(NOW, (Op.put(rec("k", "x", keys=[("i" * 33, "v")])),)),
            Commit(NOW, (Op.put(rec("k", "x", keys=[("i", "v" * 256)])),)),
            Commit(NOW, (Op.put(rec("k", "x", keys=[("i", "")])),)),
            Commit(NOW, (Op.put(rec("k", "x", expires=-1)),)),
            Commit(NOW, (Op(DELETE, rec("k", "x"), 0),)), Commit(NOW, (Op(ASSERT, rec("k", "x"), 0),)),
            Commit(NOW, (Op(PUT, rec("k", "x"), -1),)), Commit(NOW, (Op(9, rec("k", "x"), 1),)),
            Commit(NOW, (), (Event("", "", "t"),)), Commit(NOW, (), (Event("", "e", ""),)),
            Commit(NOW, (), (Event("s" * 256, "e", "t"),)),
            Commit(NOW, (), (Event("", "e", "t", 0, -5),)),
            Commit(NOW, (), (Event("", "e", "t"), Event("", "e", "t"))),
            Commit(NOW, (Op(DELETE, Record("k", "x", expires_at_ms=-1, keys=((Key("B", "v"),) * 20)), 1),)),
        ]
        for c in cases:
            with self.subTest(c=repr(c)[:120]):
                cc, keep = commit_to_c(c)
                c_ok = N.record_commit_check(ctypes.byref(cc), None) == N.OK
                try:
                    check_commit(c)
                    py_ok = True
                except StorageInvalid:
                    py_ok = False
                self.assertEqual(py_ok, c_ok)
                # And what C reads back is what Python wrote.
                if c_ok:
                    self.assertEqual(_commit_from_c(cc), Commit(
                        c.now_ms, tuple(op if op.type == PUT else Op(op.type, Record(
                            op.record.kind, op.record.id), op.expected_version) for op in c.ops),
                        c.events))


if __name__ == "__main__":
    unittest.main()
