"""The engine through the binding: the seed flow of issue 4, replay,
lists, operator actions, errors, storages and lifetime."""
import json
import os
import tempfile
import unittest

import constra
from constra import Client, ConstraError
from helpers import SECRET, SEED, SEED_KEY, check_metadata, create_seed


class SeedFlow(unittest.TestCase):
    def run_seed_flow(self, client):
        created = create_seed(client)
        self.assertEqual(created["status"], "pending_user_action")
        self.assertEqual(created["next_action"], "wait_for_callback")
        pa = created["provider_action"]
        self.assertEqual(pa["type"], "stk_push")
        self.assertEqual(pa["state"], "sent_to_customer")
        self.assertTrue(pa["checkout_request_id"].startswith("ws_CO_"))
        self.assertEqual(created["amount"], 1250)
        self.assertEqual(created["reference"], "order_7429")
        self.assertEqual(created["customer"], {"name": "Amina N.", "phone_number": "254700000000"})
        self.assertFalse(created.replayed)

        cancelled = client.simulate(created["id"], 1032, "Request cancelled by user.")
        self.assertEqual(cancelled["status"], "requires_recovery")
        rec = cancelled["recovery"]
        self.assertEqual(rec["recommended_action"], "retry")
        self.assertTrue(rec["retry_allowed"])
        self.assertEqual((rec["attempts_used"], rec["attempts_left"]), (1, 2))
        self.assertIn("cancelled", rec["agent_note"].lower())

        retried = client.retry(created["id"])
        self.assertEqual(retried["status"], "pending_user_action")
        self.assertNotEqual(retried["provider_action"]["checkout_request_id"],
                            pa["checkout_request_id"])
        paid = client.simulate(created["id"], "0", "The service request is processed successfully.")
        self.assertEqual(paid["status"], "succeeded")
        self.assertEqual(paid["next_action"], "none")

        timeline = client.events(created["id"])
        self.assertEqual(timeline["object"], "list")
        self.assertEqual([e["type"] for e in timeline["data"]], [
            "payment_intent.created", "payment_intent.pending_user_action",
            "payment_intent.requires_recovery", "payment_intent.pending_user_action",
            "payment_intent.succeeded"])
        self.assertEqual(client.get(created["id"]), paid)
        return created

    def test_seed_flow_memory(self):
        with Client() as c:
            self.run_seed_flow(c)

    def test_seed_flow_sqlite(self):
        if not constra.feature_enabled("sqlite"):
            # A build without SQLite (the firmware profile) must say so.
            with self.assertRaises(constra.UnsupportedError):
                Client(storage="sqlite:/nonexistent/constra.db")
            return
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "constra.db")
            with Client(storage="sqlite:" + path) as c:
                created = self.run_seed_flow(c)
            with Client(storage="sqlite:" + path) as c:  # durable across handles
                self.assertEqual(c.get(created["id"])["status"], "succeeded")
                self.assertEqual(len(c.events(created["id"])["data"]), 5)

    def test_seed_flow_python_storage(self):
        store = constra.DictStorage()
        with Client(storage=store) as c:
            created = self.run_seed_flow(c)
        self.assertIn(created["id"], [r.id for r in store.records("intent")])
        self.assertEqual(len(store.all_events()), 5)

    def test_replay_gives_same_body(self):
        with Client() as c:
            first = create_seed(c)
            again = create_seed(c)
            self.assertTrue(again.replayed)
            self.assertEqual(json.dumps(first, sort_keys=True), json.dumps(again, sort_keys=True))
            with self.assertRaises(constra.ConflictError) as cm:
                create_seed(c, amount=1300)
            self.assertEqual(cm.exception.code, "idempotency_key_reused")
            self.assertEqual(cm.exception.http_status, 409)
            self.assertEqual(len(c.list()["data"]), 1)

    def test_replay_byte_for_byte_through_router(self):
        with Client(secret_key=SECRET) as c:
            body = json.dumps(dict(SEED)).encode()
            headers = {"Authorization": "Bearer " + SECRET, "Idempotency-Key": SEED_KEY,
                       "Content-Type": "application/json"}
            r1 = c.request("POST", "/v1/payment-intents", headers, body)
            r2 = c.request("POST", "/v1/payment-intents", headers, body)
            self.assertEqual(r1.status, 201)
            self.assertEqual(r2.status, 201)
            self.assertEqual(r1.body, r2.body)
            self.assertEqual(r2.header("idempotent-replayed"), "true")
            # The router and the Client serialise the same intent identically.
            self.assertEqual(r1.json(), c.get(r1.json()["id"]))
            events = c.request("GET", f"/v1/payment-intents/{r1.json()['id']}/events",
                               {"Authorization": "Bearer " + SECRET})
            self.assertEqual(events.json(), c.events(r1.json()["id"]))
            unauth = c.request("GET", "/v1/payment-intents")
            self.assertEqual(unauth.status, 401)
            self.assertEqual(unauth.json()["error"]["code"], "authentication_required")


