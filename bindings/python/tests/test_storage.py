"""Storages written in Python behind the C vtable (storage.h, the generic
record store): the full loop, threads, a storage that raises on its N-th
call (for every N), storages that misbehave, and the workspace mode (kept
as records of kind "meta"). The record contract itself, case by case, is
test_storage_conformance.py."""
import threading
import unittest

import constra
from constra import Client, Commit, Op, Record, StorageConflict, StorageError
from helpers import create_seed

TIMELINE = ["payment_intent.created", "payment_intent.pending_user_action",
            "payment_intent.requires_recovery", "payment_intent.pending_user_action",
            "payment_intent.succeeded"]


def status_of(rec):
    """An intent record's status (on_records.c: the document's texts, each
    NUL-terminated, status first)."""
    return rec.document.split(b"\0", 1)[0].decode()


def state(store):
    """What a failed call must leave as it was: every record but the
    idempotency ones, every event; and the idempotency ids apart."""
    records, events, _ = store.snapshot()
    return (tuple(r for r in records if r.kind != "idempotency"), events,
            {r.id for r in records if r.kind == "idempotency"})


class Injected(Exception):
    pass


class FaultStorage(constra.DictStorage):
    """Fails the fail_at-th call of any method (0: never). Remembers the
    state just before the failing call, to prove the call changed nothing."""

    METHODS = ("commit", "get", "scan", "events", "purge")

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.fail_at = 0
        self.failures = 0
        self.state_at_failure = None

    def __getattribute__(self, name):
        attr = super().__getattribute__(name)
        if name in FaultStorage.METHODS:
            def wrapped(*args):
                self.calls += 1
                if self.calls == self.fail_at:
                    self.failures += 1
                    self.state_at_failure = state(self)
                    raise Injected(f"injected failure at call {self.calls} ({name})")
                return attr(*args)
            return wrapped
        return attr


