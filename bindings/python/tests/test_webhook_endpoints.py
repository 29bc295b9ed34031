"""Webhook endpoints and deliveries from Python: register, deliver through
a Python transport, verify three ways, rotate with overlap, test events,
disable/enable, replay, delete, and bad input. On memory and SQLite."""
import os
import tempfile
import unittest

import constra
from constra import ConstraError, verify_webhook
from constra.transport import Transport, TransportResponse


class Receiver(Transport):
    """Records each POST; answers the next status of `plan` (200 after)."""

    def __init__(self):
        self.got = []
        self.plan = []

    def send(self, request):
        self.got.append(request)
        return TransportResponse(self.plan.pop(0) if self.plan else 200)


def header(req, name):
    for k, v in req.headers:
        if k.lower() == name.lower():
            return v
    return None


def verify_three(req, secret, body_hex=True):
    verify_webhook(req.body, header(req, "Constra-Signature"), secret=secret, scheme="t_v1")
    verify_webhook(req.body, secret=secret, scheme="standard_webhooks",
                   headers={k: v for k, v in req.headers})
    if body_hex:
        verify_webhook(req.body, header(req, "Constra-Signature-Body"), secret=secret,
                       scheme="body_hex")


class Endpoints(unittest.TestCase):
    def storages(self):
        yield "memory"
        d = tempfile.mkdtemp(prefix="constra-py-wh-")
        yield "sqlite:" + os.path.join(d, "db.sqlite")

    def test_end_to_end(self):
        for storage in self.storages():
            with self.subTest(storage=storage.split(":")[0]):
                self.run_on(storage)

    def run_on(self, storage):
        rx = Receiver()
        c = constra.Client(storage, webhook_transport=rx)
        try:
            ep = c.add_webhook_endpoint("http://hooks.test/py")
            self.assertTrue(ep["id"].startswith("we_"))
            self.assertTrue(ep["secret"].startswith("whsec_"))
            self.assertEqual(ep["enabled_events"], ["*"])
            self.assertEqual(ep["status"], "enabled")
            secret = ep["secret"]
            self.assertNotIn("secret", c.webhook_endpoint(ep["id"]))
            self.assertEqual([e["id"] for e in c.webhook_endpoints()], [ep["id"]])

            pi = c.create(1250, idempotency_key="py-wh-1", phone_number="254700000000")
            c.simulate(pi["id"], 0)
            c.tick()
            types = [header(r, "Constra-Event-Type") for r in rx.got]
            self.assertIn("payment_intent.created", types)
            self.assertIn("payment_intent.succeeded", types)
            for r in rx.got:
                self.assertEqual(r.method, "POST")
                self.assertEqual(r.url, "http://hooks.test/py")
                verify_three(r, secret)
            dl = c.webhook_deliveries(endpoint=ep["id"], status="delivered")
            self.assertEqual(len(dl), len(rx.got))
            self.assertTrue(all(d["attempt_count"] == 1 and d["last_http_status"] == 200
                                for d in dl))
            self.assertEqual(dl[0]["body"], rx.got[0].body)

            # Replay: same id and body.
            n = len(rx.got)
            c.replay_webhook_delivery(dl[0]["id"])
            c.tick()
            self.assertEqual(len(rx.got), n + 1)
            self.assertEqual(header(rx.got[-1], "Constra-Delivery-Id"), dl[0]["id"])
            self.assertEqual(rx.got[-1].body, dl[0]["body"])

            # A 500: pending with the attempt and a next try; replay refused.
            rx.plan = [500]
            did = c.send_test_webhook(ep["id"])
            self.assertTrue(did.startswith("whd_"))
            c.tick()
            pend = c.webhook_deliveries(status="pending")
            self.assertEqual([d["id"] for d in pend], [did])
            self.assertEqual(pend[0]["event_type"], "webhook.test")
            self.assertEqual(pend[0]["last_http_status"], 500)
            self.assertEqual(pend[0]["last_error"], "http_500")
            self.assertGreater(pend[0]["next_attempt_at_ms"], c.now_ms())
            with self.assertRaises(ConstraError) as cm:
                c.replay_webhook_delivery(did)
            self.assertEqual(cm.exception.http_status, 409)

            # Rotation: both secrets verify during the overlap.
            rot = c.rotate_webhook_secret(ep["id"], overlap_ms=600000)
            self.assertNotEqual(rot["secret"], secret)
            n = len(rx.got)
            c.send_test_webhook(ep["id"])
            c.tick()
            self.assertEqual(len(rx.got), n + 1)
            verify_three(rx.got[-1], rot["secret"])
            verify_three(rx.got[-1], secret, body_hex=False)
            with self.assertRaises(constra.SignatureError):
                verify_webhook(rx.got[-1].body, header(rx.got[-1], "Constra-Signature-Body"),
                               secret=secret, scheme="body_hex")

            # Disable / enable / delete.
            self.assertEqual(c.disable_webhook_endpoint(ep["id"])["status"], "disabled")
            n = len(rx.got)
            c.create(100, idempotency_key="py-wh-2", phone_number="254700000000")
            c.tick()
            self.assertEqual(len(rx.got), n)
            self.assertEqual(c.enable_webhook_endpoint(ep["id"])["status"], "enabled")
            c.delete_webhook_endpoint(ep["id"])
            self.assertEqual(c.webhook_endpoints(), [])
            with self.assertRaises(ConstraError) as cm:
                c.webhook_endpoint(ep["id"])
            self.assertEqual(cm.exception.http_status, 404)
        finally:
            c.close()

    def test_description_and_scheme(self):
        for storage in self.storages():
            with self.subTest(storage=storage.split(":")[0]):
                rx = Receiver()
                with constra.Client(storage, webhook_transport=rx) as c:
                    ep = c.add_webhook_endpoint("http://hooks.test/s", description="Till \u00e9 4",
                                                scheme="constra")
                    self.assertEqual((ep["description"], ep["scheme"]), ("Till \u00e9 4", "constra"))
                    got = c.webhook_endpoint(ep["id"])
                    self.assertEqual((got["description"], got["scheme"]), ("Till \u00e9 4", "constra"))
                    c.send_test_webhook(ep["id"])
                    c.tick()
                    self.assertEqual(len(rx.got), 1)
                    self.assertIsNone(header(rx.got[0], "webhook-signature"))
                    self.assertTrue(header(rx.got[0], "Constra-Signature"))
                    c.delete_webhook_endpoint(ep["id"])
                    std = c.add_webhook_endpoint("http://hooks.test/s", scheme="standard_webhooks")
                    self.assertIsNone(std["description"])
                    c.send_test_webhook(std["id"])
                    c.tick()
                    self.assertEqual(len(rx.got), 2)
                    self.assertIsNone(header(rx.got[1], "Constra-Signature"))
                    self.assertTrue(header(rx.got[1], "webhook-signature"))
                    self.assertEqual(c.add_webhook_endpoint("http://hooks.test/d")["scheme"], "all")
                    for kwargs, param, code in (
                            ({"scheme": "nope"}, "scheme", "webhook_scheme_unknown"),
                            ({"description": "x" * 501}, "description", None),
                            ({"description": "bell\x07"}, "description", "parameter_invalid"),
                            ({"scheme": "standard_webhooks", "secret": "plain-secret-0123456789"},
                             "secret", "secret_invalid")):
                        with self.assertRaises(ConstraError) as cm:
                            c.add_webhook_endpoint("http://hooks.test/b", **kwargs)
                        self.assertEqual(cm.exception.param, param)
                        if code:
                            self.assertEqual(cm.exception.code, code)
                    self.assertEqual(len(c.webhook_endpoints()), 2)

    def test_bad_input(self):
        with constra.Client() as c:
            for kwargs, param in (({"url": "ftp://x.test/"}, "url"),
                                  ({"url": "http://a@b.test/"}, "url"),
                                  ({"url": "http://x.test/", "enabled_events": ["nope"]},
                                   "event_types"),
                                  ({"url": "http://x.test/", "secret": "short"}, "secret")):
                with self.subTest(kwargs=kwargs):
                    with self.assertRaises(ConstraError) as cm:
                        c.add_webhook_endpoint(**kwargs)
                    self.assertEqual(cm.exception.param, param)
            with self.assertRaises(TypeError):
                c.add_webhook_endpoint("http://x.test/", enabled_events="*")
            with self.assertRaises(TypeError):
                c.add_webhook_endpoint(42)
            self.assertEqual(c.webhook_endpoints(), [])
            for call in (lambda: c.rotate_webhook_secret("we_nope"),
                         lambda: c.send_test_webhook("we_nope"),
                         lambda: c.replay_webhook_delivery("whd_nope"),
                         lambda: c.delete_webhook_endpoint("we_nope")):
                with self.assertRaises(ConstraError) as cm:
                    call()
                self.assertEqual(cm.exception.http_status, 404)
            ep = c.add_webhook_endpoint("http://x.test/")
            with self.assertRaises(ConstraError) as cm:
                c.rotate_webhook_secret(ep["id"], overlap_ms=8 * 86400000)
            self.assertEqual(cm.exception.param, "overlap_ms")
            with self.assertRaises(ConstraError):
                c.webhook_deliveries(status="bogus")


if __name__ == "__main__":
    unittest.main()
