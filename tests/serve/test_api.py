#!/usr/bin/env python3
"""constra serve over real HTTP: the seed flow, replay, the error answers,
oversized bodies, odd paths, malformed requests, HEAD/OPTIONS, the embedded
dashboard files, and the access log.

usage: test_api.py PATH/TO/constra   (env CONSTRA_DASHBOARD: the dashboard dir)
"""
import json
import os
import socket
import time

from serve_util import SEED_BODY, Server, Tap, binary_from_argv, error_code, status_of

t = Tap()
binary = binary_from_argv()
srv = Server(binary)
key = srv.key

# ---- start-up lines ------------------------------------------------------------
out = "\n".join(srv.stdout_lines)
base = f"http://127.0.0.1:{srv.port}"
t.ok(f"{base}/api/v1" in out, "prints the API base")
t.ok(f"{base}/api/v1/providers/mpesa/callback" in out, "prints the callback endpoint")
t.ok(f"{base}/#key={key}" in out, "prints the dashboard URL with the key")

# ---- the seed flow, on both prefixes ------------------------------------------
for prefix in ("/api/v1", "/v1"):
    idem = "order_7429_deposit" + prefix.replace("/", "_")
    st, h, body = srv.create(idem, prefix=prefix)
    t.eq(st, 201, f"{prefix}: create is 201")
    pi = json.loads(body) if st == 201 else {}
    t.eq(pi.get("status"), "pending_user_action", f"{prefix}: pending_user_action")
    pa = pi.get("provider_action") or {}
    t.ok(pa.get("type") == "stk_push" and pa.get("state") == "sent_to_customer"
         and str(pa.get("checkout_request_id", "")).startswith("ws_CO_"),
         f"{prefix}: provider_action is an STK push sent to the customer", pa)
    t.eq(pi.get("next_action"), "wait_for_callback", f"{prefix}: next_action")
    t.eq(h.get("content-type"), "application/json", f"{prefix}: JSON content type")
    for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
        t.ok(name in h, f"{prefix}: {name} header present")

    # Byte-identical replay.
    st2, h2, body2 = srv.create(idem, prefix=prefix)
    t.ok(st2 == 201 and body2 == body, f"{prefix}: replay returns the same bytes")
    t.eq(h2.get("idempotent-replayed"), "true", f"{prefix}: replay says Idempotent-Replayed")
    changed = dict(SEED_BODY, amount=1300)
    st3, _, b3 = srv.create(idem, body=changed, prefix=prefix)
    t.ok(st3 == 409 and error_code(b3) == "idempotency_key_reused",
         f"{prefix}: another body under the key is 409 idempotency_key_reused", (st3, b3))

    pid = pi.get("id", "pi_missing")
    st, _, body = srv.request("POST", f"{prefix}/payment-intents/{pid}/simulate-callback",
                              srv.auth({"Content-Type": "application/json"}),
                              {"result_code": 1032, "result_desc": "Request cancelled by user."})
    after = json.loads(body) if st == 200 else {}
    t.ok(st == 200 and after.get("status") == "requires_recovery",
         f"{prefix}: simulate-callback 1032 gives requires_recovery", (st, body[:300]))
    rec = after.get("recovery") or {}
    t.ok(bool(rec.get("agent_note")), f"{prefix}: the recovery carries an agent note", rec)

    st, _, body = srv.request("GET", f"{prefix}/payment-intents/{pid}/events", srv.auth())
    ev = json.loads(body) if st == 200 else {}
    types = [e.get("type") for e in ev.get("data", [])]
    t.ok(st == 200 and len(types) >= 2, f"{prefix}: the events route lists the timeline", types)

    st, _, body = srv.request("GET", f"{prefix}/payment-intents/{pid}", srv.auth())
    t.ok(st == 200 and json.loads(body).get("id") == pid, f"{prefix}: GET the intent")

