"""constra serve under abusive clients and as an operator runs it (issue 14):
a used port fails the start, strict framing (RFC 9112) with the JSON error
shape, a bounded slow-header flood while other clients keep being served,
the request-head deadline, /healthz /readyz /metrics, ids of any shape 404,
and every option documented by --help.

Usage: test_hardening.py PATH/TO/constra
"""
import json
import os
import re
import socket
import subprocess
import threading
import time

from serve_util import Server, Tap, binary_from_argv, error_code, read_to_close, status_of

binary = binary_from_argv()
t = Tap()


def body_of(raw):
    return raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""


def count_intents(srv):
    st, _, body = srv.request("GET", "/v1/payment-intents?limit=100", srv.auth())
    return len(json.loads(body)["data"]) if st == 200 else -1


# ---- a used port --------------------------------------------------------------------------
srv = Server(binary, "--db", ":memory:")
second = subprocess.run([binary, "serve", "--port", str(srv.port), "--db", ":memory:",
                         "--secret-key", srv.key, "--access-log", "off"],
                        capture_output=True, timeout=30)
t.ok(second.returncode == 1, "a second server on a used port exits 1", second.returncode)
t.ok(b"listening on" not in second.stdout and b"cannot listen" in second.stderr,
     "it says why and never claims to listen", second.stderr.decode(errors="replace"))
st, _, b1 = srv.create("one-key")
st2, _, b2 = srv.create("one-key")
t.ok(st == 201 and b1 == b2 and count_intents(srv) == 1,
     "the first server alone answers: a re-sent key replays the same intent", (st, st2))

# ---- strict framing -----------------------------------------------------------------------
K = srv.key.encode()
AUTH = b"Authorization: Bearer " + K + b"\r\n"
JSON_CT = b"Content-Type: application/json\r\n"
BODY = json.dumps({"amount": 10, "currency": "KES", "provider": "mpesa",
                   "customer": {"phone_number": "254700000001"}}).encode()
CL = b"Content-Length: " + str(len(BODY)).encode() + b"\r\n"
POST = b"POST /v1/payment-intents HTTP/1.1\r\nHost: x\r\n"
GET = b"GET /v1/payment-intents HTTP/1.1\r\nHost: x\r\n"
chunked = hex(len(BODY))[2:].encode() + b"\r\n" + BODY + b"\r\n0\r\n\r\n"
cases = [
    ("two different Content-Length",
     POST + AUTH + JSON_CT + b"Idempotency-Key: f1\r\n" + CL +
     b"Content-Length: 3\r\n\r\n" + BODY),
    ("two equal Content-Length",
     POST + AUTH + JSON_CT + b"Idempotency-Key: f2\r\n" + CL + CL + b"\r\n" + BODY),
    ("Content-Length with Transfer-Encoding",
     POST + AUTH + JSON_CT + b"Idempotency-Key: f3\r\n" + CL +
     b"Transfer-Encoding: chunked\r\n\r\n" + chunked),
    ("Transfer-Encoding: gzip, chunked",
     POST + AUTH + JSON_CT + b"Idempotency-Key: f4\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
     + chunked),
    ("Transfer-Encoding: gzip",
     POST + AUTH + JSON_CT + b"Idempotency-Key: f5\r\nTransfer-Encoding: gzip\r\n\r\n" + BODY),
    ("Transfer-Encoding twice",
     POST + AUTH + JSON_CT + b"Idempotency-Key: f6\r\nTransfer-Encoding: chunked\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n" + chunked),
    ("NUL in the Idempotency-Key value",
     POST + AUTH + JSON_CT + b"Idempotency-Key: nul\x00one\r\n" + CL + b"\r\n" + BODY),
    ("NUL in the Idempotency-Key value (second)",
     POST + AUTH + JSON_CT + b"Idempotency-Key: nul\x00two\r\n" + CL + b"\r\n" + BODY),
    ("NUL after the bearer key", GET + b"Authorization: Bearer " + K + b"\x00junk\r\n\r\n"),
    ("NUL in the last field", GET + AUTH + b"X-Last: a\x00b\r\n\r\n"),
    ("bare CR in a value", GET + AUTH + b"X-A: a\rb\r\n\r\n"),
    ("a control octet in a value", GET + AUTH + b"X-A: a\x01b\r\n\r\n"),
    ("DEL in a value", GET + AUTH + b"X-A: a\x7fb\r\n\r\n"),
    ("obsolete line folding (space)", GET + b"Authorization: Bearer\r\n " + K + b"\r\n\r\n"),
    ("obsolete line folding (tab)", GET + AUTH + b"X-A: one\r\n\ttwo\r\n\r\n"),
]
before = count_intents(srv)
for name, data in cases:
    raw = srv.raw(data, read_timeout=5)
    code = error_code(body_of(raw))
    t.ok(status_of(raw) == 400 and code == "request_malformed" and
         b"application/json" in raw.split(b"\r\n\r\n", 1)[0],
         f"framing: {name} -> JSON 400 request_malformed", raw[:400])
