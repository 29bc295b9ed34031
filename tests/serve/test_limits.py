#!/usr/bin/env python3
"""constra serve: the rate limit (429, X-RateLimit-*, Retry-After, per key),
slow clients (others are served meanwhile; the stalled connection is
closed after the time-out), many idle connections, and --rate-limit 0.

usage: test_limits.py PATH/TO/constra
"""
import json
import socket
import threading
import time

from serve_util import Server, Tap, binary_from_argv, error_code

t = Tap()
binary = binary_from_argv()

# ---- the rate limit ----------------------------------------------------------------
srv = Server(binary, "--rate-limit", "5", "--rate-burst", "5", "--timeout", "2")
t.ok("5 requests/s per client address, burst 5; 5/s per key, burst 5" in
     "\n".join(srv.stdout_lines), "prints the rate limits", srv.stdout_lines)
results = [srv.request("GET", "/api/v1/payment-intents", srv.auth()) for _ in range(12)]
codes = [r[0] for r in results]
t.eq(codes[:5], [200] * 5, "the burst of 5 is served")
t.ok(codes.count(429) >= 5, "then 429s", codes)
limited = next((r for r in results if r[0] == 429), None)
if limited:
    st, h, b = limited
    t.eq(error_code(b), "rate_limited", "429 body is the error JSON rate_limited")
    err = json.loads(b)["error"]
    t.ok(set(err) == {"code", "message", "param"}, "429 error has code, message, param", err)
    t.ok(h.get("retry-after", "").isdigit() and int(h["retry-after"]) >= 1, "Retry-After >= 1",
         h)
    t.eq(h.get("x-ratelimit-limit"), "5", "429: X-RateLimit-Limit 5")
    t.eq(h.get("x-ratelimit-remaining"), "0", "429: X-RateLimit-Remaining 0")
    t.ok(h.get("x-ratelimit-reset", "").isdigit(), "429: X-RateLimit-Reset", h)
    t.eq(h.get("content-type"), "application/json", "429: JSON")
else:
    for name in ("error JSON", "shape", "Retry-After", "limit", "remaining", "reset", "json"):
        t.ok(False, "429 seen: " + name)
first = results[0][1]
t.eq(first.get("x-ratelimit-remaining"), "4", "the first answer: 4 remaining")

# Another client address has its own bucket; the same address shares it
# whatever the credential.
def keyless_from(source):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5, source_address=(source, 0))
    s.sendall(b"GET /api/v1/payment-intents HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    return data.split(b" ", 2)[1], head


st, head = keyless_from("127.0.0.2")
t.ok(st == b"401" and "x-ratelimit-remaining: 4" in head,
     "a client at another address has its own bucket (401, 4 left)", head)
st, _, _ = srv.request("GET", "/api/v1/payment-intents")
t.eq(st, 429, "a keyless request from the key holder's address shares its spent bucket")
# ... and invented keys all share the address's bucket.
codes = [srv.request("GET", "/api/v1/payment-intents",
                     {"Authorization": f"Bearer cs_test_invented{i:020d}"})[0]
         for i in range(8)]
t.ok(codes.count(429) >= 3, "invented keys do not buy fresh buckets", codes)

# The bucket refills.
time.sleep(1.5)
st, _, _ = srv.request("GET", "/api/v1/payment-intents", srv.auth())
t.eq(st, 200, "after a pause the key is served again")

# ---- slow clients -----------------------------------------------------------------------
stalled = []
for _ in range(20):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"POST /api/v1/payment-intents HTTP/1.1\r\nHost: x\r\nContent-Le")
    stalled.append(s)
half_body = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
half_body.sendall(b"POST /api/v1/payment-intents HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"amo")
time.sleep(1.2)  # let the bucket refill
t0 = time.time()
st, _, _ = srv.request("GET", "/index.html", timeout=5)
took = time.time() - t0
t.ok(st == 200 and took < 1.0, "with 21 stalled clients another is served promptly",
     f"{st} in {took:.2f}s")

# The server closes stalled connections after --timeout 2 s.
def closed_within(sock, seconds):
    sock.settimeout(seconds)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


t.ok(closed_within(stalled[0], 6), "a stalled header is closed after the time-out")
t.ok(closed_within(half_body, 6), "a stalled body is closed after the time-out")
for s in stalled + [half_body]:
    s.close()
t.ok(srv.alive(), "server alive after the slow clients")

# The stalled requests count as in flight; once closed they no longer
# hold the shutdown (it would wait for them otherwise).
t0 = time.time()
rc = srv.stop()
t.ok(rc == 0 and time.time() - t0 < 5, "quick clean stop after slow clients", rc)
log = srv.access_log()
t.ok('" 429 ' in log, "429 answers are logged")
t.ok(srv.key not in log and srv.key not in srv.stderr(), "the key is not logged")
t.ok("Sanitizer" not in srv.stderr(), "no sanitizer report", srv.stderr()[-2000:])

# ---- --rate-limit 0 ------------------------------------------------------------------------
srv = Server(binary, "--rate-limit", "0", "--access-log", "off")
codes = []
lock = threading.Lock()


def hammer():
    for _ in range(50):
        st, h, _ = srv.request("GET", "/api/v1/payment-intents", srv.auth())
        with lock:
            codes.append((st, "x-ratelimit-limit" in h))


threads = [threading.Thread(target=hammer) for _ in range(4)]
for th in threads:
    th.start()
for th in threads:
    th.join()
t.ok(all(c == (200, False) for c in codes) and len(codes) == 200,
     "--rate-limit 0: 200 requests at once, all served, no X-RateLimit headers",
     set(codes))
t.eq(srv.access_log(), "", "--access-log off writes nothing")
t.eq(srv.stop(), 0, "exit 0")
t.done()
