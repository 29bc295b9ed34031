"""Bad input through the Python API: wrong types, None, huge strings,
NUL bytes, bytes where text belongs. Each raises a ConstraError with a
code and param, and leaves stored state unchanged."""
import unittest

import constra
from constra import Client, ConstraError
from helpers import SEED, SEED_KEY, create_seed


class BadInput(unittest.TestCase):
    def setUp(self):
        self.store = constra.DictStorage()
        self.c = Client(storage=self.store)
        self.first = create_seed(self.c)

    def tearDown(self):
        self.c.close()

    def state(self):
        return self.store.snapshot()

    def assertRefused(self, fn, param=None, kind=ConstraError, http=400):
        before = self.state()
        with self.assertRaises(kind) as cm:
            fn()
        exc = cm.exception
        self.assertIsInstance(exc, ConstraError)
        self.assertTrue(exc.code)
        self.assertEqual(exc.http_status, http, exc)
        if param is not None:
            self.assertEqual(exc.param, param, exc)
        self.assertEqual(self.state(), before, "state changed on a refused call")
        return exc

    def create(self, key="k2", **over):
        args = dict(SEED)
        args.update(over)
        amount = args.pop("amount")
        return lambda: self.c.create(amount, idempotency_key=key, **args)

    def test_amount_types_and_ranges(self):
        for bad in (12.5, 1250.0, "1250", None, True, [1250], 10**30):
            self.assertRefused(self.create(amount=bad), "amount", kind=(TypeError, ValueError))
        for bad in (0, -1, 250_001, 2**63 - 1, -(2**63)):
            self.assertRefused(self.create(amount=bad), "amount")

    def test_wrong_types_are_type_errors(self):
        self.assertRefused(self.create(currency=840), "currency", kind=TypeError)
        self.assertRefused(self.create(reference=b"order_7429"), "reference", kind=TypeError)
        self.assertRefused(self.create(customer="Amina"), "customer", kind=TypeError)
        self.assertRefused(self.create(draft="yes"), "draft", kind=TypeError)
        self.assertRefused(self.create(agent_policy=1), "agent_policy", kind=TypeError)
        self.assertRefused(lambda: self.c.create(100, idempotency_key=7, phone_number="0712345678"),
                           "idempotency_key", kind=TypeError)
        self.assertRefused(lambda: self.c.get(None), "id")
        self.assertRefused(lambda: self.c.get(123), "id", kind=TypeError)
        self.assertRefused(lambda: self.c.get(b"pi_x"), "id", kind=TypeError)
        self.assertRefused(lambda: self.c.simulate(self.first["id"], 10.5), "result_code",
                           kind=TypeError)
        self.assertRefused(lambda: self.c.list(limit="10"), "limit", kind=TypeError)
        self.assertRefused(lambda: self.c.list(status=3), "status", kind=TypeError)

    def test_missing_values(self):
        self.assertRefused(self.create(currency=None), "currency")
        self.assertRefused(self.create(customer={"name": "A"}), "customer.phone_number")
        self.assertRefused(self.create(key=None), "idempotency_key")
        self.assertRefused(self.create(key=""), "idempotency_key")

    def test_bad_values_reach_c_checks(self):
        self.assertRefused(self.create(currency="kes"), "currency")
        self.assertRefused(self.create(customer={"phone_number": "0201234567"}),
                           "phone_number")
        self.assertRefused(self.create(key="has space"), "idempotency_key")
        self.assertRefused(self.create(agent_policy="yolo"), "agent_policy")
        self.assertRefused(self.create(customer={"nmae": "x", "phone_number": "0712345678"}),
                           "customer.nmae")
        self.assertRefused(lambda: self.c.get("not an id"), "id")
        self.assertRefused(lambda: self.c.list(status="paid"), "status")
        self.assertRefused(lambda: self.c.resolve(self.first["id"], "maybe"), "outcome")

    def test_huge_strings(self):
        huge = "x" * 1_000_000
        self.assertRefused(self.create(reference=huge), "reference")
        self.assertRefused(self.create(description=huge), "description")
        self.assertRefused(self.create(customer={"name": huge, "phone_number": "0712345678"}))
        self.assertRefused(self.create(key=huge), "idempotency_key")
        self.assertRefused(lambda: self.c.get("pi_" + huge), "id")
        self.assertRefused(lambda: self.c.simulate(self.first["id"], huge))

    def test_nul_and_bad_unicode(self):
        self.assertRefused(self.create(reference="order_7429\0evil"), "reference")
        self.assertRefused(self.create(key=SEED_KEY + "\0"), "idempotency_key")
        self.assertRefused(self.create(description="lone \udc80 surrogate"), "description")
        # A replay key cut at a NUL must not find the first intent.
        self.assertEqual(len(self.c.list()["data"]), 1)

    def test_unicode_text_round_trips(self):
        made = self.c.create(10, idempotency_key="uni", phone_number="0712345678",
                             description="Malipo ya nyumba — €5 ✓", customer_name="Wanjikũ")
        got = self.c.get(made["id"])
        self.assertEqual(got["description"], "Malipo ya nyumba — €5 ✓")
        self.assertEqual(got["customer"]["name"], "Wanjikũ")

    def test_router_bad_bodies(self):
        with Client(secret_key="cs_test_bindings_0123456789") as c:
            auth = {"Authorization": "Bearer cs_test_bindings_0123456789",
                    "Idempotency-Key": "r1", "Content-Type": "application/json"}
            for body in (b"{", b"\xff\xfe", b'{"amount":"1250"}', "[]", b"{}" * 40000):
                r = c.request("POST", "/v1/payment-intents", auth, body)
                self.assertIn(r.status, (400, 413), (body[:20], r.body))
                self.assertIn("error", r.json())
            self.assertEqual(c.list()["data"], [])
            with self.assertRaises(TypeError):
                c.request("POST", "/v1/payment-intents", auth, {"amount": 1})
            with self.assertRaises(TypeError):
                c.request("GET", "/v1/payment-intents", [("a",)])


if __name__ == "__main__":
    unittest.main()