t.eq(count_intents(srv), before, "framing: nothing was stored by any refused request")

# A chunked body, alone and well formed, is refused before it is read (a
# framing error inside one would be libmicrohttpd's to answer, in HTML):
# 411, the JSON shape, nothing stored; and a chunked body with a broken
# chunk gets the same answer, never libmicrohttpd's.
before = count_intents(srv)
for name, body in (("well formed", chunked),
                   ("with a broken chunk size", b"zz\r\n" + BODY + b"\r\n0\r\n\r\n"),
                   ("with a chunk longer than its size", b"3\r\n" + BODY + b"\r\n0\r\n\r\n")):
    raw = srv.raw(POST + AUTH + JSON_CT + b"Idempotency-Key: chunked-" + name[:4].encode() +
                  b"\r\nTransfer-Encoding: chunked\r\n\r\n" + body, read_timeout=5)
    t.ok(status_of(raw) == 411 and error_code(body_of(raw)) == "length_required" and
         b"application/json" in raw.split(b"\r\n\r\n", 1)[0] and b"<html" not in raw.lower(),
         f"framing: a chunked body {name} -> JSON 411 length_required", raw[:300])
t.eq(count_intents(srv), before, "framing: no chunked request stored anything")
# What is sound still works: bare-LF lines, HTAB in a value, an empty value.
raw = srv.raw(b"GET /v1/payment-intents HTTP/1.1\nHost: x\nAuthorization: Bearer " + K +
              b"\nX-Tab: a\tb\nX-Empty:\nConnection: close\n\n")
t.eq(status_of(raw), 200, "framing: bare-LF lines, HTAB and an empty value are accepted")

