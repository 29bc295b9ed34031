"""Storages written in Python behind the C vtable: the full loop, a storage
that raises on its N-th call (for every N), and storages that misbehave."""
import copy
import threading
import unittest

import constra
from constra import Client, IdempotencyRecord, IntentRecord, StorageConflict, StorageError, Write
from helpers import create_seed

TIMELINE = ["payment_intent.created", "payment_intent.pending_user_action",
            "payment_intent.requires_recovery", "payment_intent.pending_user_action",
            "payment_intent.succeeded"]


class Injected(Exception):
    pass


class FaultStorage(constra.DictStorage):
    """Fails the fail_at-th call of any method (0: never). Remembers the
    state just before the failing call, to prove the call changed nothing."""

    METHODS = ("commit", "get_intent", "find_by_checkout", "list_intents", "list_events",
               "idempotency_reserve", "idempotency_complete", "idempotency_release",
               "purge_expired")

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.fail_at = 0
        self.failures = 0
        self.state_at_failure = None

    def snapshot(self):
        with self._lock:
            return copy.deepcopy((self.intents, self.events, self.idempotency))

    def __getattribute__(self, name):
        attr = super().__getattribute__(name)
        if name in FaultStorage.METHODS:
            def wrapped(*args):
                self.calls += 1
                if self.calls == self.fail_at:
                    self.failures += 1
                    self.state_at_failure = self.snapshot()
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
            rec = store.intents[created["id"]]
            self.assertEqual(rec.status, "succeeded")
            self.assertGreaterEqual(rec.version, 4)
            self.assertEqual([e.type for e in store.events], TIMELINE)
            self.assertEqual([e.sequence for e in store.events], [1, 2, 3, 4, 5])
            self.assertEqual(len(store.idempotency), 1)
            # The engine reads back through find_by_checkout: a Daraja
            # callback for the intent's checkout id lands on it.
            self.assertEqual(c.list(status="succeeded")["data"][0]["id"], created["id"])
            self.assertEqual(len(c.events(created["id"])["data"]), 5)

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
            self.assertEqual(len(store.intents), 200)
            self.assertEqual(len(c.list(status="succeeded", limit=100)["data"]), 100)
            # One key hammered by threads: exactly one intent.
            results = []
            def same_key():
                try:
                    results.append(c.create(99, idempotency_key="one", phone_number="0712345678")["id"])
                except constra.ConflictError as exc:
                    results.append(exc.code)
            threads = [threading.Thread(target=same_key) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            ids = {r for r in results if r.startswith("pi_")}
            self.assertEqual(len(ids), 1)
            self.assertEqual(len(store.intents), 201)


class IdempotencyLinks(unittest.TestCase):
    """DictStorage keeps the storage contract of links (storage.h): the
    key is linked in the commit that inserts the intent, links once, is
    never released once linked, and completes as before."""

    def rec(self, state=constra.storage.IN_FLIGHT, response=b"", fp="fpL", http_status=0):
        return IdempotencyRecord("k", fp, state, http_status, response, 100, 1000, 1001)

    def intent(self, iid, version=1):
        return IntentRecord(iid, "pending_user_action", "", "", 100, 100, version, b"{}")

    def test_link_rules(self):
        s = constra.DictStorage()
        self.assertIsNone(s.idempotency_reserve(self.rec(), 100))
        with self.assertRaises(StorageConflict):
            s.commit(Write(self.intent("pi_1"), 0, [],
                           self.rec(response=b'{"id":"pi_1"}', fp="other")))
        with self.assertRaises(ValueError):
            s.commit(Write(self.intent("pi_1"), 0, [], self.rec(response=b"")))
        self.assertEqual(s.intents, {})
        s.commit(Write(self.intent("pi_1"), 0, [], self.rec(response=b'{"id":"pi_1"}')))
        held = s.idempotency_reserve(self.rec(), 101)
        self.assertEqual((held.state, held.http_status, held.response, held.lease_expires_at_ms),
                         (constra.storage.IN_FLIGHT, 0, b'{"id":"pi_1"}', 1001))
        with self.assertRaises(StorageConflict):  # links once
            s.commit(Write(self.intent("pi_2"), 0, [], self.rec(response=b'{"id":"pi_2"}')))
        self.assertNotIn("pi_2", s.intents)
        s.idempotency_release("k", "fpL")  # never released once linked
        self.assertIsNotNone(s.idempotency_reserve(self.rec(), 102))
        done = self.rec(constra.storage.COMPLETED, b'{"id":"pi_1","status":"x"}', http_status=201)
        s.idempotency_complete(done)
        held = s.idempotency_reserve(self.rec(), 103)
        self.assertEqual((held.state, held.http_status), (constra.storage.COMPLETED, 201))
        with self.assertRaises(StorageConflict):
            s.commit(Write(self.intent("pi_1", 2), 1, [], done))
        self.assertEqual(s.intents["pi_1"].version, 1)
        # Unlinked reservations are released as before.
        s2 = constra.DictStorage()
        s2.idempotency_reserve(self.rec(), 100)
        s2.idempotency_release("k", "fpL")
        self.assertEqual(s2.idempotency, {})

    def test_engine_links_in_its_first_commit(self):
        seen = []

        class Watching(constra.DictStorage):
            def commit(self, write):
                if write.idempotency is not None:
                    seen.append((write.intent.version, write.idempotency.state,
                                 write.idempotency.http_status, write.idempotency.response))
                super().commit(write)

        store = Watching()
        with Client(storage=store) as c:
            made = create_seed(c)
        link = ('{"id":"%s"}' % made["id"]).encode()
        self.assertEqual(seen[0], (1, constra.storage.IN_FLIGHT, 0, link))
        self.assertEqual(seen[1][:3], (2, constra.storage.COMPLETED, 201))
        self.assertEqual(len(seen), 2)
        rec = next(iter(store.idempotency.values()))
        self.assertEqual(rec.state, constra.storage.COMPLETED)
        self.assertGreater(rec.lease_expires_at_ms, rec.expires_at_ms)  # the engine decides


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
        """After the failed call: intents and events exactly as they were
        when the storage raised (the failing write left nothing, and the
        engine wrote nothing after it). Only an idempotency reservation may
        since have been released, so that a retry runs afresh."""
        intents, events, idem = store.snapshot()
        self.assertEqual((intents, events), store.state_at_failure[:2], f"n={n}")
        self.assertTrue(set(idem) <= set(store.state_at_failure[2]), f"n={n}")

    def test_fault_at_every_call_of_the_lifecycle(self):
        """For every N: the call hitting the fault raises StorageError caused
        by our exception; the failing storage call changed nothing; what is
        stored is always a state the intent really passed through (its
        events are a prefix of the clean timeline, its status the last
        one's); one intent at most; a replayed create is safe."""
        clean_runs = sending = 0
        for n in range(1, 80):
            store = FaultStorage()
            store.fail_at = n
            with Client(storage=store) as c:
                steps = []
                intent_id = None
                try:
                    intent_id = create_seed(c)["id"]
                except StorageError as exc:
                    self.assertIsInstance(exc.__cause__, Injected, f"n={n}")
                    self.assertUntouched(store, n)
                    store.fail_at = 0
                    try:
                        intent_id = create_seed(c)["id"]
                    except constra.ConflictError as exc2:
                        # The push may have happened: never pushed twice.
                        self.assertEqual(exc2.code, "idempotent_request_in_flight", f"n={n}")
                if intent_id:
                    for step in (lambda: c.simulate(intent_id, 1032), lambda: c.retry(intent_id),
                                 lambda: c.simulate(intent_id, 0)):
                        try:
                            steps.append(step()["status"])
                        except StorageError as exc:
                            self.assertIsInstance(exc.__cause__, Injected, f"n={n}")
                            self.assertUntouched(store, n)
                        except (constra.InvalidStateError, constra.ConflictError):
                            pass  # an earlier step failed: this one is not allowed yet
                if not store.failures:
                    clean_runs += 1
                store.fail_at = 0
                intents, events, _ = store.snapshot()
                self.assertLessEqual(len(intents), 1, f"n={n}")
                for rec in intents.values():
                    types = [e.type for e in events if e.intent_id == rec.id]
                    self.assertEqual(types[:2], TIMELINE[:len(types[:2])], f"n={n}")
                    self.assertTrue(all(t.startswith("payment_intent.") for t in types), types)
                    got = c.get(rec.id)
                    last = [t for t in types if not t.endswith("callback_duplicate")][-1]
                    if got["provider_action"]["state"] == "sending":
                        # Committed before the rail call, outcome not yet
                        # stored: the time-out will send it to review.
                        sending += 1
                    if last == "payment_intent.created":
                        self.assertEqual((rec.status, got["provider_action"]["state"]),
                                         ("pending_user_action", "sending"), f"n={n}")
                    else:
                        self.assertEqual(last.split(".", 1)[1], rec.status, f"n={n}")
                    self.assertLessEqual(got["recovery"]["attempts_used"] if got.get("recovery")
                                         else 0, 2)
        self.assertGreater(clean_runs, 0, "the sweep never got past the last storage call")
        self.assertGreater(sending, 0, "no fault hit between the sending and outcome commits")


class WorkspaceMode(unittest.TestCase):
    """storage.h workspace metadata through the Python adapter: the mode
    and workspace id are recorded on first open, the other mode is
    refused with nothing written, and a storage without the pair opens
    unchecked."""

    def test_first_open_records_mode_and_workspace_id(self):
        store = constra.DictStorage()
        with Client(storage=store) as c:
            create_seed(c)
        self.assertEqual(store.meta["mode"], "sandbox")
        first = store.meta["workspace_id"]
        self.assertTrue(first.startswith("ws_") and len(first) == 29, first)
        with Client(storage=store):
            pass
        self.assertEqual(store.meta["workspace_id"], first)  # kept, not remade

    def test_other_mode_is_refused_and_nothing_written(self):
        store = constra.DictStorage()
        with Client(storage=store) as c:
            create_seed(c)
        store.meta["mode"] = "live"  # as a live workspace would have left it
        before = copy.deepcopy((store.intents, store.events, store.idempotency, store.meta))
        with self.assertRaises(constra.ConstraError) as cm:
            Client(storage=store)
        e = cm.exception
        self.assertEqual((e.code, e.param, e.http_status),
                         ("workspace_mode_mismatch", "config.mode", 409))
        self.assertIn("live data", str(e))
        self.assertEqual(copy.deepcopy((store.intents, store.events, store.idempotency,
                                        store.meta)), before)

    def test_racing_opener_gets_the_winners_values(self):
        class Racer(constra.DictStorage):
            """Another process records its values between our get and put."""
            def meta_get(self, key):
                value = super().meta_get(key)
                if value is None:
                    self.meta[key] = {"mode": "sandbox", "workspace_id": "ws_other"}[key]
                return value

        store = Racer()
        with Client(storage=store):
            pass
        self.assertEqual(store.meta, {"mode": "sandbox", "workspace_id": "ws_other"})
        store2 = Racer()
        orig = store2.meta_get

        def live_first(key):
            if key == "mode" and "mode" not in store2.meta:
                store2.meta["mode"] = "live"
                return None
            return orig(key)
        store2.meta_get = live_first
        with self.assertRaises(constra.ConstraError) as cm:
            Client(storage=store2)
        self.assertEqual(cm.exception.code, "workspace_mode_mismatch")
        self.assertNotIn("workspace_id", store2.meta)

    def test_half_a_pair_is_refused(self):
        class GetOnly(constra.DictStorage):
            meta_put_if_absent = None

        with self.assertRaises(constra.ConstraError) as cm:
            Client(storage=GetOnly())
        self.assertEqual(cm.exception.param, "storage.meta_put_if_absent")

    def test_without_the_pair_the_mode_is_not_checked(self):
        class Plain(constra.DictStorage):
            meta_get = None
            meta_put_if_absent = None

        store = Plain()
        with Client(storage=store) as c:
            create_seed(c)
        self.assertEqual(store.meta, {})

    def test_failing_or_lying_metadata_is_a_storage_error(self):
        class Failing(constra.DictStorage):
            def meta_get(self, key):
                raise Injected("disk gone")

        with self.assertRaises(StorageError) as cm:
            Client(storage=Failing())
        self.assertEqual(cm.exception.param, "config.storage")

        class Liar(constra.DictStorage):
            def meta_get(self, key):
                return 42  # not a str

        with self.assertRaises(StorageError):
            Client(storage=Liar())


class MisbehavingStorage(unittest.TestCase):
    def test_wrong_return_types_are_storage_errors(self):
        class Liar(constra.DictStorage):
            def get_intent(self, intent_id):
                return {"id": intent_id}  # a dict, not an IntentRecord

        with Client(storage=Liar()) as c:
            made = create_seed(c)
            with self.assertRaises(StorageError) as cm:
                c.get(made["id"])
            self.assertIsInstance(cm.exception.__cause__, TypeError)

    def test_not_a_storage(self):
        with self.assertRaises(TypeError):
            Client(storage=object())
        with self.assertRaises(TypeError):
            Client(storage=42)

    def test_base_exception_does_not_escape_into_c(self):
        class Interrupt(constra.DictStorage):
            def list_intents(self, query):
                raise KeyboardInterrupt

        with Client(storage=Interrupt()) as c:
            with self.assertRaises(StorageError) as cm:
                c.list()
            self.assertIsInstance(cm.exception.__cause__, KeyboardInterrupt)


if __name__ == "__main__":
    unittest.main()
