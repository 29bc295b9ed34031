#!/usr/bin/env python3
"""Crash safety (issue 5 item 5): a load of creates against constra serve
on a file database, SIGKILL in the middle of it, restart on the same file:
every create that got a 201 is there (GET 200, same id) with its events,
and replaying every idempotency key with the same body returns the
original response byte for byte, with Idempotent-Replayed: true. Done
three times, killing at different moments.

usage: test_crash.py PATH/TO/constra
"""
import signal
import sqlite3
import time

from load import CreateLoad, verify_after_restart
from serve_util import Server, Tap, binary_from_argv

t = Tap()
binary = binary_from_argv()

srv = Server(binary, "--rate-limit", "0", "--access-log", "off")
db, key = srv.db, srv.key
total = 0
for round_no, target in enumerate((20, 60, 150), start=1):
    if round_no > 1:
        srv = Server(binary, "--rate-limit", "0", "--access-log", "off", db=db, key=key)
    load = CreateLoad(srv, threads=6, tag=f"crash{round_no}")
    load.start()
    deadline = time.time() + 60
    while load.count() < target and time.time() < deadline:
        time.sleep(0.01)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    load.stop()
    label = f"round {round_no}"
    t.ok(load.count() >= target, f"{label}: {load.count()} creates got 201 before SIGKILL")
    t.ok(not [o for o in load.other if o[1] >= 500], f"{label}: no 5xx", load.other[:5])

    con = sqlite3.connect(db)
    t.eq(con.execute("PRAGMA integrity_check").fetchone()[0], "ok",
         f"{label}: the database is intact after SIGKILL")
    con.close()

    srv2 = Server(binary, "--rate-limit", "0", "--access-log", "off", db=db, key=key)
    verify_after_restart(t, srv2, load, label)
    total += load.count()
    t.eq(srv2.stop(), 0, f"{label}: the restarted server stops cleanly")
    t.ok("Sanitizer" not in srv2.stderr(), f"{label}: no sanitizer report",
         srv2.stderr()[-3000:])
print(f"# {total} acknowledged creates checked")
t.done()