# ---- heads libmicrohttpd would answer itself (in HTML) ------------------------------------
# The gate (tools/constra/serve_gate.c) judges each connection's first head
# before libmicrohttpd reads it: every refusal is the JSON error shape.
H = b"Host: x\r\n"
big = b"X-Big: " + b"b" * 7000 + b"\r\n"
before = count_intents(srv)
gate_cases = [
    ("a request line without spaces", b"GARBAGE\r\n\r\n", 400, "request_malformed"),
    ("a request line with a fourth part", b"GET / HTTP/1.1 extra\r\n" + H + b"\r\n",
     400, "request_malformed"),
    ("two spaces in the request line", b"GET  / HTTP/1.1\r\n" + H + b"\r\n",
     400, "request_malformed"),
    ("a lower-case version", b"GET / http/1.1\r\n" + H + b"\r\n", 400, "request_malformed"),
    ("a method with a separator", b"GE(T / HTTP/1.1\r\n" + H + b"\r\n", 400,
     "request_malformed"),
    ("a control octet in the target", b"GET /a\x01b HTTP/1.1\r\n" + H + b"\r\n", 400,
     "request_malformed"),
    ("TLS spoken to the plain port", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" +
     bytes(range(32)) + b"\r\n\r\n", 400, "request_malformed"),
    ("HTTP/2.0", b"GET /healthz HTTP/2.0\r\n" + H + b"\r\n", 505,
     "http_version_not_supported"),
    ("HTTP/0.9", b"GET /healthz HTTP/0.9\r\n" + H + b"\r\n", 505,
     "http_version_not_supported"),
    ("a field line without a colon", GET + b"NoColonHere\r\n\r\n", 400, "request_malformed"),
    ("a space before the colon", GET + b"X-A : b\r\n\r\n", 400, "request_malformed"),
    ("an empty field name", GET + b": b\r\n\r\n", 400, "request_malformed"),
    ("HTTP/1.1 without Host", b"GET /healthz HTTP/1.1\r\n\r\n", 400, "request_malformed"),
    ("Host twice", GET + H + b"\r\n", 400, "request_malformed"),
    ("Content-Length not a number", POST + b"Content-Length: 1x\r\n\r\n", 400,
     "request_malformed"),
    ("Content-Length negative", POST + b"Content-Length: -1\r\n\r\n", 400, "request_malformed"),
    ("Content-Length empty", POST + b"Content-Length:\r\n\r\n", 400, "request_malformed"),
    ("Content-Length past 64 bits", POST + b"Content-Length: 99999999999999999999999\r\n\r\n",
     413, "body_too_large"),
    ("a 9,000-byte target", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414,
     "uri_too_long"),
    ("a 20 KiB request line that never ends", b"GET /" + b"a" * 20000, 414, "uri_too_long"),
    ("a head of 21 KiB", GET + big * 3 + b"\r\n", 431, "header_too_large"),
    ("101 header fields", GET + b"".join(b"X-F%d: v\r\n" % i for i in range(101)) + b"\r\n",
     431, "header_too_large"),
]
for name, data, want_status, want_code in gate_cases:
    raw = srv.raw(data, read_timeout=5)
    head = raw.split(b"\r\n\r\n", 1)[0]
    t.ok(status_of(raw) == want_status and error_code(body_of(raw)) == want_code and
         b"application/json" in head and b"<html" not in raw.lower(),
         f"gate: {name} -> JSON {want_status} {want_code}", raw[:300])
t.eq(count_intents(srv), before, "gate: nothing was stored by any refused head")

# What the gate must let through to the router unchanged.
sound = [
    ("empty lines before the request line", b"\r\n\r\nGET /healthz HTTP/1.1\r\n" + H +
     b"Connection: close\r\n\r\n", 200),
    ("HTTP/1.0 without Host", b"GET /healthz HTTP/1.0\r\n\r\n", 200),
    ("a head of 14 KiB (two 7,000-byte fields)",
     b"GET /healthz HTTP/1.1\r\n" + H + big * 2 + b"Connection: close\r\n\r\n", 200),
    ("100 header fields", b"GET /healthz HTTP/1.1\r\n" + H +
     b"".join(b"X-F%d: v\r\n" % i for i in range(98)) + b"Connection: close\r\n\r\n", 200),
    ("an unknown method (the router answers it)", b"BREW /healthz HTTP/1.1\r\n" + H +
     b"Connection: close\r\n\r\n", 405),
]
for name, data, want_status in sound:
    raw = srv.raw(data, read_timeout=5)
    t.eq(status_of(raw), want_status, f"gate: {name} is served ({want_status})")

# The head sent in pieces is served; every response closes its connection
# (no --keep-alive), so every request's head passes the gate: a malformed
# request line pipelined after a sound request is never parsed by
# libmicrohttpd (which would answer it in HTML) and gets no answer at all
# on that connection; on a connection of its own it gets the gate's JSON.
s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
for piece in [b"GET /hea", b"lthz HTTP/1.1\r\nHo", b"st: x\r\n", b"\r\n"]:
    s.sendall(piece)
    time.sleep(0.15)
