"""Webhooks end to end through `constra serve` (issue 13): endpoints over
REST, deliveries sent by the server's ticker to a receiver this test runs,
each verified as a receiver would (the Constra docs' body HMAC, the t=,v1=
scheme, Standard Webhooks), replay with the same delivery id, a failing
receiver's retry schedule, disable/enable, delete, and the bad input of
every route. On SQLite, then on memory.

Usage: test_webhooks.py PATH/TO/constra
"""
import base64
import hashlib
import hmac
import http.server
import json
import re
import threading
import time

from serve_util import SEED_BODY, Server, Tap, binary_from_argv, error_code

binary = binary_from_argv()
t = Tap()


class Receiver:
    """A local webhook receiver: records every POST, answers the next
    status of `plan` (200 when the plan is empty)."""

    def __init__(self):
        self.got = []
        self.plan = []
        self.delay = 0.0  # seconds each answer waits (after the POST is recorded)
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    status = outer.plan.pop(0) if outer.plan else 200
                    outer.got.append(({k.lower(): v for k, v in self.headers.items()}, body,
                                      status))
                time.sleep(outer.delay)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, pred, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                got = list(self.got)
            if pred(got):
                return got
            time.sleep(0.1)
        with self.lock:
            return list(self.got)

    def close(self):
        self.server.shutdown()


