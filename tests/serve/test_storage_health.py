#!/usr/bin/env python3
"""Storage failing at run time (issue 14, item 5): while another process
holds the SQLite file's write lock, `constra serve` answers writes with a
JSON 503 (nothing stored, the idempotency key not consumed), keeps
answering reads, reports the failing ticker once instead of four times a
second, and uses the database again as soon as the lock is released,
without a restart.

usage: test_storage_health.py PATH/TO/constra
"""
import json
import sqlite3
import time

from serve_util import Server, Tap, binary_from_argv, error_code

t = Tap()
binary = binary_from_argv()
srv = Server(binary, "--rate-limit", "0")

st, _, body = srv.create("before-lock")
t.eq(st, 201, "a create before the lock: 201")
first = json.loads(body)["id"]

# Another process takes the write lock and keeps it (WAL: readers go on).
holder = sqlite3.connect(srv.db, isolation_level=None, timeout=30)
holder.execute("BEGIN EXCLUSIVE")
locked_at = time.time()

start = time.time()
st, h, body = srv.create("during-lock")
took = time.time() - start
t.eq(st, 503, "a create while the database is locked: 503")
t.eq(error_code(body), "storage_error", "the 503 has the JSON error body, code storage_error")
t.ok(h.get("content-type", "").startswith("application/json"), "the 503 is JSON")
t.ok(took < 15, "the 503 comes within the busy time-out, not never", f"{took:.1f} s")
st, _, body = srv.request("GET", "/api/v1/payment-intents/" + first, srv.auth())
t.eq(st, 200, "reads keep answering while writes cannot")
st, _, _ = srv.request("GET", "/readyz")
t.ok(st in (200, 503), "/readyz answers while the database is locked", st)

# Let the ticker run into the lock for a while: its purge is a write.
time.sleep(max(0.0, 8 - (time.time() - locked_at)))
failed_lines = srv.stderr().count("tick failed")
t.ok(failed_lines <= 1, "a failing ticker is reported once, not every tick", failed_lines)

holder.execute("ROLLBACK")
holder.close()

st, h, body = srv.create("during-lock")
t.eq(st, 201, "the key of the refused create runs afresh after the lock: 201")
t.ok(h.get("idempotent-replayed") != "true", "not a replay: the 503 stored nothing")
second = json.loads(body)["id"]
st, _, body = srv.create("after-lock")
t.eq(st, 201, "a new create after the lock: 201")

deadline = time.time() + 20
while time.time() < deadline and "tick recovered" not in srv.stderr():
    time.sleep(0.25)
t.ok("tick recovered" in srv.stderr(), "the ticker recovers without a restart", srv.stderr()[-400:])

st, _, body = srv.request("GET", "/api/v1/payment-intents?limit=100", srv.auth())
ids = [o["id"] for o in json.loads(body)["data"]]
t.eq(len(ids), 3, "three intents: one per successful create, none for the 503")
t.ok(first in ids and second in ids, "both keys' intents are listed")

con = sqlite3.connect(srv.db)
keys = sorted(r[0] for r in con.execute("SELECT id FROM rs_records WHERE kind = 'idempotency'"))
con.close()
t.eq(keys, ["after-lock", "before-lock", "during-lock"], "one key record each")
t.eq(srv.stop(), 0, "the server stops cleanly")
t.done()