first = read_to_close(s)
s.close()
t.ok(status_of(first) == 200 and b"connection: close" in first.lower(),
     "gate: a head in four pieces is served, with Connection: close", first[:300])
s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE LINE\r\n\r\n")
both = read_to_close(s)
s.close()
t.ok(both.count(b"HTTP/1.1 ") == 1 and status_of(both) == 200 and b"<html" not in both.lower(),
     "a malformed request pipelined after a sound one: the connection closes after the "
     "first answer, libmicrohttpd never answers the second", both[:400])
s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
both = read_to_close(s)
s.close()
t.ok(both.count(b"HTTP/1.1 200") == 1,
     "two sound requests pipelined: the first is answered and the connection closed (the "
     "client sends the second again on a new one)", both[:400])

# ---- ids of any shape ---------------------------------------------------------------------
for pid in ["pi_01hx9k7s4v3p9e7m5n2", "01HX9K7S4V3P9E7M5N2", "intent-42", "pi_" + "a" * 39]:
    st, _, body = srv.request("GET", "/v1/payment-intents/" + pid, srv.auth())
    err = json.loads(body).get("error", {})
    t.ok(st == 404 and err.get("code") == "resource_missing" and err.get("param") == "id",
         f"GET an unknown id of another shape ({pid[:24]}) is 404 resource_missing", body)

# ---- health, readiness, metrics -----------------------------------------------------------
st, h, body = srv.request("GET", "/healthz")
t.ok(st == 200 and json.loads(body) == {"status": "ok"} and
     h.get("content-type") == "application/json", "/healthz answers 200 without a key", body)
st, _, body = srv.request("HEAD", "/healthz")
t.ok(st == 200 and body == b"", "HEAD /healthz: 200, no body")
st, h, body = srv.request("POST", "/healthz", body=b"")
t.ok(st == 405 and error_code(body) == "method_not_allowed" and "GET" in h.get("allow", ""),
     "POST /healthz is a JSON 405 with Allow", body)
st, _, body = srv.request("GET", "/readyz")
t.ok(st == 200 and json.loads(body).get("status") == "ready", "/readyz: the storage answers",
     body)
st, h, body = srv.request("GET", "/metrics")
t.ok(st == 401 and error_code(body) == "authentication_required",
     "/metrics without the key: JSON 401", body)
st, _, body = srv.request("GET", "/metrics", {"Authorization": "Bearer cs_test_" + "0" * 40})
t.ok(st == 401 and error_code(body) == "invalid_api_key", "/metrics with a wrong key: 401")

# A forged callback (no token) is refused and counted.
cb = {"Body": {"stkCallback": {"MerchantRequestID": "m", "CheckoutRequestID": "ws_CO_x",
                               "ResultCode": 0, "ResultDesc": "x"}}}
st, _, _ = srv.request("POST", "/api/v1/providers/mpesa/callback",
                       {"Content-Type": "application/json"}, cb)
t.eq(st, 401, "a callback without the token is refused")


def metrics(server):
    st, h, body = server.request("GET", "/metrics", server.auth())
    return st, h, body.decode()