class PythonStorage(unittest.TestCase):
    def test_full_loop_and_rows(self):
        store = constra.DictStorage()
        with Client(storage=store) as c:
            created = create_seed(c)
            c.simulate(created["id"], 1032)
            c.retry(created["id"])
            c.simulate(created["id"], 0)
            intents = store.records("intent")
            self.assertEqual([r.id for r in intents], [created["id"]])
            self.assertEqual(status_of(intents[0]), "succeeded")
            self.assertGreaterEqual(intents[0].version, 4)
            events = store.all_events()
            self.assertEqual([e.type for e in events], TIMELINE)
            self.assertEqual([e.sequence for e in events], [1, 2, 3, 4, 5])
            self.assertEqual({e.stream for e in events}, {created["id"]})
            self.assertEqual(len(store.records("idempotency")), 1)
            # Every provider request id the intent had, as a unique record.
            self.assertEqual(len(store.records("checkout_ref")), 2)
            self.assertEqual({r.document.decode() for r in store.records("checkout_ref")},
                             {created["id"]})
            # The engine reads back through scans and events.
            self.assertEqual(c.list(status="succeeded")["data"][0]["id"], created["id"])
            self.assertEqual(len(c.events(created["id"])["data"]), 5)
            again = create_seed(c)
            self.assertTrue(again.replayed)
            self.assertEqual(again["id"], created["id"])

    def test_threads_share_one_python_storage(self):
        store = constra.DictStorage()
        errors = []
        with Client(storage=store) as c:
            def worker(t):
                try:
                    for i in range(50):
                        made = c.create(10 + i, idempotency_key=f"t{t}-{i}",
                                        phone_number="0712345678")
                        c.simulate(made["id"], 0)
                except Exception as exc:  # pragma: no cover - reported below
                    errors.append(exc)
            threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(len(store.records("intent")), 200)
            self.assertEqual(len(c.list(status="succeeded", limit=100)["data"]), 100)
            # One key hammered by threads: exactly one intent.
            results = []

            def same_key():
                try:
                    results.append(c.create(99, idempotency_key="one",
                                            phone_number="0712345678")["id"])
                except constra.ConflictError as exc:
                    results.append(exc.code)
            threads = [threading.Thread(target=same_key) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            ids = {r for r in results if r.startswith("pi_")}
            self.assertEqual(len(ids), 1)
            self.assertEqual(len(store.records("intent")), 201)

    def test_tick_purges_through_the_storage(self):
        calls = []

        class Watching(constra.DictStorage):
            def purge(self, now_ms, max):
                calls.append((now_ms, max))
                return super().purge(now_ms, max)

        store = Watching()
        with Client(storage=store, idempotency_retention_ms=1000) as c:
            made = create_seed(c)
            c.simulate(made["id"], 0)
            c.tick(c.now_ms() + 10 ** 10)
        self.assertTrue(calls)
        self.assertEqual(store.records("idempotency"), [])  # dead, then purged
        self.assertEqual(len(store.records("intent")), 1)


class RaisingStorage(unittest.TestCase):
    def test_exception_becomes_storage_error_and_state_is_untouched(self):
        store = FaultStorage()
        with Client(storage=store) as c:
            created = create_seed(c)
            before = store.snapshot()
            store.fail_at = store.calls + 1
            with self.assertRaises(StorageError) as cm:
                c.simulate(created["id"], 1032)
            exc = cm.exception
            self.assertEqual(exc.status, -13)
            self.assertGreaterEqual(exc.http_status, 500)
            self.assertIsInstance(exc.__cause__, Injected)
            self.assertEqual(store.snapshot(), before)
            store.fail_at = 0
            self.assertEqual(c.get(created["id"])["status"], "pending_user_action")
            self.assertEqual(c.simulate(created["id"], 1032)["status"], "requires_recovery")

    def assertUntouched(self, store, n):
        """After the failed call: records and events exactly as they were
        when the storage raised (the failing write left nothing, and the
        engine wrote nothing after it). Only an idempotency reservation may
        since have been released, so that a retry runs afresh."""
        records, events, idem = state(store)
        self.assertEqual((records, events), store.state_at_failure[:2], f"n={n}")
        self.assertTrue(idem <= store.state_at_failure[2], f"n={n}")

    @staticmethod
    def lifecycle(c):
        """create, callback (simulated 1032), retry, callback (0), tick, and
        a replayed create: one step at a time."""
        ids = []

        def create():
            made = create_seed(c)
            ids.append(made["id"])
            return made
        return ids, [create,
                     lambda: c.simulate(ids[0], 1032), lambda: c.retry(ids[0]),
                     lambda: c.simulate(ids[0], 0),
                     lambda: c.tick(c.now_ms() + 1000),
                     lambda: create_seed(c)]

    def test_fault_at_every_call_of_the_lifecycle(self):
        """For every N up to one past the last storage call of a clean run:
        the call hitting the fault raises StorageError caused by our
        exception; the failing storage call changed nothing; what is stored
        is always a state the intent really passed through (its events are
        a prefix of the clean timeline, its status the last one's); one
        intent at most, sent to the rail at most twice (the retry); a
        replayed create is safe."""
        clean = FaultStorage()
        with Client(storage=clean) as c:
            for step in self.lifecycle(c)[1]:
                step()
        total = clean.calls
        self.assertGreater(total, 10)
        clean_runs = sending = 0
        for n in range(1, total + 2):
            store = FaultStorage()
            store.fail_at = n
            try:
                c = Client(storage=store)
            except StorageError as exc:  # the workspace metadata, at open
                self.assertIsInstance(exc.__cause__, Injected, f"n={n}")
                self.assertUntouched(store, n)
                store.fail_at = 0
                c = Client(storage=store)
            with c:
                ids, steps = self.lifecycle(c)
                for i, step in enumerate(steps):
                    try:
                        step()
                    except StorageError as exc:
                        self.assertIsInstance(exc.__cause__, Injected, f"n={n}")
                        self.assertUntouched(store, n)
                        if i == 0:
                            store.fail_at = 0
                            try:
                                create_seed(c)
                            except constra.ConflictError as exc2:
                                # The push may have happened: never pushed twice.
                                self.assertEqual(exc2.code, "idempotent_request_in_flight",
                                                 f"n={n}")
                            intents = store.records("intent")
                            if intents:
                                ids.append(intents[0].id)
                            else:
                                break
                    except (constra.InvalidStateError, constra.ConflictError, IndexError):
                        pass  # an earlier step failed: this one is not allowed yet
                if not store.failures:
                    clean_runs += 1
                store.fail_at = 0
                intents = store.records("intent")
                events = store.all_events()
                self.assertLessEqual(len(intents), 1, f"n={n}")
                for rec in intents:
                    types = [e.type for e in events if e.stream == rec.id]
                    self.assertEqual(types[:2], TIMELINE[:len(types[:2])], f"n={n}")
                    self.assertTrue(all(t.startswith("payment_intent.") for t in types), types)
                    got = c.get(rec.id)
                    last = [t for t in types if not t.endswith("callback_duplicate")][-1]
                    if got["provider_action"]["state"] == "sending":
                        # Committed before the rail call, outcome not yet
                        # stored: the time-out will send it to review.
                        sending += 1
                    if last == "payment_intent.created":
                        self.assertEqual((status_of(rec), got["provider_action"]["state"]),
                                         ("pending_user_action", "sending"), f"n={n}")
                    else:
                        self.assertEqual(last.split(".", 1)[1], status_of(rec), f"n={n}")
                    self.assertLessEqual(got["recovery"]["attempts_used"] if got.get("recovery")
                                         else 0, 2)
                    # Each rail push leaves one checkout id: at most two.
                    self.assertLessEqual(len(store.records("checkout_ref")), 2, f"n={n}")
        self.assertGreater(clean_runs, 0, "the sweep never got past the last storage call")
        self.assertGreater(sending, 0, "no fault hit between the sending and outcome commits")


class WorkspaceMode(unittest.TestCase):
    """The workspace metadata, now records of kind "meta" in any storage:
    the mode and workspace id are recorded on first open, the other mode
    is refused with nothing written."""

    @staticmethod
    def meta(store):
        return {r.id: r.document.decode() for r in store.records("meta")}

    def test_first_open_records_mode_and_workspace_id(self):
        store = constra.DictStorage()
        with Client(storage=store) as c:
            create_seed(c)
        meta = self.meta(store)
        self.assertEqual(meta["mode"], "sandbox")
        first = meta["workspace_id"]
        self.assertTrue(first.startswith("ws_") and len(first) == 29, first)
        with Client(storage=store):
            pass
        self.assertEqual(self.meta(store)["workspace_id"], first)  # kept, not remade

    def test_other_mode_is_refused_and_nothing_written(self):
        store = constra.DictStorage()
        with Client(storage=store) as c:
            create_seed(c)
        mode = store.get("meta", "mode", 0)
        # As a live workspace would have left it.
        store.commit(Commit(0, (Op.put(Record("meta", "mode", document=b"live"), mode.version),)))
        before = store.snapshot()
        with self.assertRaises(constra.ConstraError) as cm:
            Client(storage=store)
        e = cm.exception
        self.assertEqual((e.code, e.param, e.http_status),
                         ("workspace_mode_mismatch", "config.mode", 409))
        self.assertIn("live data", str(e))
        self.assertEqual(store.snapshot(), before)

    def test_racing_opener_gets_the_winners_values(self):
        class Racer(constra.DictStorage):
            """Another process records its values between our get and put."""
            winner = {"mode": "sandbox", "workspace_id": "ws_other"}

            def get(self, kind, id, now_ms):
                found = super().get(kind, id, now_ms)
                if kind == "meta" and found is None and id in self.winner:
                    self.commit(Commit(0, (Op.put(Record("meta", id, document=self.winner[id]
                                                         .encode())),)))
                return found

        store = Racer()
        with Client(storage=store):
            pass
        self.assertEqual(self.meta(store), {"mode": "sandbox", "workspace_id": "ws_other"})
        store2 = Racer()
        store2.winner = {"mode": "live"}
        with self.assertRaises(constra.ConstraError) as cm:
            Client(storage=store2)
        self.assertEqual(cm.exception.code, "workspace_mode_mismatch")
        self.assertNotIn("workspace_id", self.meta(store2))

    def test_failing_or_lying_metadata_is_a_storage_error(self):
        class Failing(constra.DictStorage):
            def get(self, kind, id, now_ms):
                if kind == "meta":
                    raise Injected("disk gone")
                return super().get(kind, id, now_ms)

        with self.assertRaises(StorageError) as cm:
            Client(storage=Failing())
        self.assertEqual(cm.exception.param, "config.storage")
        self.assertIsInstance(cm.exception.__cause__, Injected)

        class Liar(constra.DictStorage):
            def get(self, kind, id, now_ms):
                if kind == "meta":
                    return Record("meta", id, 1, 0, "sandbox")  # a str document
                return super().get(kind, id, now_ms)

        with self.assertRaises(StorageError) as cm:
            Client(storage=Liar())
        self.assertIsInstance(cm.exception.__cause__, TypeError)


class MisbehavingStorage(unittest.TestCase):
    def made(self, storage_cls):
        store = storage_cls()
        store.armed = False
        c = Client(storage=store)
        self.addCleanup(c.close)
        made = create_seed(c)
        store.armed = True
        return c, made

    def assertStorageError(self, call, cause):
        with self.assertRaises(StorageError) as cm:
            call()
        self.assertIsInstance(cm.exception.__cause__, cause)
        return cm.exception

    def test_wrong_return_types_are_storage_errors(self):
        class Liar(constra.DictStorage):
            def get(self, kind, id, now_ms):
                rec = super().get(kind, id, now_ms)
                if self.armed and kind == "intent":
                    return {"id": id}  # a dict, not a Record
                return rec

        c, made = self.made(Liar)
        self.assertStorageError(lambda: c.get(made["id"]), TypeError)

    def test_a_record_that_is_not_the_one_asked_for(self):
        class Other(constra.DictStorage):
            def get(self, kind, id, now_ms):
                rec = super().get(kind, id, now_ms)
                if self.armed and rec is not None and kind == "intent":
                    return Record(kind, id + "x", rec.version, 0, rec.document, rec.keys)
                return rec

        c, made = self.made(Other)
        self.assertStorageError(lambda: c.get(made["id"]), ValueError)

    def test_garbage_in_scans_and_events(self):
        bad_rows = [
            (["not a pair"], TypeError),
            ([("v", "not a record")], TypeError),
            ([(42, None)], TypeError),
            ([("v", Record("other_kind", "x", 1))], ValueError),
            ([("v", Record("intent", "x", 0))], ValueError),  # version 0
            ([("v", Record("intent", "x", 1, keys=("k",)))], TypeError),
            ([("v", Record("intent", "x", 1, document=None))], TypeError),
            ([("v" * 300, Record("intent", "x", 1))], ValueError),
        ]
        for rows, cause in bad_rows:
            with self.subTest(rows=repr(rows)[:60]):
                class Garbage(constra.DictStorage):
                    def scan(self, scan):
                        return rows if self.armed else super().scan(scan)

                c, _ = self.made(Garbage)
                self.assertStorageError(c.list, cause)

        bad_events = [
            lambda evs: [evs[1], evs[0]],  # out of order
            lambda evs: [constra.Event("other", "e", "t", sequence=1)],  # another stream
            lambda evs: [evs[0], "garbage"],
            lambda evs: [constra.Event("", "e", "t", sequence=0)],  # no sequence
        ]
        for bad in bad_events:
            class GarbageEvents(constra.DictStorage):
                def events(self, stream, after, limit):
                    evs = super().events(stream, after, limit)
                    return bad(evs) if self.armed else evs

            c, made = self.made(GarbageEvents)
            with self.assertRaises(StorageError):
                c.events(made["id"])

    def test_raising_while_emitting_rows(self):
        class Interrupt(constra.DictStorage):
            def scan(self, scan):
                rows = super().scan(scan)

                def gen():
                    yield from rows[:1]
                    if self.armed:
                        raise KeyboardInterrupt
                    yield from rows[1:]
                return gen()

        c, _ = self.made(Interrupt)
        create_seed(c, key="second")
        self.assertStorageError(c.list, KeyboardInterrupt)
        c._adapter.storage.armed = False
        self.assertEqual(len(c.list()["data"]), 2)

    def test_bad_conflicts_and_purges(self):
        class BadConflict(constra.DictStorage):
            def commit(self, commit):
                if self.armed:
                    raise StorageConflict(failed_op="first")
                return super().commit(commit)

        c, made = self.made(BadConflict)
        self.assertStorageError(lambda: c.simulate(made["id"], 0), ValueError)

        class BadPurge(constra.DictStorage):
            def purge(self, now_ms, max):
                return "lots" if self.armed else 0

        c, _ = self.made(BadPurge)
        self.assertStorageError(lambda: c.tick(c.now_ms()), TypeError)

    def test_not_a_storage(self):
        with self.assertRaises(TypeError):
            Client(storage=object())
        with self.assertRaises(TypeError):
            Client(storage=42)

        class Old:  # a 0.2-style Python storage
            def commit(self, write): pass
            def get_intent(self, intent_id): pass
        with self.assertRaises(TypeError) as cm:
            Client(storage=Old())
        self.assertIn("scan", str(cm.exception))

    def test_base_exception_does_not_escape_into_c(self):
        class Interrupt(constra.DictStorage):
            def scan(self, scan):
                raise KeyboardInterrupt

        with Client(storage=Interrupt()) as c:
            with self.assertRaises(StorageError) as cm:
                c.list()
            self.assertIsInstance(cm.exception.__cause__, KeyboardInterrupt)

    def test_storage_that_implements_the_base_class_only(self):
        class Nothing(constra.Storage):
            pass
        with self.assertRaises(StorageError) as cm:
            Client(storage=Nothing())
        self.assertIsInstance(cm.exception.__cause__, NotImplementedError)


if __name__ == "__main__":
    unittest.main()