def verify_all(secret, headers, body, now, body_hex=True):
    """The three checks a receiver may use; returns a list of failures."""
    bad = []
    key = secret.encode()
    # The Constra docs' verifyConstraWebhook: hex HMAC-SHA256 of the raw body.
    want = hmac.new(key, body, hashlib.sha256).hexdigest()
    if body_hex and not hmac.compare_digest(headers.get("constra-signature-body", ""), want):
        bad.append("Constra-Signature-Body")
    # t=,v1= (paylod, Centry, Stripe): HMAC of "<t>.<body>", t within 300 s.
    parts = dict(p.split("=", 1) for p in headers.get("constra-signature", "").split(",")
                 if "=" in p)
    ts = parts.get("t", "0")
    want = hmac.new(key, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    v1s = [p.split("=", 1)[1] for p in headers.get("constra-signature", "").split(",")
           if p.startswith("v1=")]
    if not any(hmac.compare_digest(v, want) for v in v1s) or abs(now - int(ts)) > 300:
        bad.append("Constra-Signature")
    # Standard Webhooks: base64 HMAC of "<id>.<timestamp>.<body>" under the
    # base64-decoded part of whsec_.
    raw = base64.b64decode(secret[len("whsec_"):])
    msg = (headers.get("webhook-id", "") + "." + headers.get("webhook-timestamp", "") +
           ".").encode() + body
    want = base64.b64encode(hmac.new(raw, msg, hashlib.sha256).digest()).decode()
    sigs = [s.split(",", 1)[1] for s in headers.get("webhook-signature", "").split()
            if s.startswith("v1,")]
    if want not in sigs:
        bad.append("webhook-signature")
    if headers.get("webhook-id") != headers.get("constra-delivery-id"):
        bad.append("webhook-id is the delivery id")
    return bad


def run(label, db_args):
    rx = Receiver()
    srv = Server(binary, *db_args)
    A = srv.auth({"Content-Type": "application/json"})

    def post(path, body=None, headers=None):
        return srv.request("POST", path, headers or A, body if body is not None else b"")

    # ---- registering -----------------------------------------------------------------
    st, _, body = post("/v1/webhook-endpoints", {"url": rx.url})
    ep = json.loads(body)
    t.ok(st == 201 and ep.get("object") == "webhook_endpoint" and ep.get("url") == rx.url and
         ep.get("status") == "enabled" and ep.get("enabled_events") == ["*"] and
         str(ep.get("secret", "")).startswith("whsec_") and ep.get("livemode") is False,
         f"{label}: POST /v1/webhook-endpoints -> 201 with the secret", body)
    t.ok("sandbox mode only" in ep.get("url_note", ""),
         f"{label}: registering an http://127.0.0.1 URL says it is sandbox only", body)
    secret, ep_id = ep.get("secret", ""), ep.get("id", "")
    st, _, body = srv.request("GET", "/api/v1/webhook-endpoints/" + ep_id, srv.auth())
    one = json.loads(body)
    t.ok(st == 200 and one.get("id") == ep_id and "secret" not in one and
         secret.encode() not in body, f"{label}: GET one endpoint never shows the secret", body)
    st, _, body = srv.request("GET", "/v1/webhook-endpoints", srv.auth())
    lst = json.loads(body)
    t.ok(st == 200 and [e["id"] for e in lst["data"]] == [ep_id] and secret.encode() not in body,
         f"{label}: the list has it, without the secret", body)

    # ---- an intent through its outcome -------------------------------------------------
    st, _, body = srv.create("wh-1")
    pi = json.loads(body)["id"]
    st2, _, _ = post(f"/v1/payment-intents/{pi}/simulate-callback", {"result_code": 0})
    t.ok(st == 201 and st2 == 200, f"{label}: intent created and simulated paid", (st, st2))
    got = rx.wait(lambda g: any(json.loads(b).get("type") == "payment_intent.succeeded"
                                for _, b, _ in g))
    types = [json.loads(b).get("type") for _, b, _ in got]
    t.ok("payment_intent.created" in types and "payment_intent.succeeded" in types,
         f"{label}: the receiver got created ... succeeded", types)
    now = int(time.time())
    failures = [(json.loads(b).get("type"), verify_all(secret, h, b, now)) for h, b, _ in got]
    t.ok(all(not f for _, f in failures), f"{label}: every delivery verifies three ways",
         failures)
    ids = [h.get("constra-delivery-id") for h, _, _ in got]
    t.ok(len(set(ids)) == len(ids) and all(i for i in ids),
         f"{label}: one delivery id per event", ids)
    ev = json.loads(got[-1][1])
    t.ok(str(ev.get("id", "")).startswith("evt_") and ev.get("created_at") and
         ev.get("data", {}).get("payment_intent_id") == pi and
         got[-1][0].get("constra-event-id") == ev["id"] and
         got[-1][0].get("constra-event-type") == ev["type"],
         f"{label}: the event carries id, type, created_at and the intent id", ev)

    # ---- deliveries over REST ----------------------------------------------------------
    st, _, body = srv.request("GET", f"/v1/webhook-deliveries?endpoint={ep_id}&status=delivered"
                              "&limit=100", srv.auth())
    dl = json.loads(body)
    t.ok(st == 200 and len(dl["data"]) == len(got) and
         all(d["status"] == "delivered" and d["attempt_count"] == 1 and
             d["last_http_status"] == 200 and d["next_attempt_at"] is None
             for d in dl["data"]), f"{label}: GET /v1/webhook-deliveries lists them", body)
    st, _, mbody = srv.request("GET", "/metrics", srv.auth())
    m = re.search(r'^constra_webhook_deliveries\{state="delivered"\} (\d+)$', mbody.decode(), re.M)
    t.ok(st == 200 and m and int(m.group(1)) == len(dl["data"]),
         f"{label}: /metrics counts the deliveries by state", mbody.decode()[-600:])
    st, _, body = srv.request("GET", "/v1/webhook-deliveries?limit=1", srv.auth())
    page = json.loads(body)
    st2, _, body2 = srv.request("GET", "/v1/webhook-deliveries?limit=1&cursor=" +
                                page["data"][0]["id"], srv.auth())
    page2 = json.loads(body2)
    t.ok(st == 200 and page["has_more"] is True and st2 == 200 and
         page2["data"] and page2["data"][0]["id"] != page["data"][0]["id"],
         f"{label}: deliveries page with limit and cursor", (body, body2))

    # Replay: the same delivery id and body again.
    first = dl["data"][0]
    n_before = len(rx.got)
    st, _, body = post(f"/v1/webhook-deliveries/{first['id']}/replay")
    t.ok(st == 202 and json.loads(body).get("status") == "pending",
         f"{label}: replay -> 202 pending", body)
    got = rx.wait(lambda g: len(g) > n_before)
    again = got[n_before:] if len(got) > n_before else []
    orig = next((b for h, b, _ in got[:n_before] if h.get("constra-delivery-id") == first["id"]),
                None)
    t.ok(len(again) == 1 and again[0][0].get("constra-delivery-id") == first["id"] and
         again[0][1] == orig and not verify_all(secret, again[0][0], again[0][1], int(time.time())),
         f"{label}: the replay re-sent the same delivery id and body, signed afresh",
         [h.get("constra-delivery-id") for h, _, _ in again])

    # ---- metadata: returned by the create and echoed in every webhook -----------------
    meta = {"till": "A\u00e9", "order_id": "7429", "empty": ""}
    canonical = {"order_id": "7429", "till": "A\u00e9"}
    st, _, body = srv.create("wh-meta", dict(SEED_BODY, metadata=meta))
    created = json.loads(body)
    t.ok(st == 201 and created.get("metadata") == canonical and
         list(created["metadata"]) == ["order_id", "till"],
         f"{label}: create with metadata -> 201 with it (keys in order, empty left out)", body)
    st2, _, body2 = srv.create("wh-meta", dict(SEED_BODY, metadata=dict(reversed(meta.items()))))
    t.ok(st2 == 201 and json.loads(body2).get("id") == created.get("id"),
         f"{label}: the same metadata in another order replays the create", (st2, body2))
    st3, _, body3 = srv.create("wh-meta", dict(SEED_BODY, metadata={"order_id": "7430"}))
    t.ok(st3 == 409 and error_code(body3) == "idempotency_key_reused",
         f"{label}: other metadata under the same key -> 409", (st3, body3))
    for bad, param in (({"k": 1}, "metadata.k"), ({"k" * 41: "v"}, "metadata"),
                       ({"k": "v" * 501}, "metadata.k"), (["k"], "metadata"),
                       ({f"k{i}": "v" for i in range(51)}, "metadata")):
        st4, _, body4 = srv.create("wh-meta-bad", dict(SEED_BODY, metadata=bad))
        err = json.loads(body4).get("error", {})
        t.ok(st4 == 400 and err.get("code") == "parameter_invalid" and err.get("param") == param,
             f"{label}: bad metadata {str(bad)[:30]} -> 400 param {param}", body4)
    post(f"/v1/payment-intents/{created.get('id')}/simulate-callback", {"result_code": 0})
    got = rx.wait(lambda g: any(json.loads(b).get("type") == "payment_intent.succeeded" and
                                json.loads(b).get("data", {}).get("payment_intent_id") ==
                                created.get("id") for _, b, _ in g))
    mine = [json.loads(b) for _, b, _ in got
            if json.loads(b).get("data", {}).get("payment_intent_id") == created.get("id")]
    t.ok({e["type"] for e in mine} >= {"payment_intent.created", "payment_intent.succeeded"} and
         all(e["data"].get("metadata") == canonical for e in mine),
         f"{label}: every webhook of that intent carries its metadata",
         [(e["type"], e["data"].get("metadata")) for e in mine])
    st, _, body = srv.request("GET", f"/v1/payment-intents/{created.get('id')}", srv.auth())
    t.ok(st == 200 and json.loads(body).get("metadata") == canonical,
         f"{label}: GET returns the metadata", body)

    # A test event, to this endpoint only.
    rx2 = Receiver()
    st, _, body = post("/v1/webhook-endpoints", {"url": rx2.url,
                                                 "enabled_events": ["payment_intent.succeeded"]})
    ep2 = json.loads(body)
    t.ok(st == 201 and ep2.get("enabled_events") == ["payment_intent.succeeded"],
         f"{label}: a second endpoint with an event filter", body)
    n_before = len(rx.got)
    st, _, body = post(f"/v1/webhook-endpoints/{ep_id}/test")
    tst = json.loads(body)
    t.ok(st == 202 and tst.get("event_type") == "webhook.test" and
         str(tst.get("id", "")).startswith("whd_"), f"{label}: POST .../test -> 202", body)
    got = rx.wait(lambda g: len(g) > n_before)
    test_ev = [(h, b) for h, b, _ in got[n_before:] if json.loads(b).get("type") == "webhook.test"]
    t.ok(len(test_ev) == 1 and json.loads(test_ev[0][1])["data"]["webhook_endpoint_id"] == ep_id
         and test_ev[0][0].get("constra-delivery-id") == tst.get("id") and
         not verify_all(secret, test_ev[0][0], test_ev[0][1], int(time.time())),
         f"{label}: the test event arrives, signed, with its delivery id", test_ev)
    st, _, body = post(f"/v1/webhook-endpoints/{ep2['id']}/test")
    got2 = rx2.wait(lambda g: len(g) >= 1)
    time.sleep(0.5)
    t.ok(st == 202 and len(rx2.got) == 1 and len(rx.got) == n_before + 1,
         f"{label}: a test to the second endpoint reaches it alone (despite its filter)",
         (len(rx2.got), len(rx.got) - n_before))
    st, _, body = srv.request("DELETE", "/v1/webhook-endpoints/" + ep2["id"], srv.auth())
    t.eq(st, 200, f"{label}: the second endpoint is deleted")
    rx2.close()

    # Rotation: during the overlap both secrets verify.
    st, _, body = post(f"/v1/webhook-endpoints/{ep_id}/rotate-secret", {"overlap_seconds": 600})
    rot = json.loads(body)
    new_secret = rot.get("secret", "")
    t.ok(st == 200 and new_secret.startswith("whsec_") and new_secret != secret,
         f"{label}: rotate-secret -> 200 with a new secret", body)
    st, _, body = srv.request("GET", "/v1/webhook-endpoints/" + ep_id, srv.auth())
    t.ok(new_secret.encode() not in body and secret.encode() not in body,
         f"{label}: neither secret is shown again", body)
    n_before = len(rx.got)
    post(f"/v1/webhook-endpoints/{ep_id}/test")
    got = rx.wait(lambda g: len(g) > n_before)
    h, b, _ = got[n_before] if len(got) > n_before else ({}, b"", 0)
    now = int(time.time())
    t.ok(h and not verify_all(new_secret, h, b, now) and
         not verify_all(secret, h, b, now, body_hex=False) and
         h.get("constra-signature", "").count("v1=") == 2 and
         len(h.get("webhook-signature", "").split()) == 2,
         f"{label}: during the overlap a delivery verifies with the new and the old secret",
         (h, verify_all(new_secret, h, b, now), verify_all(secret, h, b, now, body_hex=False)))
    t.ok(h and verify_all(secret, h, b, now) == ["Constra-Signature-Body"],
         f"{label}: Constra-Signature-Body uses the new secret only")
    for bad_body, param in (({"overlap_seconds": -1}, "overlap_seconds"),
                            ({"overlap_seconds": 10 ** 9}, "overlap_seconds"),
                            ({"overlap": 5}, "overlap")):
        st, _, body = post(f"/v1/webhook-endpoints/{ep_id}/rotate-secret", bad_body)
        t.ok(st == 400 and json.loads(body)["error"]["param"] == param,
             f"{label}: rotate-secret {bad_body} -> 400 {param}", body)
    secret = new_secret

    # A failing receiver: the attempt is recorded and a retry scheduled (+1 min).
    rx.plan = [500]
    n_before = len(rx.got)
    st, _, body = srv.create("wh-2")
    pi2 = json.loads(body)["id"]
    rx.wait(lambda g: len(g) > n_before)
    time.sleep(0.5)
    st, _, body = srv.request("GET", f"/v1/webhook-deliveries?endpoint={ep_id}&status=pending",
                              srv.auth())
    pend = json.loads(body)["data"]
    t.ok(st == 200 and len(pend) >= 1 and pend[0]["attempt_count"] == 1 and
         pend[0]["last_http_status"] == 500 and pend[0]["last_error"] == "http_500" and
         pend[0]["next_attempt_at"] is not None and len(pend[0]["attempts"]) == 1,
         f"{label}: a 500 leaves the delivery pending with the attempt and the next try", body)
    st, _, body = post(f"/v1/webhook-deliveries/{pend[0]['id']}/replay" if pend else "/x")
    t.ok(st == 409, f"{label}: replaying a pending delivery is 409", body)

    # Disable: nothing is sent meanwhile; enable: later events are.
    st, _, body = post(f"/v1/webhook-endpoints/{ep_id}/disable")
    t.ok(st == 200 and json.loads(body).get("status") == "disabled", f"{label}: disable", body)
    n_before = len(rx.got)
    post(f"/v1/payment-intents/{pi2}/cancel", {})
    time.sleep(1.5)
    t.eq(len(rx.got), n_before, f"{label}: a disabled endpoint is sent nothing")
    st, _, body = post(f"/v1/webhook-endpoints/{ep_id}/enable")
    t.ok(st == 200 and json.loads(body).get("status") == "enabled", f"{label}: enable", body)
    st, _, body = srv.create("wh-3")
    pi3 = json.loads(body)["id"]
    got = rx.wait(lambda g: any(json.loads(b).get("data", {}).get("payment_intent_id") == pi3
                                for _, b, _ in g))
    t.ok(any(json.loads(b).get("data", {}).get("payment_intent_id") == pi3 for _, b, _ in got),
         f"{label}: after enable the next event is delivered")

    # ---- bad input ---------------------------------------------------------------------
    cases = [
        ({}, 400, "parameter_missing", "url"),
        ({"url": "ftp://example.com/x"}, 400, None, "url"),
        ({"url": "http://user:pw@127.0.0.1/x"}, 400, None, "url"),
        ({"url": "not a url"}, 400, None, "url"),
        ({"url": "http://127.0.0.1/" + "a" * 10000}, 400, None, "url"),
        ({"url": rx.url, "enabled_events": ["payment_intent.nope"]}, 400, "event_type_unknown",
         "enabled_events"),
        ({"url": rx.url, "enabled_events": []}, 400, "parameter_invalid", "enabled_events"),
        ({"url": rx.url, "enabled_events": ["payment_intent.created"] * 200}, 400,
         "parameter_invalid", "enabled_events"),
        ({"url": rx.url, "enabled_events": ["payment_intent.created", 7]}, 400, None,
         "enabled_events[1]"),
        ({"url": rx.url, "enabled_events": "*"}, 400, None, "enabled_events"),
        ({"url": rx.url, "description": "x" * 501}, 400, None, "description"),
        ({"url": rx.url, "description": "bell\u0007"}, 400, None, "description"),
        ({"url": rx.url, "description": 7}, 400, None, "description"),
        ({"url": rx.url, "scheme": "nope"}, 400, "webhook_scheme_unknown", "scheme"),
        ({"url": rx.url, "scheme": "t_v1"}, 400, "webhook_scheme_unknown", "scheme"),
        ({"url": rx.url, "scheme": ""}, 400, None, "scheme"),
        ({"url": rx.url, "scheme": 1}, 400, None, "scheme"),
        ({"url": rx.url, "colour": "red"}, 400, "parameter_unknown", "colour"),
        ({"url": 42}, 400, None, "url"),
    ]
    for body_in, want_st, want_code, want_param in cases:
        st, _, body = post("/v1/webhook-endpoints", body_in)
        err = json.loads(body).get("error", {})
        t.ok(st == want_st and (want_code is None or err.get("code") == want_code) and
             err.get("param") == want_param,
             f"{label}: create {json.dumps(body_in)[:60]} -> {want_st} {want_param}", body)
    st, _, body = srv.request("GET", "/v1/webhook-endpoints")
    t.eq(st, 401, f"{label}: endpoints need the key")
    st, _, body = srv.request("POST", "/v1/webhook-endpoints", {"Content-Type": "application/json"},
                              {"url": rx.url})
    t.eq(st, 401, f"{label}: creating needs the key")
    st, _, body = srv.request("GET", "/v1/webhook-endpoints", srv.auth())
    t.eq(len(json.loads(body)["data"]), 1, f"{label}: no refused create stored an endpoint")
    for q, param in (("status=bogus", "status"), ("limit=0", "limit"), ("limit=101", "limit"),
                     ("nope=1", "nope"), ("status=pending&status=failed", "status"),
                     ("endpoint=a%20b", "endpoint")):
        st, _, body = srv.request("GET", "/v1/webhook-deliveries?" + q, srv.auth())
        t.ok(st == 400 and json.loads(body)["error"]["param"] == param,
             f"{label}: deliveries?{q} -> 400 {param}", body)
    for method, path in (("POST", "/v1/webhook-deliveries/whd_nope/replay"),
                         ("GET", "/v1/webhook-endpoints/we_nope"),
                         ("DELETE", "/v1/webhook-endpoints/we_nope"),
                         ("POST", "/v1/webhook-endpoints/we_nope/disable")):
        st, _, body = srv.request(method, path, srv.auth())
        t.ok(st == 404 and error_code(body) == "resource_missing",
             f"{label}: {method} {path} -> 404 resource_missing", body)
    st, h, body = srv.request("PUT", "/v1/webhook-endpoints/" + ep_id, srv.auth())
    t.ok(st == 405 and "DELETE" in h.get("allow", ""), f"{label}: PUT -> 405 with Allow", body)

    # ---- 410 Gone disables the endpoint -----------------------------------------------
    rx.plan = [410]
    n_before = len(rx.got)
    post(f"/v1/webhook-endpoints/{ep_id}/test")
    rx.wait(lambda g: len(g) > n_before)
    time.sleep(0.5)
    st, _, body = srv.request("GET", "/v1/webhook-endpoints/" + ep_id, srv.auth())
    t.ok(json.loads(body).get("status") == "disabled", f"{label}: a 410 answer disables it", body)
    st, _, body = srv.request("GET", f"/v1/webhook-deliveries?endpoint={ep_id}&status=failed",
                              srv.auth())
    gone = [d for d in json.loads(body)["data"] if d["last_http_status"] == 410]
    t.ok(len(gone) == 1 and gone[0]["attempt_count"] == 1,
         f"{label}: the 410 delivery failed at once, no retry, listed for replay", body)
    st, _, body = post(f"/v1/webhook-endpoints/{ep_id}/enable")
    st2, _, _ = post(f"/v1/webhook-deliveries/{gone[0]['id'] if gone else 'x'}/replay")
    got = rx.wait(lambda g: len(g) > n_before + 1)
    t.ok(st == 200 and st2 == 202 and len(got) > n_before + 1 and
         got[-1][0].get("constra-delivery-id") == (gone[0]["id"] if gone else None),
         f"{label}: enabled again, the missed delivery replays")

    # ---- description and signature scheme ----------------------------------------------
    rx2 = Receiver()
    desc = "Till 4 \u2014 back office \"orders\""
    made = {}
    for scheme in ("constra", "standard_webhooks", "all"):
        st, _, body = post("/v1/webhook-endpoints", {"url": rx2.url, "description": desc,
                                                    "scheme": scheme,
                                                    "enabled_events": ["payment_intent.created"]})
        e2 = json.loads(body)
        t.ok(st == 201 and e2.get("description") == desc and e2.get("scheme") == scheme,
             f"{label}: create with scheme {scheme} and a description -> 201 with both", body)
        made[e2.get("id", "")] = (scheme, e2.get("secret", ""))
        st, _, body = srv.request("GET", "/v1/webhook-endpoints/" + e2.get("id", "x"), srv.auth())
        one = json.loads(body)
        t.ok(st == 200 and one.get("description") == desc and one.get("scheme") == scheme,
             f"{label}: GET returns the description and scheme ({scheme})", body)
    st, _, body = srv.request("GET", "/v1/webhook-endpoints/" + ep_id, srv.auth())
    one = json.loads(body)
    t.ok(one.get("description") is None and one.get("scheme") == "all",
         f"{label}: an endpoint made without them: description null, scheme all", body)
    st, _, body = srv.create("wh-scheme")
    got2 = rx2.wait(lambda g: len(g) >= 3)
    by_ep = {}
    for h, b, _ in got2:
        did = h.get("constra-delivery-id", "")
        st_d, _, body_d = srv.request("GET", "/v1/webhook-deliveries?limit=100", srv.auth())
        for d in json.loads(body_d).get("data", []):
            if d["id"] == did:
                by_ep[d["endpoint"] if "endpoint" in d else d.get("endpoint_id")] = (h, b)
    t.ok(len(by_ep) == 3, f"{label}: each scheme's endpoint got the event once", list(by_ep))
    now = int(time.time())
    for eid, (h, b) in by_ep.items():
        scheme, sec = made.get(eid, ("?", ""))
        bad = verify_all(sec, h, b, now)
        if scheme == "constra":
            ok = (bad == ["webhook-signature", "webhook-id is the delivery id"] and
                  "webhook-signature" not in h and "webhook-id" not in h)
        elif scheme == "standard_webhooks":
            ok = (sorted(bad) == ["Constra-Signature", "Constra-Signature-Body"] and
                  "constra-signature" not in h and "constra-signature-body" not in h)
        else:
            ok = not bad
        t.ok(ok and h.get("constra-event-id") and h.get("constra-delivery-id"),
             f"{label}: a delivery under scheme {scheme} carries its headers only (and the ids)",
             (sorted(h), bad))
    for eid in made:
        srv.request("DELETE", "/v1/webhook-endpoints/" + eid, srv.auth())
    rx2.close()

    # ---- delete ------------------------------------------------------------------------
    st, _, body = srv.request("DELETE", "/v1/webhook-endpoints/" + ep_id, srv.auth())
    t.ok(st == 200 and json.loads(body).get("deleted") is True, f"{label}: DELETE", body)
    st, _, body = srv.request("GET", "/v1/webhook-endpoints/" + ep_id, srv.auth())
    t.eq(st, 404, f"{label}: a deleted endpoint is gone")
    n_before = len(rx.got)
    srv.create("wh-4")
    time.sleep(1.0)
    t.eq(len(rx.got), n_before, f"{label}: a deleted endpoint is sent nothing")

    t.ok(secret not in srv.access_log() and secret not in srv.stderr(),
         f"{label}: the secret is never logged")
    t.eq(srv.stop(), 0, f"{label}: exit 0")
    t.ok("Sanitizer" not in srv.stderr(), f"{label}: no sanitizer report", srv.stderr()[-2000:])
    rx.close()


def run_slow_receiver():
    """Deliveries run on a thread of their own: a receiver that takes 6 s
    to answer does not hold up an intent's callback time-out (1 s)."""
    rx = Receiver()
    rx.delay = 6.0
    srv = Server(binary, "--db", ":memory:", "--callback-timeout", "1")
    A = srv.auth({"Content-Type": "application/json"})
    st, _, _ = srv.request("POST", "/v1/webhook-endpoints", A, {"url": rx.url})
    st2, _, body = srv.create("slow-rx")
    pi = json.loads(body).get("id", "")
    hanging = rx.wait(lambda g: len(g) >= 1, timeout=10)
    t0 = time.time()
    status = "pending_user_action"
    while status == "pending_user_action" and time.time() - t0 < 5.5:
        _, _, b = srv.request("GET", "/v1/payment-intents/" + pi, srv.auth())
        status = json.loads(b).get("status")
        time.sleep(0.1)
    waited = time.time() - t0
    t.ok(st == 201 and st2 == 201 and len(hanging) >= 1 and
         status != "pending_user_action" and waited < 4.0,
         "a receiver hanging for 6 s does not delay the 1 s callback time-out",
         (status, round(waited, 2), len(hanging)))
    t.eq(srv.stop(), 0, "slow receiver: exit 0 (the send in progress finished)")
    rx.close()


run("sqlite", [])
run("memory", ["--db", ":memory:"])
run_slow_receiver()
t.done()