def sample(text, name, labels=None):
    """The value of one sample, or None."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if labels is None or all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


st, h, text = metrics(srv)
t.ok(st == 200 and h.get("content-type", "").startswith("text/plain; version=0.0.4"),
     "/metrics with the key: Prometheus text", (st, h))
t.ok(all(re.match(r"^(# (HELP|TYPE) .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? -?[0-9.e+Inf]+)$",
                  line) for line in text.splitlines() if line),
     "every line of /metrics is a comment or a sample", text[:3000])
t.ok((sample(text, "constra_http_requests_total",
             {"route": "/v1/payment-intents/{id}", "method": "GET", "status": "404"}) or 0) >= 4,
     "requests are counted by route label (ids folded into {id}), method and status")
t.ok((sample(text, "constra_callbacks_total", {"result": "refused"}) or 0) >= 1,
     "the refused callback is counted")
t.ok((sample(text, "constra_http_framing_refused_total") or 0) >= len(cases),
     "framing refusals are counted")
t.ok(sample(text, "constra_storage_up") == 1.0, "constra_storage_up 1")
n_intents = sum(sample(text, "constra_intents", {"status": s}) or 0
                for s in re.findall(r'constra_intents\{status="([a-z_]+)"\}', text))
t.eq(n_intents, count_intents(srv), "constra_intents by status adds up to the stored intents")
hist = sample(text, "constra_http_request_duration_seconds_count")
inf = sample(text, "constra_http_request_duration_seconds_bucket", {"le": "+Inf"})
t.ok(hist is not None and hist == inf and hist > 10, "the latency histogram is consistent",
     (hist, inf))
routes = set(re.findall(r'route="([^"]*)"', text))
# Invented paths do not grow the label table.
for i in range(50):
    srv.request("GET", f"/nope-{i}/x{i}", srv.auth())
st, h, text = metrics(srv)
routes2 = set(re.findall(r'route="([^"]*)"', text))
t.ok(len(routes2 - routes) <= 1 and "other" in routes2,
     "50 invented paths add at most one label ('other')", routes2 - routes)
t.ok(srv.key not in text, "the key never appears in /metrics")
t.eq(srv.stop(), 0, "exit 0")

# ---- a bounded slow-header flood ----------------------------------------------------------
# 8 connections per client address, a 2 s head deadline, connections kept
# alive; the flood comes from 127.0.0.1 (60 connections, each trickling a
# header byte every 0.4 s), the probes from 127.0.0.2 and 127.0.0.3.
srv = Server(binary, "--db", ":memory:", "--max-client-connections", "8",
             "--header-timeout", "2", "--timeout", "30", "--access-log", "off", "--keep-alive")
stop = threading.Event()
flood_stats = {"opened": 0, "refused": 0, "got_408": 0, "closed": 0}
lock = threading.Lock()
socks = []


def trickle():
    while not stop.is_set():
        with lock:
            live = list(socks)
        for s in live:
            try:
                s.send(b"a")
            except OSError:
                pass
        time.sleep(0.4)


for i in range(60):
    try:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5,
                                     source_address=("127.0.0.1", 0))
        s.sendall(b"GET /v1/payment-intents HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        socks.append(s)
        flood_stats["opened"] += 1
    except OSError:
        flood_stats["refused"] += 1
trickler = threading.Thread(target=trickle, daemon=True)
trickler.start()


def probe(source):
    t0 = time.time()
    try:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=3,
                                     source_address=(source, 0))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_to_close(s)
        s.close()
        return status_of(data), time.time() - t0
    except OSError:
        return 0, time.time() - t0


probes = []
t_end = time.time() + 4
while time.time() < t_end:
    probes.append(probe("127.0.0.2"))
    probes.append(probe("127.0.0.3"))
    time.sleep(0.1)
slowest = max(p[1] for p in probes)
t.ok(all(p[0] == 200 for p in probes) and slowest < 1.0,
     f"during the flood {len(probes)} probes from other addresses all answer in < 1 s",
     f"slowest {slowest:.3f}s, statuses {set(p[0] for p in probes)}")
stop.set()
trickler.join()

# Past the cap the server closed the flood's connections at once; the
# admitted ones were cut at the head deadline, with a JSON 408 once their
# request line had arrived.
for s in socks:
    s.settimeout(4)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError, OSError):
        pass
    if status_of(data) == 408 and error_code(body_of(data)) == "request_timeout":
        flood_stats["got_408"] += 1
    s.close()
print("# flood", flood_stats, flush=True)
t.ok(flood_stats["got_408"] <= 8 and flood_stats["got_408"] >= 1,
     "at most --max-client-connections (8) flood connections were admitted; those got a "
     "JSON 408 at the head deadline", flood_stats)
st, _, text = metrics(srv)
cut = sample(text, "constra_http_connections_cut_total")
t.ok(cut is not None and 1 <= cut <= 8, "the cuts are counted", cut)
st, _, _ = srv.request("GET", "/healthz")
t.eq(st, 200, "after the flood the flooding address is served again")

# One slow client alone: cut after --header-timeout, not after --timeout.
s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
s.sendall(b"GET /healthz HTTP/1.1\r\n")
t0 = time.time()
data = b""
try:
    while True:
        s.send(b"X")
        time.sleep(0.3)
        s.settimeout(0.01)
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            continue
        if not chunk:
            break
        data += chunk
except (ConnectionResetError, BrokenPipeError, OSError):
    pass
took = time.time() - t0
s.close()
t.ok(1.5 <= took <= 4.5 and status_of(data) in (0, 408),
     f"a header trickled a byte at a time is cut at the deadline (2 s; took {took:.1f} s)",
     data[:200])

# With --keep-alive (this server), a kept-alive connection gets a fresh
# head budget per request.
s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
ok = True
for _ in range(3):
    time.sleep(1.2)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = s.recv(4096)
    ok = ok and status_of(data) == 200 and b"connection: close" not in data.lower()
s.close()
t.ok(ok, "--keep-alive: three requests 1.2 s apart on one connection are all served "
         "(budget per head)")
t.eq(srv.stop(), 0, "exit 0 after the flood")
t.ok("Sanitizer" not in srv.stderr(), "no sanitizer report", srv.stderr()[-2000:])

# ---- the per-key rate limit beside the per-address one ------------------------------------
srv = Server(binary, "--db", ":memory:", "--rate-limit", "1000", "--rate-limit-key", "5",
             "--log-format", "json")


def get_from(source, headers):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5, source_address=(source, 0))
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    s.sendall(f"GET /v1/payment-intents HTTP/1.1\r\nHost: x\r\n{head}Connection: close\r\n\r\n"
              .encode())
    data = read_to_close(s)
    s.close()
    hdrs = dict(line.split(": ", 1) for line in
                data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:] if ": " in line)
    return status_of(data), {k.lower(): v for k, v in hdrs.items()}


codes = [get_from(f"127.0.0.{2 + i}", srv.auth()) for i in range(30)]
t.ok(sum(1 for c, _ in codes if c == 200) <= 12 and any(c == 429 for c, _ in codes),
     "a key used from 30 rotating addresses is held to its own limit (429 past ~10)",
     [c for c, _ in codes])
t.ok(codes[0][1].get("x-ratelimit-limit") == "5",
     "key requests report the tighter limit in X-RateLimit-Limit", codes[0][1])
refused = next((h for c, h in codes if c == 429), {})
t.ok(refused.get("retry-after", "").isdigit(), "the 429 says Retry-After", refused)
codes = [get_from(f"127.0.1.{2 + i}", {"Authorization": "Bearer cs_test_" + "9" * 30})
         for i in range(30)]
t.ok(all(c == 401 for c, _ in codes), "invented keys are not counted against the real key's "
     "budget (each is an address's own)", [c for c, _ in codes])
time.sleep(2.2)
st, h, _ = srv.request("GET", "/v1/payment-intents", srv.auth())
t.eq(st, 200, "after a pause the key is served again")
t.eq(srv.stop(), 0, "exit 0")
try:
    entries = [json.loads(line) for line in srv.access_log().splitlines()]
except ValueError as e:
    entries = []
t.ok(len(entries) > 50 and all({"time", "remote", "method", "path", "status", "bytes",
                                "duration_ms", "idempotency_key"} <= set(e) for e in entries) and
     any(e["status"] == 429 for e in entries) and srv.key not in srv.access_log(),
     "--log-format json: one JSON object per request, every field, never the key",
     srv.access_log()[:600])

# ---- an unwritable database fails the start ------------------------------------------------
# As root, permissions do not stop writes: the server then runs as nobody
# (setpriv), as it would under a service account.
def run_as_other(argv):
    if os.geteuid() != 0:
        return argv
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + argv


def start_fails(db, key):
    proc = subprocess.Popen(run_as_other([binary, "serve", "--port", "0", "--db", db,
                                          "--secret-key", key, "--access-log", "off"]),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return None, out, err
    return proc.returncode, out, err


import shutil
import tempfile

tmp = tempfile.mkdtemp(prefix="constra-ro-")
os.chmod(tmp, 0o755)
db = os.path.join(tmp, "constra.db")
srv = Server(binary, db=db)
srv.create("ro-1")
t.eq(srv.stop(), 0, "a database written by a first server")
os.chmod(db, 0o444)
rc, out, err = start_fails(db, srv.key)
t.ok(rc == 1 and b"listening" not in out and re.search(rb"read-?only|cannot be written", err),
     "a read-only database file fails the start-up (exit 1, says why)", (rc, out, err))
os.chmod(db, 0o666)
os.chmod(tmp, 0o555)
rc, out, err = start_fails(db, srv.key)
t.ok(rc == 1 and b"listening" not in out and re.search(rb"read-?only|cannot be written", err),
     "a database in a read-only directory fails the start-up too", (rc, out, err))
os.chmod(tmp, 0o777)
proc = subprocess.Popen(run_as_other([binary, "serve", "--port", "0", "--db", db, "--secret-key",
                                      srv.key, "--access-log", "off"]),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
line = proc.stdout.readline()
while line and b"listening on" not in line:
    line = proc.stdout.readline()
t.ok(b"listening on" in line, "the same account starts once the database is writable",
     proc.stderr.read1(4000) if not line else line)
proc.terminate()
proc.wait(timeout=30)
shutil.rmtree(tmp, ignore_errors=True)

# ---- every option documented --------------------------------------------------------------
for args in (["serve", "--help"], ["serve", "-h"], ["help", "serve"]):
    r = subprocess.run([binary] + args, capture_output=True, timeout=30)
    t.ok(r.returncode == 0 and b"--max-client-connections" in r.stdout,
         "constra " + " ".join(args) + " prints the options, exit 0", r.stderr)
help_text = subprocess.run([binary, "serve", "--help"], capture_output=True,
                           timeout=30).stdout.decode()
options = re.findall(r"^  (--[a-z-]+)( \S+)?$", help_text, re.M)
t.ok(len(options) >= 23, f"--help lists {len(options)} options", help_text)
# Each option is described and, where it has one, its default is given.
blocks = re.split(r"^  (?=--)", help_text, flags=re.M)[1:]
t.ok(all(len(b.splitlines()) >= 2 for b in blocks), "each option has a description")
for name in ("--port", "--timeout", "--header-timeout", "--rate-limit", "--db", "--host"):
    block = next((b for b in blocks if b.startswith(name + " ")), "")
    t.ok("(default: " in block, f"{name} shows its default", block)
# Every listed option is one the parser knows (a flag or one with a value).
unknown = []
for name, arg in options:
    if name == "--help":
        continue
    argv = [binary, "serve", name] + (["x"] if arg else []) + ["--no-such-option"]
    r = subprocess.run(argv, capture_output=True, timeout=30)
    if b"unknown option '" + name.encode() + b"'" in r.stderr:
        unknown.append(name)
t.eq(unknown, [], "every option --help lists is accepted by the parser")
for cmd in ("version", "decode", "phone", "verify", "sign", "help"):
    r = subprocess.run([binary, cmd, "--help"], capture_output=True, timeout=30)
    t.ok(r.returncode == 0 and r.stdout.startswith(b"usage: constra " + cmd.encode()),
         f"constra {cmd} --help", r.stdout[:200] + r.stderr[:200])
r = subprocess.run([binary, "help", "--man"], capture_output=True, timeout=30)
man = r.stdout.decode()
t.ok(r.returncode == 0 and man.startswith(".TH CONSTRA 1") and "\\-\\-header\\-timeout" in man
     and all(f'.SS "constra {c} ' in man for c in ("serve", "decode", "verify")),
     "constra help --man prints the man page with every command", man[:300])
t.done()
