"""Transports through the C vtable: a Python transport carrying HTTP-shaped
requests into the in-process REST router, the C loopback from Python, and
failures classified as not-sent or outcome-unknown."""
import json
import unittest

import constra
from constra import Client, transport as T
from helpers import SECRET, SEED, SEED_KEY

ORIGIN = "http://constra.test"
AUTH = {"Authorization": "Bearer " + SECRET}


def seed_body():
    body = dict(SEED)
    return json.dumps(body).encode()


class PythonTransportIntoRouter(unittest.TestCase):
    def setUp(self):
        self.client = Client(secret_key=SECRET)
        self.rt = T.RouterTransport(self.client)

    def tearDown(self):
        self.client.close()

    def test_seed_flow_over_the_transport(self):
        headers = dict(AUTH, **{"Idempotency-Key": SEED_KEY, "Content-Type": "application/json"})
        r1 = T.send(self.rt, "POST", ORIGIN + "/v1/payment-intents", headers, seed_body())
        self.assertEqual(r1.status, 201, r1.body)
        pi = r1.json()
        self.assertEqual(pi["status"], "pending_user_action")
        self.assertEqual(r1.header("content-type"), "application/json")
        r2 = T.send(self.rt, "POST", ORIGIN + "/v1/payment-intents", headers, seed_body())
        self.assertEqual(r2.body, r1.body)  # replay, byte for byte, across the vtable
        self.assertEqual(r2.header("Idempotent-Replayed"), "true")
        sim = T.send(self.rt, "POST", f"{ORIGIN}/v1/payment-intents/{pi['id']}/simulate-callback",
                     dict(AUTH, **{"Content-Type": "application/json"}),
                     b'{"result_code":1032,"result_desc":"Request cancelled by user."}')
        self.assertEqual(sim.json()["status"], "requires_recovery")
        self.assertTrue(sim.json()["recovery"]["agent_note"])
        ev = T.send(self.rt, "GET", f"{ORIGIN}/api/v1/payment-intents/{pi['id']}/events", AUTH)
        self.assertEqual([e["type"] for e in ev.json()["data"]],
                         ["payment_intent.created", "payment_intent.pending_user_action",
                          "payment_intent.requires_recovery"])
        self.assertEqual(ev.json(), self.client.events(pi["id"]))
        self.assertEqual(self.rt.requests, 4)

    def test_failing_transport_leaves_the_engine_untouched(self):
        class Broken(T.RouterTransport):
            def send(self, request):
                raise OSError("network is unreachable")
        headers = dict(AUTH, **{"Idempotency-Key": SEED_KEY, "Content-Type": "application/json"})
        with self.assertRaises(T.OutcomeUnknownError) as cm:
            T.send(Broken(self.client), "POST", ORIGIN + "/v1/payment-intents", headers,
                   seed_body())
        self.assertIsInstance(cm.exception.__cause__, OSError)
        self.assertEqual(self.client.list()["data"], [])
        # The same request afterwards goes through, once.
        r = T.send(self.rt, "POST", ORIGIN + "/v1/payment-intents", headers, seed_body())
        self.assertEqual(r.status, 201)
        self.assertEqual(len(self.client.list()["data"]), 1)

    def test_http_errors_are_responses(self):
        r = T.send(self.rt, "GET", ORIGIN + "/v1/payment-intents")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["error"]["code"], "authentication_required")
        r = T.send(self.rt, "GET", ORIGIN + "/v1/payment-intents/pi_01m84728vssdr2cpnq71nsww6j",
                   AUTH)
        self.assertEqual(r.status, 404)

    def test_request_checks_happen_before_the_transport(self):
        for headers, param in (({"X-Evil": "a\r\nInjected: 1"}, "value"),
                               ({"Bad Name": "x"}, "name")):
            with self.assertRaises(constra.InvalidArgumentError) as cm:
                T.send(self.rt, "GET", ORIGIN + "/v1/payment-intents", headers)
            self.assertIn(param, cm.exception.param)
        with self.assertRaises(constra.InvalidArgumentError):
            T.send(self.rt, "GET", "ftp://constra.test/x")
        with self.assertRaises(constra.InvalidArgumentError):
            T.send(self.rt, "GET", "http://constra.test/a b")
        self.assertEqual(self.rt.requests, 0)
        with self.assertRaises(TypeError):
            T.send(self.rt, "GET", ORIGIN + "/v1", [("only-name",)])
        with self.assertRaises(TypeError):
            T.send(self.rt, "GET", ORIGIN + "/v1", body=12)


