"""The remote backend (include/constra/client.h) from Python: Client.remote()
and Client.from_env() open a handle whose calls go over HTTP. The seed flow
gives the same results as on a local Client, both through a Python
transport looping into a local Client's REST router and through libcurl to
a real `constra serve`; the server's errors arrive as ConstraError with its
code, HTTP status and param; bad configuration names what is wrong."""
import gc
import os
import subprocess
import unittest
from unittest import mock

import constra
from constra import Client, ConstraError, transport as T
from helpers import SECRET, SEED_KEY, check_metadata, create_seed

BASE = "http://constra.test/v1"
WRONG_KEY = "cs_test_not_the_right_key_42"
UNKNOWN_ID = "pi_01m84728vssdr2cpnq71nsww6j"
ENV_VARS = ("CONSTRA_API_BASE_URL", "CONSTRA_SECRET_KEY", "CONSTRA_ENVIRONMENT",
            "CONSTRA_DEFAULT_PROVIDER", "CONSTRA_WEBHOOK_SECRET")


def seed_flow(client):
    """The engine issue's seed flow; returns what must match across backends."""
    first = create_seed(client)
    again = create_seed(client)
    pid = first["id"]
    recovery = client.simulate(pid, 1032, "Request cancelled by user.")
    retried = client.retry(pid)
    done = client.simulate(pid, 0)
    events = client.events(pid)
    return {
        "statuses": [first["status"], recovery["status"], retried["status"], done["status"]],
        "replayed": (first.replayed, again.replayed, again == first),
        "agent_note": recovery["recovery"]["agent_note"],
        "recommended_action": recovery["recovery"]["recommended_action"],
        "attempts": (recovery["recovery"]["attempts_used"], recovery["recovery"]["attempts_left"]),
        "events": [e["type"] for e in events["data"]],
        "final": {k: done[k] for k in ("amount", "currency", "reference", "status")},
        "listed": [i["id"] for i in client.list(limit=1)["data"]] == [pid],
        "got": client.get(pid) == done,
    }


def local_reference():
    with Client(secret_key=SECRET) as local:
        return seed_flow(local)


class Counting(T.RouterTransport):
    """A router transport that records its close (the C destroy)."""

    def __init__(self, client):
        super().__init__(client)
        self.closed = 0

    def close(self):
        self.closed += 1


