#!/usr/bin/env python3
"""constra serve while its PostgreSQL database goes away at run time
(issues 12 and 14): the server in CONSTRA_TEST_PG is stopped (immediate
mode, as a crash) under a running `constra serve`, then started again.

  - While it is down: reads and writes answer a JSON 503 (no HTML, no
    hang past the time-outs), /healthz stays 200 (the process is alive),
    /readyz is 503, and the failing ticker is reported once, not four
    times a second.
  - When it is back, without a restart: /readyz 200, the intent created
    before is there, the idempotency key refused during the outage
    creates afresh (it was never consumed), and the ticker says it
    recovered.

Runs alone (meson: is_parallel false): every other test on that server
would fail meanwhile. Never skipped in a build with the postgres feature.

usage: test_postgres_away.py PATH/TO/constra
"""
import json
import os
import subprocess
import time

from serve_util import Server, Tap, binary_from_argv, error_code
from pg_util import make_database

t = Tap()
binary = binary_from_argv()
pgctl = os.environ.get("CONSTRA_TEST_PGCTL", "")
if not os.environ.get("CONSTRA_TEST_PG") or not pgctl:
    t.ok(False, "CONSTRA_TEST_PG and CONSTRA_TEST_PGCTL are set (scripts/pg_cluster.sh start)")
    t.done()


def pg(args):
    return subprocess.run(pgctl + " " + args, shell=True, capture_output=True, text=True,
                          timeout=120).returncode


url, drop = make_database("away")
srv = Server(binary, "--rate-limit", "0", "--access-log", "off", db=url)
try:
    st, _, body = srv.create("before-outage")
    t.eq(st, 201, "a create before the outage: 201")
    first = json.loads(body).get("id", "")

    t.eq(pg("stop -m immediate -w"), 0, "the PostgreSQL server is stopped (immediate)")
    start = time.time()
    st_get, h_get, b_get = srv.request("GET", "/api/v1/payment-intents/" + first, srv.auth())
    st_post, h_post, b_post = srv.create("during-outage")
    took = time.time() - start
    t.ok(st_get == 503 and h_get.get("content-type", "").startswith("application/json") and
         b"<html" not in b_get.lower(), "a read during the outage: JSON 503", (st_get, b_get[:200]))
    t.ok(st_post == 503 and h_post.get("content-type", "").startswith("application/json"),
         "a create during the outage: JSON 503", (st_post, b_post[:200]))
    t.ok(error_code(b_post).startswith("storage"), "its code names the storage",
         error_code(b_post))
    t.ok(took < 20, "both answered within the time-outs", f"{took:.1f} s")
    st, _, _ = srv.request("GET", "/healthz")
    t.eq(st, 200, "/healthz stays 200: the process is alive")
    st, _, body = srv.request("GET", "/readyz")
    t.eq(st, 503, "/readyz is 503 while the database is away")
    time.sleep(3)  # a dozen ticks' worth

    t.eq(pg("start -w -t 60"), 0, "the PostgreSQL server is started again")
    deadline = time.time() + 30
    ready = 0
    while time.time() < deadline:
        ready, _, _ = srv.request("GET", "/readyz")
        if ready == 200:
            break
        time.sleep(0.25)
    t.eq(ready, 200, "/readyz 200 again without a restart")
    st, _, body = srv.request("GET", "/api/v1/payment-intents/" + first, srv.auth())
    t.ok(st == 200 and json.loads(body).get("id") == first, "the intent from before is there", st)
    st, h, body = srv.create("during-outage")
    t.ok(st == 201 and h.get("idempotent-replayed") != "true",
         "the key refused during the outage creates afresh (never consumed)", (st, body[:200]))
    st, _, _ = srv.create("after-outage")
    t.eq(st, 201, "a fresh create after the outage: 201")
    deadline = time.time() + 10
    while "tick recovered" not in srv.stderr() and time.time() < deadline:
        time.sleep(0.25)
    err = srv.stderr()
    t.ok(err.count("constra serve: tick failed") == 1 and "tick recovered" in err,
         "the failing ticker was reported once, then its recovery", err[-1500:])
    t.eq(srv.stop(), 0, "exit 0")
    t.ok("Sanitizer" not in srv.stderr(), "no sanitizer report", srv.stderr()[-2000:])
finally:
    if srv.proc.poll() is None:
        srv.proc.kill()
    pg("start -w -t 60")  # whatever happened, leave the server running
    drop()
t.done()
