#!/usr/bin/env python3
"""constra serve: graceful shutdown. SIGTERM during a load of creates:
the request in flight (its body half sent) still completes after the
signal, the server exits 0 promptly, nothing answers 5xx, the database is
intact (integrity check, WAL checkpointed and removed) and reopens with
every created intent. Also SIGINT, and a second signal.

usage: test_shutdown.py PATH/TO/constra
"""
import json
import os
import signal
import socket
import sqlite3
import time

from load import CreateLoad, verify_after_restart
from serve_util import SEED_BODY, Server, Tap, binary_from_argv, status_of

t = Tap()
binary = binary_from_argv()

srv = Server(binary, "--rate-limit", "0")
db = srv.db
load = CreateLoad(srv, threads=4, tag="term")
load.start()
deadline = time.time() + 30
while load.count() < 30 and time.time() < deadline:
    time.sleep(0.05)
t.ok(load.count() >= 30, "the load is running", load.count())

# A create whose body is half sent when the signal comes.
body = json.dumps(dict(SEED_BODY, reference="in_flight")).encode()
s = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
s.sendall((f"POST /api/v1/payment-intents HTTP/1.1\r\nHost: x\r\n"
           f"Authorization: Bearer {srv.key}\r\nIdempotency-Key: in_flight_1\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
          + body[:20])
time.sleep(0.3)

t0 = time.time()
srv.proc.send_signal(signal.SIGTERM)
time.sleep(0.5)
t.ok(srv.alive(), "after SIGTERM the server waits for the request in flight")
s.sendall(body[20:])
got = b""
s.settimeout(20)
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
except OSError:
    pass
s.close()
t.eq(status_of(got), 201, "the request in flight completes with 201 after SIGTERM")
t.ok(b"\r\nConnection: close\r\n" in got, "and carries Connection: close", got[:400])
inflight_id = None
try:
    inflight_id = json.loads(got.split(b"\r\n\r\n", 1)[1])["id"]
except (IndexError, ValueError, KeyError):
    pass

rc = srv.stop(timeout=60)
took = time.time() - t0
load.stop()
t.eq(rc, 0, "SIGTERM: exit 0")
t.ok(took < 15, "the shutdown took less than 15 s", f"{took:.1f}s")
t.ok("stopped" in srv.stderr(), "says it stopped", srv.stderr()[-500:])
t.ok(not [o for o in load.other if o[1] >= 500], "no 5xx during the shutdown", load.other[:5])
t.ok(not load.other, "every answered create was a 201", load.other[:5])
t.ok("Sanitizer" not in srv.stderr(), "no sanitizer report (no leaks at exit)",
     srv.stderr()[-3000:])

# The database file: intact and checkpointed.
t.ok(not os.path.exists(db + "-wal") or os.path.getsize(db + "-wal") == 0,
     "the WAL is checkpointed on close")
con = sqlite3.connect(db)
t.eq(con.execute("PRAGMA integrity_check").fetchone()[0], "ok", "integrity_check ok")
con.close()

# Reopen: everything is there, every key replays.
srv2 = Server(binary, "--rate-limit", "0", db=db, key=srv.key)
verify_after_restart(t, srv2, load, "SIGTERM")
if inflight_id:
    st, _, b = srv2.request("GET", f"/api/v1/payment-intents/{inflight_id}", srv2.auth())
    t.eq(st, 200, "the in-flight create is stored")
else:
    t.ok(False, "the in-flight create is stored (no id)")

# SIGINT works the same.
t.eq(srv2.stop(signal.SIGINT), 0, "SIGINT: exit 0")

# A second signal cuts the drain short (a stalled request would hold it).
srv3 = Server(binary, db=db, key=srv.key, env=None)
s = socket.create_connection(("127.0.0.1", srv3.port), timeout=20)
s.sendall(b"POST /api/v1/payment-intents HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{")
time.sleep(0.3)
srv3.proc.send_signal(signal.SIGTERM)
time.sleep(0.5)
t.ok(srv3.alive(), "a stalled request holds the drain")
t0 = time.time()
rc = srv3.stop(signal.SIGTERM, timeout=30)
t.ok(rc == 0 and time.time() - t0 < 3, "a second SIGTERM stops at once, exit 0", rc)
s.close()
t.ok("Sanitizer" not in srv3.stderr(), "no sanitizer report", srv3.stderr()[-3000:])
t.done()