# ---- the ticker: a magic number's outcome arrives on its own (3 s) ----------------
st, _, b = srv.create("ticker_1", body=dict(SEED_BODY, customer={"name": "T",
                                                              "phone_number": "254711000000"}))
tick_id = json.loads(b).get("id") if st == 201 else None
status = None
deadline = time.time() + 20
while tick_id and time.time() < deadline:
    st, _, b = srv.request("GET", f"/api/v1/payment-intents/{tick_id}", srv.auth())
    status = json.loads(b).get("status") if st == 200 else None
    if status == "succeeded":
        break
    time.sleep(0.25)
t.eq(status, "succeeded", "the ticker delivers the simulator's outcome (254711000000)")

# ---- 401 / 404 / 405 / 415 ----------------------------------------------------
st, _, b = srv.request("GET", "/api/v1/payment-intents")
t.ok(st == 401 and error_code(b) == "authentication_required", "no key: 401", (st, b))
st, _, b = srv.request("GET", "/api/v1/payment-intents",
                       {"Authorization": "Bearer cs_test_" + "0" * 40})
t.ok(st == 401 and error_code(b) == "invalid_api_key", "wrong key: 401 invalid_api_key", (st, b))
st, _, b = srv.request("GET", "/api/v1/payment-intents/pi_01m84753knds2x4hf2889kkx1j",
                       srv.auth())
t.ok(st == 404 and error_code(b) == "resource_missing", "unknown intent: 404", (st, b))
st, _, b = srv.request("GET", "/api/v1/nothing-here", srv.auth())
t.ok(st == 404 and "error" in json.loads(b), "unknown route: 404 with the error JSON", (st, b))
st, _, b = srv.request("GET", "/not/a/file.html", srv.auth())
t.ok(st == 404, "unknown path outside the API: 404", (st, b))
st, h, b = srv.request("DELETE", "/api/v1/payment-intents", srv.auth())
t.ok(st == 405 and "GET" in h.get("allow", ""), "DELETE on the collection: 405 with Allow",
     (st, h, b))
st, h, b = srv.request("PATCH", "/v1/payment-intents", srv.auth())
t.ok(st == 405, "unknown method PATCH: 405", (st, b))
st, _, b = srv.request("POST", "/api/v1/payment-intents",
                       srv.auth({"Idempotency-Key": "ct_1", "Content-Type": "text/plain"}),
                       json.dumps(SEED_BODY).encode())
t.ok(st == 415 and error_code(b) == "unsupported_media_type", "text/plain body: 415", (st, b))
st, _, b = srv.request("POST", "/api/v1/payment-intents",
                       srv.auth({"Idempotency-Key": "bad_json",
                                 "Content-Type": "application/json"}), b'{"amount":')
t.ok(st == 400, "malformed JSON: 400", (st, b))

# ---- HEAD / OPTIONS -------------------------------------------------------------
st, h, b = srv.request("HEAD", "/api/v1/payment-intents", srv.auth())
t.ok(st == 200 and b == b"" and int(h.get("content-length", "0")) > 0,
     "HEAD on the list: 200, headers only", (st, h))
st, h, b = srv.request("OPTIONS", "/api/v1/payment-intents", srv.auth())
t.ok(st == 405 and "POST" in h.get("allow", ""), "OPTIONS on the API: 405 with Allow", (st, h))
st, h, b = srv.request("OPTIONS", "/")
t.ok(st == 204 and "GET" in h.get("allow", ""), "OPTIONS on /: 204 with Allow", (st, h))