class RemoteOverPythonTransport(unittest.TestCase):
    def setUp(self):
        self.server = Client(secret_key=SECRET)  # the engine behind the "HTTP API"
        self.transport = Counting(self.server)

    def tearDown(self):
        self.server.close()

    def remote(self, key=SECRET, **kw):
        return Client.remote(BASE, key, transport=self.transport, **kw)

    def test_seed_flow_matches_the_local_client(self):
        expected = local_reference()
        with self.remote() as remote:
            self.assertTrue(remote.is_remote)
            got = seed_flow(remote)
        self.assertEqual(got, expected)
        self.assertEqual(got["statuses"], ["pending_user_action", "requires_recovery",
                                           "pending_user_action", "succeeded"])
        self.assertEqual(got["replayed"], (False, True, True))
        self.assertTrue(got["agent_note"])
        self.assertEqual(got["events"][-1], "payment_intent.succeeded")
        self.assertEqual(self.transport.requests, 8)  # one request a call: nothing repeated
        self.assertFalse(self.server.is_remote)

    def test_remote_answers_are_the_servers_json(self):
        with self.remote() as remote:
            pi = create_seed(remote)
            self.assertEqual(pi, self.server.get(pi["id"]))
            self.assertEqual(remote.events(pi["id"]), self.server.events(pi["id"]))
            # The server's idempotency answers a repeat from another client.
            self.assertTrue(create_seed(self.server).replayed)

    def test_webhook_endpoints_live_on_the_server(self):
        with self.remote() as remote:
            ep = remote.add_webhook_endpoint("http://127.0.0.1:9/hooks", description="till 4",
                                             scheme="constra")
            self.assertTrue(ep["secret"].startswith("whsec_"))
            self.assertEqual((ep["description"], ep["scheme"]), ("till 4", "constra"))
            # The server's engine has it; the remote client keeps nothing.
            self.assertEqual([e["id"] for e in self.server.webhook_endpoints()], [ep["id"]])
            self.assertEqual(remote.webhook_endpoint(ep["id"])["url"], "http://127.0.0.1:9/hooks")
            self.assertNotIn("secret", remote.webhook_endpoint(ep["id"]))
            self.assertEqual(remote.disable_webhook_endpoint(ep["id"])["status"], "disabled")
            self.assertEqual(self.server.webhook_endpoint(ep["id"])["status"], "disabled")
            remote.enable_webhook_endpoint(ep["id"])
            did = remote.send_test_webhook(ep["id"])
            dl = remote.webhook_deliveries(endpoint=ep["id"])
            self.assertEqual([(d["id"], d["event_type"], d["status"]) for d in dl],
                             [(did, "webhook.test", "pending")])
            rot = remote.rotate_webhook_secret(ep["id"], overlap_ms=60000)
            self.assertNotEqual(rot["secret"], ep["secret"])
            with self.assertRaises(ConstraError) as cm:
                remote.add_webhook_endpoint("http://127.0.0.1:9/x", secret="whsec_" + "A" * 32)
            self.assertEqual(cm.exception.param, "secret")
            remote.delete_webhook_endpoint(ep["id"])
            self.assertEqual(self.server.webhook_endpoints(), [])
            with self.assertRaises(ConstraError) as cm:
                remote.webhook_endpoint(ep["id"])
            self.assertEqual(cm.exception.http_status, 404)

    def test_errors_from_the_server(self):
        with self.remote(WRONG_KEY) as bad:
            with self.assertRaises(constra.AuthenticationError) as cm:
                bad.list()
            self.assertEqual((cm.exception.code, cm.exception.http_status),
                             ("invalid_api_key", 401))
            self.assertNotIn(WRONG_KEY, str(cm.exception))
        with self.remote() as remote:
            check_server_errors(self, remote)
        # The refused creates left nothing behind: only the seed intent.
        self.assertEqual(len(self.server.list()["data"]), 1)

    def test_close_frees_the_handle_and_the_transport(self):
        remote = self.remote()
        remote.list()
        self.assertEqual(self.transport.closed, 0)
        remote.close()
        self.assertEqual(self.transport.closed, 1)
        remote.close()  # idempotent
        self.assertEqual(self.transport.closed, 1)
        with self.assertRaises(constra.ConstraError) as cm:
            remote.list()
        self.assertEqual(cm.exception.code, "client_closed")
        with self.remote():
            pass
        self.assertEqual(self.transport.closed, 2)

    def test_a_forgotten_client_is_closed_by_its_finalizer(self):
        remote = self.remote()
        remote.list()
        del remote
        gc.collect()
        self.assertEqual(self.transport.closed, 1)

    def test_failed_open_leaves_the_transport_to_the_caller(self):
        for url, param in (("ftp://constra.test/v1", "config.base_url"),
                           ("http://constra.test/v1?x=1", "config.base_url")):
            with self.assertRaises(constra.InvalidArgumentError) as cm:
                Client.remote(url, SECRET, transport=self.transport)
            self.assertEqual(cm.exception.param, param)
        with self.assertRaises(constra.InvalidArgumentError) as cm:
            Client.remote(BASE, "short", transport=self.transport)
        self.assertEqual(cm.exception.param, "config.secret_key")
        with self.assertRaises(constra.InvalidArgumentError) as cm:
            Client.remote(BASE, SECRET, transport=self.transport, mode="live")
        self.assertIn(cm.exception.param, ("config.mode", "config.secret_key"))
        self.assertEqual(self.transport.closed, 0)
        self.assertEqual(self.transport.requests, 0)

    def test_wrong_types(self):
        for args, kw in (((None, SECRET), {}), ((BASE, None), {}), ((12, SECRET), {}),
                         ((BASE, SECRET), {"transport": object()}),
                         ((BASE, SECRET), {"max_tries": "3"}),
                         ((BASE, SECRET), {"mode": 1})):
            with self.subTest(args=args, kw=kw):
                with self.assertRaises(constra.InvalidArgumentError):
                    Client.remote(*args, **kw)
        with self.assertRaises(constra.InvalidArgumentError) as cm:
            Client.remote(BASE, SECRET, transport=self.transport, max_tries=11)
        self.assertEqual(cm.exception.param, "config.max_tries")

    def test_transport_exception_is_an_error_with_cause(self):
        class Broken(T.Transport):
            def send(self, request):
                raise OSError("network is unreachable")
        with Client.remote(BASE, SECRET, transport=Broken(), max_tries=1) as remote:
            with self.assertRaises(constra.OutcomeUnknownError) as cm:
                create_seed(remote)
            self.assertIsInstance(cm.exception.__cause__, OSError)
            with self.assertRaises(constra.OutcomeUnknownError):
                remote.get(UNKNOWN_ID)

    def test_not_sent_is_repeated_with_the_same_key(self):
        seen = []

        class FlakyOnce(T.RouterTransport):
            def send(self, request):
                seen.append(dict(request.headers).get("Idempotency-Key"))
                if len(seen) == 1:
                    raise T.TransportFailure("connect", "connection refused")
                return super().send(request)
        with Client.remote(BASE, SECRET, transport=FlakyOnce(self.server), backoff_base_ms=1,
                           backoff_max_ms=2) as remote:
            pi = create_seed(remote)
        self.assertEqual(seen, [SEED_KEY, SEED_KEY])
        self.assertEqual([i["id"] for i in self.server.list()["data"]], [pi["id"]])

    def test_local_only_calls(self):
        with self.remote() as remote:
            with self.assertRaises(constra.UnsupportedError) as cm:
                remote.handle_mpesa_callback(b'{"Body":{}}')
            self.assertEqual(cm.exception.code, "remote_handle")
            remote.tick()  # the server drives its own time: nothing to do, no error
            self.assertEqual(self.transport.requests, 0)