class Failures(unittest.TestCase):
    def send_with(self, behaviour, **kw):
        class Flaky(T.Transport):
            def send(self, request):
                return behaviour(request)
        return T.send(Flaky(), "POST", ORIGIN + "/v1/payment-intents", AUTH, b"{}", **kw)

    def test_connect_failure_is_not_sent(self):
        def refuse(_req):
            raise T.TransportFailure("connect", "connection refused")
        with self.assertRaises(constra.TransportError) as cm:
            self.send_with(refuse)
        self.assertEqual(cm.exception.code, "transport_connect")
        self.assertIsInstance(cm.exception.__cause__, T.TransportFailure)

    def test_timeout_is_outcome_unknown(self):
        def slow(_req):
            raise T.TransportFailure("timeout")
        with self.assertRaises(T.OutcomeUnknownError) as cm:
            self.send_with(slow)
        self.assertEqual(cm.exception.code, "transport_timeout")

    def test_any_other_exception_is_outcome_unknown(self):
        def boom(_req):
            raise ZeroDivisionError("bug in the transport")
        with self.assertRaises(T.OutcomeUnknownError) as cm:
            self.send_with(boom)
        self.assertEqual(cm.exception.code, "transport_failed")
        self.assertIsInstance(cm.exception.__cause__, ZeroDivisionError)

    def test_response_over_the_cap(self):
        big = lambda _req: T.TransportResponse(200, [], b"x" * 5000)  # noqa: E731
        with self.assertRaises(T.OutcomeUnknownError) as cm:
            self.send_with(big, max_response_bytes=1000)
        self.assertEqual(cm.exception.code, "response_too_large")
        self.assertEqual(self.send_with(big, max_response_bytes=5000).status, 200)

    def test_malformed_answers(self):
        for answer in (lambda _r: None, lambda _r: T.TransportResponse(42),
                       lambda _r: T.TransportResponse("200"),
                       lambda _r: T.TransportResponse(200, [("X", "é€")])):
            with self.assertRaises(T.OutcomeUnknownError):
                self.send_with(answer)

    def test_request_as_seen_by_the_transport(self):
        seen = []

        def record(req):
            seen.append(req)
            return T.TransportResponse(204, [("X-Echo", req.method)])
        r = self.send_with(record, timeout_ms=1234)
        self.assertEqual(r.status, 204)
        self.assertEqual(r.header("x-echo"), "POST")
        req = seen[0]
        self.assertEqual((req.url, req.body, req.timeout_ms), (ORIGIN + "/v1/payment-intents",
                                                             b"{}", 1234))
        self.assertIn(("Authorization", AUTH["Authorization"]), req.headers)


class CLoopback(unittest.TestCase):
    def test_router_mounted_on_the_c_loopback(self):
        with Client(secret_key=SECRET) as c, T.Loopback() as lb:
            lb.mount_router(ORIGIN, c)
            headers = dict(AUTH, **{"Idempotency-Key": "lb1", "Content-Type": "application/json"})
            r = T.send(lb, "POST", ORIGIN + "/v1/payment-intents", headers, seed_body())
            self.assertEqual(r.status, 201)
            self.assertEqual(c.get(r.json()["id"])["id"], r.json()["id"])
            self.assertEqual(lb.request_count, 1)
            with self.assertRaises(constra.TransportError) as cm:
                T.send(lb, "GET", "http://elsewhere.test/v1/payment-intents", AUTH)
            self.assertEqual(cm.exception.code, "transport_connect")
            self.assertEqual(lb.request_count, 2)
        with self.assertRaises(ConstraError):
            T.send(lb, "GET", ORIGIN + "/v1/payment-intents")


ConstraError = constra.ConstraError

if __name__ == "__main__":
    unittest.main()