# ---- bodies over 64 KiB ------------------------------------------------------------
def big_post(size):
    """Announces `size` bytes, sends the headers only, reads the answer:
    the server must answer before the body and close."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        s.sendall((f"POST /api/v1/payment-intents HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: Bearer {key}\r\nIdempotency-Key: big_{size}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n").encode())
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got
    finally:
        s.close()


for size, label in ((100 * 1024, "100 KB"), (10 * 1024 * 1024, "10 MB")):
    t0 = time.time()
    got = big_post(size)
    body = got.split(b"\r\n\r\n", 1)[-1]
    t.ok(status_of(got) == 413 and error_code(body) == "body_too_large",
         f"{label} body announced: 413 body_too_large before the body", got[:300])
    t.ok(time.time() - t0 < 5, f"{label}: answered and closed at once")

# Sending the 10 MB for real: the server cuts the connection; it never
# buffers it (the answer can be lost in the reset, but the server lives).
try:
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall((f"POST /v1/payment-intents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Content-Length: {10 * 1024 * 1024}\r\n\r\n").encode())
    s.sendall(b"x" * (10 * 1024 * 1024))
except OSError:
    pass
finally:
    s.close()

# A chunked body (no Content-Length), even over the limit: refused with 411
# before a byte of it is read (tests/serve/test_hardening.py has the rest).
chunk = b"x" * 8192
req = (f"POST /api/v1/payment-intents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
       f"Idempotency-Key: chunked_big\r\nContent-Type: application/json\r\n"
       f"Transfer-Encoding: chunked\r\n\r\n").encode()
req += (b"2000\r\n" + chunk + b"\r\n") * 12 + b"0\r\n\r\n"
got = srv.raw(req)
t.ok(status_of(got) == 411, "chunked body of 96 KiB: 411 length_required", got[:200])

# Exactly 64 KiB is still read (and refused by the JSON parser, not by size).
body = b" " * (65536 - len(json.dumps(SEED_BODY))) + json.dumps(SEED_BODY).encode()
st, _, b = srv.create("exactly_64k", body=body)
t.ok(st == 201, "a 64 KiB body (padded JSON) is accepted", (st, b[:200]))

st, _, _ = srv.request("GET", "/api/v1/payment-intents", srv.auth())
t.eq(st, 200, "the server still serves after the big bodies")

# ---- odd paths ------------------------------------------------------------------------
odd = ["/api/v1/payment-intents/%00", "/api/v1/payment-intents/..%2f..%2fetc%2fpasswd",
       "/api/v1/payment-intents/pi_%ff%fe", "/v1//payment-intents", "/api/v1/payment-intents/"
       + "a" * 5000, "/%2e%2e/%2e%2e/etc/passwd", "/../../etc/passwd", "/index.html/..",
       "/api/v1/payment-intents/\u00e9t\u00e9".encode().decode("latin-1")]
for p in odd:
    try:
        raw = srv.raw(f"GET {p} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                      f"Connection: close\r\n\r\n".encode("latin-1"))
    except OSError as e:
        raw = repr(e).encode()
    st = status_of(raw)
    t.ok(400 <= st < 500, f"odd path {p[:40]!r}: a 4xx", raw[:200])

# ---- malformed requests ------------------------------------------------------------
malformed = [
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n: empty-name\r\nConnection: close\r\n\r\n",
    b"POST /api/v1/payment-intents HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /api/v1/payment-intents HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n",
    b"\x00\x01\x02\x03\r\n\r\n",
    b"GET /api/v1/payment-intents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\n"
    b"Authorization: Bearer b\r\nConnection: close\r\n\r\n",
]
for i, m in enumerate(malformed):
    try:
        raw = srv.raw(m, read_timeout=3)
    except OSError as e:
        raw = b""
    st = status_of(raw)
    # A 4xx answer (505 for an unknown HTTP version), a closed socket (bytes
    # that are not HTTP at all), or for the header with an empty name, which
    # libmicrohttpd skips, the page: never a 500.
    t.ok(st == 0 or 200 <= st < 500 or st == 505, f"malformed request {i}: answered sanely",
         raw[:200])
    t.ok(srv.alive(), f"malformed request {i}: server alive")

many = "".join(f"X-H{i}: v\r\n" for i in range(150))
raw = srv.raw(f"GET /api/v1/payment-intents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}"
              f"\r\n{many}Connection: close\r\n\r\n".encode())
t.ok(status_of(raw) in (400, 431), "150 headers: 431", raw[:200])

st, _, _ = srv.request("GET", "/api/v1/payment-intents", srv.auth())
t.eq(st, 200, "the server still serves after malformed requests")

# ---- the embedded dashboard ----------------------------------------------------------
types = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
dash = os.environ.get("CONSTRA_DASHBOARD", "")
files = sorted(f for f in os.listdir(dash) if os.path.isfile(os.path.join(dash, f))
               and not f.startswith(".") and f != "meson.build") if dash else []
t.ok(len(files) > 0, "the dashboard directory has files", dash)
for f in files:
    with open(os.path.join(dash, f), "rb") as fh:
        want = fh.read()
    st, h, b = srv.request("GET", "/" + f)
    ext = os.path.splitext(f)[1]
    t.ok(st == 200 and b == want, f"/{f} is served byte for byte (listed in meson)", st)
    if ext in types:
        t.eq(h.get("content-type"), types[ext], f"/{f} content type")
st, h, b = srv.request("GET", "/")
with open(os.path.join(dash, "index.html"), "rb") as fh:
    t.ok(st == 200 and b == fh.read(), "/ serves index.html")
etag = h.get("etag", "")
t.ok(etag.startswith('"') and etag.endswith('"') and len(etag) > 10, "strong ETag", etag)
t.eq(h.get("cache-control"), "no-cache", "Cache-Control: no-cache")
t.ok("default-src 'self'" in h.get("content-security-policy", ""), "CSP default-src 'self'")
t.eq(h.get("x-content-type-options"), "nosniff", "X-Content-Type-Options: nosniff")
t.eq(h.get("referrer-policy"), "no-referrer", "Referrer-Policy: no-referrer")
t.eq(h.get("x-frame-options"), "DENY", "X-Frame-Options: DENY")
st, h, b = srv.request("GET", "/index.html", {"If-None-Match": etag})
t.ok(st == 304 and b == b"", "If-None-Match with the ETag: 304", st)
st, h, b = srv.request("HEAD", "/index.html")
t.ok(st == 200 and b == b"" and h.get("etag") == etag, "HEAD /index.html", (st, h))
st, h, b = srv.request("POST", "/", body=b"{}")
t.ok(st == 405 and error_code(b) == "method_not_allowed", "POST /: 405 error JSON", (st, b))

# ---- nothing stored changed by the bad requests -----------------------------------------
st, _, b = srv.request("GET", "/api/v1/payment-intents?limit=100", srv.auth())
ids = [x["id"] for x in json.loads(b)["data"]] if st == 200 else []
t.eq(len(ids), 4, "exactly the 4 good creates are stored")

# ---- the access log ---------------------------------------------------------------------
rc = srv.stop()
t.eq(rc, 0, "SIGTERM: exit 0")
log = srv.access_log()
lines = [l for l in log.splitlines() if l.strip()]
t.ok(len(lines) >= 40, "the access log has a line per request", len(lines))
t.ok(any('"POST /api/v1/payment-intents" 201' in l and
         "idempotency_key=order_7429_deposit_api_v1" in l for l in lines),
     "a create is logged with status and idempotency key", "\n".join(lines[:3]))
t.ok(all(l[:4].isdigit() and "T" in l.split(" ")[0] and l.split(" ")[0].endswith("Z")
         for l in lines), "each line starts with an RFC 3339 UTC time", lines[:2])
t.ok(any('"GET /api/v1/payment-intents" 200' in l for l in lines)
     and not any("limit=100" in l for l in lines), "query strings are not logged")
t.ok(key not in log and key not in srv.stderr(), "the secret key is never logged")
t.ok("Bearer" not in log, "no Authorization value in the log")
t.ok("AddressSanitizer" not in srv.stderr() and "LeakSanitizer" not in srv.stderr(),
     "no sanitizer report", srv.stderr()[-2000:])
t.done()
