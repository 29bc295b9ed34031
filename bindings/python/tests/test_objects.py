"""Issue 15 item 4: intents as objects (attribute and key access, nested),
verify_webhook returning the parsed event, list_all auto-pagination."""
import json
import unittest

import constra
from constra import Client, ConstraObject
from helpers import SECRET


class Objects(unittest.TestCase):
    def test_attribute_and_key_access_nested(self):
        with Client() as c:
            pi = c.create(1250, idempotency_key="obj", reference="order_1",
                          customer={"name": "Amina N.", "phone_number": "0700 000 000"})
            self.assertIsInstance(pi, dict)
            self.assertIsInstance(pi, ConstraObject)
            self.assertEqual(pi.id, pi["id"])
            self.assertEqual(pi.customer.name, "Amina N.")
            self.assertEqual(pi.customer["phone_number"], "254700000000")
            self.assertEqual(pi.provider_action.type, "stk_push")
            self.assertFalse(pi.replayed)
            self.assertNotIn("replayed", pi)              # an attribute, not a field
            self.assertEqual(json.loads(json.dumps(pi)), dict(pi))
            with self.assertRaises(AttributeError):
                pi.no_such_field
            with self.assertRaises(KeyError):
                pi["no_such_field"]
            self.assertIn("customer", dir(pi))
            again = c.create(1250, idempotency_key="obj", reference="order_1",
                             customer={"name": "Amina N.", "phone_number": "0700 000 000"})
            self.assertTrue(again.replayed)
            done = c.simulate(pi.id, 1032)
            self.assertEqual(done.recovery.recommended_action, "retry")
            ev = c.events(pi.id)
            self.assertEqual(ev.object, "list")
            self.assertEqual(ev.data[0].type, "payment_intent.created")
            self.assertEqual(c.list().data[0].id, pi.id)
            self.assertEqual(constra.decode_result("1032").outcome, "requires_recovery")

    def test_list_all_pages_through_everything(self):
        with Client() as c:
            made = [c.create(10 + i, idempotency_key=f"la{i}", phone_number="0712345678").id
                    for i in range(7)]
            for page in (0, 1, 2, 3, 100):
                got = [pi.id for pi in c.list_all(limit=page)]
                self.assertEqual(got, made[::-1], page)        # newest first, each once
            it = c.list_all(limit=2)
            self.assertEqual(next(it).id, made[-1])          # lazily, a page at a time
            self.assertEqual([pi.id for pi in c.list_all(limit=2, starting_after=made[3])],
                             made[:3][::-1])
            self.assertEqual(list(c.list_all(status="succeeded")), [])

    def test_list_all_on_a_remote_client(self):
        with Client(secret_key=SECRET) as server:
            with Client.remote("http://constra.test/v1", SECRET,
                               transport=constra.RouterTransport(server)) as r:
                made = [r.create(10, idempotency_key=f"r{i}", phone_number="0712345678").id
                        for i in range(5)]
                self.assertEqual([pi.id for pi in r.list_all(limit=2)], made[::-1])
                self.assertIsInstance(r.get(made[0]).customer, ConstraObject)

    def test_verify_webhook_returns_the_event(self):
        body = b'{"id":"evt_1","type":"payment_intent.succeeded","data":{"payment_intent_id":"pi_1"}}'
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        event = constra.verify_webhook(body, constra.sign_webhook(body, secret=secret),
                                       secret=secret)
        self.assertEqual(event.type, "payment_intent.succeeded")
        self.assertEqual(event.data.payment_intent_id, "pi_1")
        self.assertEqual(event, json.loads(body))
        # an authentic body that is not JSON verifies and gives None
        self.assertIsNone(constra.verify_webhook(b"hello", constra.sign_webhook(b"hello", secret="k"),
                                                 secret="k"))
        with self.assertRaises(constra.SignatureError):
            constra.verify_webhook(body + b" ", constra.sign_webhook(body, secret=secret), secret=secret)


if __name__ == "__main__":
    unittest.main()


class FieldNames(unittest.TestCase):
    def test_endpoints_and_deliveries_carry_rest_times(self):
        import datetime

        class Failing(constra.Transport):
            def send(self, request):
                return constra.TransportResponse(500)

        with Client(webhook_transport=Failing()) as c:
            ep = c.add_webhook_endpoint("http://hooks.test/x")
            want = datetime.datetime.fromtimestamp(ep.created_at_ms / 1000, datetime.timezone.utc)
            self.assertEqual(ep.created_at, want.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
            c.create(10, idempotency_key="v", phone_number="0712345678")
            c.tick()
            pending = c.webhook_deliveries(status="pending")
            self.assertTrue(pending)
            ms = pending[0].next_attempt_at_ms
            self.assertTrue(pending[0].next_attempt_at.endswith("%03dZ" % (ms % 1000)))