class Metadata(unittest.TestCase):
    def test_memory(self):
        with Client() as c:
            check_metadata(self, c, "mem")

    def test_sqlite_survives_a_restart(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "meta.db")
            with Client(storage="sqlite:" + path) as c:
                check_metadata(self, c, "sql")
                pi = create_seed(c, key="sql-restart", metadata={"k": "v\u00e9"})
            with Client(storage="sqlite:" + path) as c:
                self.assertEqual(c.get(pi["id"])["metadata"], pi["metadata"])
                events = c.events(pi["id"])["data"]
                self.assertTrue(events)
                self.assertTrue(all(e["data"]["metadata"] == pi["metadata"] for e in events))


class Actions(unittest.TestCase):
    def setUp(self):
        self.c = Client()

    def tearDown(self):
        self.c.close()

    def test_not_found(self):
        with self.assertRaises(constra.NotFoundError) as cm:
            self.c.get("pi_01m84728vssdr2cpnq71nsww6j")
        self.assertEqual(cm.exception.http_status, 404)
        self.assertEqual(cm.exception.code, "resource_missing")
        self.assertIsInstance(cm.exception, ConstraError)

    def test_invalid_state_409(self):
        created = create_seed(self.c)
        with self.assertRaises(constra.InvalidStateError) as cm:
            self.c.retry(created["id"])
        self.assertEqual(cm.exception.http_status, 409)
        self.assertIn("pending_user_action", cm.exception.message)
        self.assertEqual(self.c.get(created["id"]), created)  # nothing changed

    def test_cancel_then_late_success_goes_to_review_then_resolve(self):
        created = create_seed(self.c)
        self.assertEqual(self.c.cancel(created["id"])["status"], "cancelled")
        late = self.c.simulate(created["id"], 0)
        self.assertEqual(late["status"], "review_required")
        with self.assertRaises(constra.InvalidArgumentError) as cm:
            self.c.resolve(created["id"], "succeeded")  # receipt required
        self.assertEqual(cm.exception.param, "receipt")
        done = self.c.resolve(created["id"], "succeeded", receipt="TKR1234567",
                              note="checked the statement")
        self.assertEqual(done["status"], "succeeded")

    def test_draft_confirm(self):
        draft = create_seed(self.c, draft=True)
        self.assertEqual(draft["status"], "draft")
        self.assertEqual(draft["next_action"], "confirm")
        sent = self.c.confirm(draft["id"])
        self.assertEqual(sent["status"], "pending_user_action")
        with self.assertRaises(constra.InvalidStateError):
            self.c.confirm(draft["id"])

    def test_list_filters_and_paging(self):
        ids = [self.c.create(100 + i, idempotency_key=f"k{i}", phone_number="0712345678",
                             reference="ref_a" if i % 2 else "ref_b")["id"] for i in range(5)]
        page = self.c.list(limit=2)
        self.assertEqual([x["id"] for x in page["data"]], ids[::-1][:2])
        self.assertTrue(page["has_more"])
        rest = self.c.list(starting_after=page["data"][-1]["id"], limit=10)
        self.assertEqual([x["id"] for x in rest["data"]], ids[::-1][2:])
        self.assertFalse(rest["has_more"])
        self.assertEqual(len(self.c.list(reference="ref_a")["data"]), 2)
        self.assertEqual(len(self.c.list(status="succeeded")["data"]), 0)
        self.assertEqual(len(self.c.list(status="pending_user_action")["data"]), 5)

    def test_magic_number_outcome_by_tick(self):
        created = self.c.create(50, idempotency_key="magic", phone_number="254711000003")
        self.c.tick(self.c.now_ms() + 10_000)
        self.assertEqual(self.c.get(created["id"])["status"], "requires_recovery")

    def test_live_mode_needs_a_real_rail(self):
        # The binding's local Client has only the simulator: a live one is
        # refused at open (handle.h), so magic numbers exist only in
        # sandbox. A live workspace is reached through Client.remote().
        with self.assertRaises(ConstraError) as cm:
            Client(mode="live")
        self.assertEqual(cm.exception.code, "live_needs_real_rail")
        self.assertEqual(cm.exception.param, "config.rail")
        self.assertEqual(cm.exception.http_status, 400)