def check_server_errors(test, remote):
    with test.assertRaises(constra.NotFoundError) as cm:
        remote.get(UNKNOWN_ID)
    test.assertEqual((cm.exception.code, cm.exception.http_status), ("resource_missing", 404))
    with test.assertRaises(constra.NotFoundError):
        remote.retry(UNKNOWN_ID)
    with test.assertRaises(constra.InvalidArgumentError) as cm:
        create_seed(remote, amount=-5)
    test.assertEqual((cm.exception.http_status, cm.exception.param), (400, "amount"))
    with test.assertRaises(constra.InvalidArgumentError) as cm:
        create_seed(remote, amount=10**12)
    test.assertEqual((cm.exception.http_status, cm.exception.param), (400, "amount"))
    with test.assertRaises(constra.InvalidArgumentError) as cm:
        create_seed(remote, key="order_bad_phone", customer={"name": "A",
                                                             "phone_number": "12"})
    test.assertEqual((cm.exception.http_status, cm.exception.param), (400, "phone_number"))
    pi = create_seed(remote)
    with test.assertRaises(constra.ConflictError) as cm:
        create_seed(remote, amount=99)  # same key, other body
    test.assertEqual((cm.exception.code, cm.exception.http_status),
                     ("idempotency_key_reused", 409))
    with test.assertRaises(constra.InvalidStateError) as cm:
        remote.retry(pi["id"])  # pending: no retry yet
    test.assertEqual(cm.exception.http_status, 409)
    remote.cancel(pi["id"])


def serve_expected():
    return os.environ.get("CONSTRA_TEST_SERVE") == "1"