class PerCallErrors(unittest.TestCase):
    """error.h: each call reports into its own constra_error, so threads
    sharing one Client never raise another thread's cause (ctypes drops the
    GIL around every C call, so the calls really overlap)."""

    CALLS = 3000

    def test_four_threads_each_see_their_own_error(self):
        import threading
        with Client(secret_key=SECRET) as client:
            pending = create_seed(client, key="per-call-pending")["id"]
            calls = [
                lambda i: client.get("pi_00000000000000000000000000"),
                lambda i: create_seed(client, key="neg-%d" % i, amount=-5),
                lambda i: client.create(100, idempotency_key="phone-%d" % i, phone_number="12345"),
                lambda i: client.confirm(pending),
            ]

            def cause(call, i):
                try:
                    call(i)
                except ConstraError as e:
                    return (type(e).__name__, e.code, e.param, e.message)
                return None

            want = [cause(call, -1) for call in calls]
            self.assertNotIn(None, want)
            self.assertEqual(len({(w[1], w[2]) for w in want}), len(calls), want)
            bad = [[] for _ in calls]
            start = threading.Barrier(len(calls))

            def run(k):
                start.wait()
                for i in range(self.CALLS):
                    got = cause(calls[k], i)
                    if got != want[k]:
                        bad[k].append(got)

            threads = [threading.Thread(target=run, args=(k,)) for k in range(len(calls))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for k in range(len(calls)):
                self.assertEqual(bad[k][:3], [], "call %d expected %r" % (k, want[k]))


class Lifetime(unittest.TestCase):
    def test_context_manager_closes(self):
        with Client() as c:
            self.assertFalse(c.closed)
        self.assertTrue(c.closed)
        with self.assertRaises(ConstraError) as cm:
            c.list()
        self.assertEqual(cm.exception.code, "client_closed")
        c.close()  # idempotent

    def test_python_storage_closed_with_client(self):
        closed = []

        class Store(constra.DictStorage):
            def close(self):
                closed.append(True)

        c = Client(storage=Store())
        create_seed(c)
        self.assertEqual(closed, [])
        c.close()
        self.assertEqual(closed, [True])
        c.close()
        self.assertEqual(closed, [True])  # destroy runs exactly once

    def test_finalizer_closes_forgotten_client(self):
        closed = []

        class Store(constra.DictStorage):
            def close(self):
                closed.append(True)

        c = Client(storage=Store())
        create_seed(c)
        del c
        import gc
        gc.collect()
        self.assertEqual(closed, [True])

    def test_bad_config_leaves_nothing(self):
        with self.assertRaises(constra.InvalidArgumentError) as cm:
            Client(secret_key="cs_live_wrong_mode_key_0123", mode="sandbox")
        self.assertEqual(cm.exception.param, "config.secret_key")
        with self.assertRaises(constra.InvalidArgumentError):
            Client(storage="postgres://nowhere")
        with self.assertRaises(constra.InvalidArgumentError):
            Client(mode="production")


if __name__ == "__main__":
    unittest.main()