class RemoteOverCurlToConstraServe(unittest.TestCase):
    """Against the built `constra serve` on a free port, over libcurl."""

    KEY = "cs_test_bindings_serve_0123"

    @classmethod
    def setUpClass(cls):
        cls.proc = None
        if not serve_expected():
            return  # each case skips itself (setUp): tap.py counts every case
        cli = os.environ.get("CONSTRA_CLI", "")
        if not os.path.isfile(cli):
            # The build has serve: a missing binary is a failure, never a skip.
            raise AssertionError(f"CONSTRA_CLI={cli!r} is not the constra binary")
        cls.proc = subprocess.Popen(
            [cli, "serve", "--host", "127.0.0.1", "--port", "0", "--db", ":memory:",
             "--secret-key", cls.KEY, "--access-log", "off", "--rate-limit", "100000",
             "--rate-burst", "100000"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        seen = []
        for line in cls.proc.stdout:  # the first lines, until it listens
            seen.append(line)
            if "listening on " in line:
                cls.url = line.split("listening on ", 1)[1].split()[0] + "/v1"
                break
        else:
            cls.proc.wait()
            raise AssertionError("constra serve did not start: " + "".join(seen))

    def setUp(self):
        if self.proc is None:
            self.skipTest("this build has no `constra serve` with libcurl "
                          "(CONSTRA_TEST_SERVE is not 1)")

    @classmethod
    def tearDownClass(cls):
        if cls.proc is not None:
            cls.proc.terminate()
            cls.proc.wait(timeout=30)
            cls.proc.stdout.close()

    def test_seed_flow_matches_the_local_client(self):
        expected = local_reference()
        with Client.remote(self.url, self.KEY) as remote:
            got = seed_flow(remote)
        self.assertEqual(got, expected)

    def test_metadata_round_trip(self):
        with Client.remote(self.url, self.KEY) as remote:
            check_metadata(self, remote, "serve")

    def test_webhook_endpoints_live_on_the_server(self):
        # Two remote clients on one server: what one adds, the other sees.
        with Client.remote(self.url, self.KEY) as a, Client.remote(self.url, self.KEY) as b:
            ep = a.add_webhook_endpoint("http://127.0.0.1:9/hooks", description="serve",
                                        scheme="standard_webhooks")
            self.assertTrue(ep["secret"].startswith("whsec_"))
            got = b.webhook_endpoint(ep["id"])
            self.assertEqual((got["description"], got["scheme"], got["status"]),
                             ("serve", "standard_webhooks", "enabled"))
            did = b.send_test_webhook(ep["id"])
            self.assertIn(did, [d["id"] for d in a.webhook_deliveries(endpoint=ep["id"])])
            b.delete_webhook_endpoint(ep["id"])
            self.assertNotIn(ep["id"], [e["id"] for e in a.webhook_endpoints()])

    def test_errors_from_the_server(self):
        with Client.remote(self.url, WRONG_KEY) as bad:
            with self.assertRaises(constra.AuthenticationError) as cm:
                bad.get(UNKNOWN_ID)
            self.assertEqual((cm.exception.code, cm.exception.http_status),
                             ("invalid_api_key", 401))
        # Distinct idempotency keys from the seed test: this server is shared.
        with Client.remote(self.url, self.KEY) as remote:
            with self.assertRaises(constra.NotFoundError) as cm:
                remote.get(UNKNOWN_ID)
            self.assertEqual((cm.exception.code, cm.exception.http_status),
                             ("resource_missing", 404))
            with self.assertRaises(constra.InvalidArgumentError) as cm:
                create_seed(remote, key="order_serve_bad_amount", amount=-5)
            self.assertEqual((cm.exception.http_status, cm.exception.param), (400, "amount"))

    def test_from_env(self):
        env = {"CONSTRA_API_BASE_URL": self.url, "CONSTRA_SECRET_KEY": self.KEY,
               "CONSTRA_ENVIRONMENT": "sandbox", "CONSTRA_WEBHOOK_SECRET": "whsec_bindings"}
        with mock.patch.dict(os.environ, env):
            remote = Client.from_env()
        with remote:
            self.assertTrue(remote.is_remote)
            self.assertEqual(remote.webhook_secret, "whsec_bindings")
            pi = create_seed(remote, key="order_serve_from_env")
            self.assertEqual(remote.get(pi["id"])["status"], "pending_user_action")
            # refresh goes to the server as ?refresh=true (the simulator's
            # prompt is still pending: the same state back).
            self.assertEqual(remote.refresh(pi["id"])["status"], "pending_user_action")
            with self.assertRaises(constra.NotFoundError):
                remote.refresh(UNKNOWN_ID)

    def test_unreachable_server_is_a_transport_error(self):
        # A port nobody listens on (the server's own, once it is gone, would
        # race; port 9 on loopback is closed on a test machine).
        with Client.remote("http://127.0.0.1:9/v1", self.KEY, max_tries=1) as remote:
            with self.assertRaises(constra.TransportError):
                remote.get(UNKNOWN_ID)


class FromEnv(unittest.TestCase):
    def env(self, **values):
        """os.environ with the Constra variables replaced by `values`."""
        patch = mock.patch.dict(os.environ, {})
        patch.start()
        self.addCleanup(patch.stop)
        for name in ENV_VARS:
            os.environ.pop(name, None)
        os.environ.update(values)

    def expect(self, param, code, **values):
        self.env(**values)
        with self.assertRaises(constra.InvalidArgumentError) as cm:
            Client.from_env()
        self.assertEqual((cm.exception.param, cm.exception.code), (param, code))
        self.assertIn(param, str(cm.exception))
        secret = values.get("CONSTRA_SECRET_KEY")
        if secret:
            self.assertNotIn(secret, str(cm.exception))

    def test_missing_variables(self):
        self.expect("CONSTRA_API_BASE_URL", "environment_missing", CONSTRA_SECRET_KEY=SECRET)
        self.expect("CONSTRA_SECRET_KEY", "environment_missing", CONSTRA_API_BASE_URL=BASE)
        self.expect("CONSTRA_API_BASE_URL", "environment_missing", CONSTRA_API_BASE_URL="",
                    CONSTRA_SECRET_KEY=SECRET)

    def test_invalid_variables(self):
        ok = {"CONSTRA_API_BASE_URL": BASE, "CONSTRA_SECRET_KEY": SECRET}
        for name, value in (("CONSTRA_API_BASE_URL", "ftp://constra.test/v1"),
                            ("CONSTRA_API_BASE_URL", "not a url"),
                            ("CONSTRA_SECRET_KEY", "cs_test_\x01\x02bad_key_value"),
                            ("CONSTRA_SECRET_KEY", "sk_wrong_prefix_0123456789"),
                            ("CONSTRA_ENVIRONMENT", "staging"),
                            ("CONSTRA_ENVIRONMENT", "live"),
                            ("CONSTRA_DEFAULT_PROVIDER", "paypal")):
            with self.subTest(name=name, value=value):
                self.expect(name, "environment_invalid", **dict(ok, **{name: value}))

    def test_valid_environment_over_a_python_transport(self):
        self.env(CONSTRA_API_BASE_URL=BASE, CONSTRA_SECRET_KEY=SECRET,
                 CONSTRA_DEFAULT_PROVIDER="mpesa", CONSTRA_WEBHOOK_SECRET="whsec_env_test")
        with Client(secret_key=SECRET) as server:
            with Client.from_env(transport=T.RouterTransport(server)) as remote:
                # The environment may change once the client is open.
                os.environ["CONSTRA_SECRET_KEY"] = WRONG_KEY
                self.assertEqual(remote.webhook_secret, "whsec_env_test")
                got = seed_flow(remote)
        self.assertEqual(got, local_reference())


if __name__ == "__main__":
    unittest.main()


class OneVocabulary(unittest.TestCase):
    """Issue 15 item 6: the same names and codes as REST, C and Node."""

    def test_production_is_live(self):
        with Client(secret_key=SECRET) as server:
            live = "cs_live_0123456789abcdef0123"
            with Client.remote(BASE, live, transport=T.RouterTransport(server), mode="production"):
                pass
            env = {"CONSTRA_API_BASE_URL": BASE, "CONSTRA_SECRET_KEY": "cs_live_0123456789abcdef0123",
                   "CONSTRA_ENVIRONMENT": "production"}
            with mock.patch.dict(os.environ, env):
                with Client.from_env(transport=T.RouterTransport(server)):
                    pass

    @unittest.skipUnless(os.environ.get("CONSTRA_TEST_SERVE") == "1", "no libcurl")
    def test_connect_failure_reads_as_what_happened(self):
        with Client.remote("http://127.0.0.1:9/v1", SECRET, max_tries=1) as r:
            with self.assertRaises(constra.ConstraError) as cm:
                r.get("pi_01m84728vssdr2cpnq71nsww6j")
        self.assertEqual(cm.exception.http_status, 0, str(cm.exception))
        self.assertIn("could not connect to 127.0.0.1:9: connection refused", str(cm.exception))

    def test_malformed_ids_are_parameter_invalid_everywhere(self):
        with Client() as c:
            calls = [lambda: c.get("pi_bad id!"), lambda: c.events("pi_bad/id"),
                     lambda: c.cancel("pi_bad id"), lambda: c.webhook_endpoint("we_bad id"),
                     lambda: c.delete_webhook_endpoint("we_bad/id"),
                     lambda: c.replay_webhook_delivery("whd_bad id"),
                     lambda: c.webhook_deliveries(endpoint="we_bad id")]
            for call in calls:
                with self.assertRaises(constra.ConstraError) as cm:
                    call()
                self.assertEqual((cm.exception.code, cm.exception.http_status),
                                 ("parameter_invalid", 400))
