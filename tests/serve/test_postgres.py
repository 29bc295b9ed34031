#!/usr/bin/env python3
"""constra serve on PostgreSQL (issue 12): three servers on three ports
share ONE database (a fresh one, created for this run on the server in
CONSTRA_TEST_PG).

  - The same Idempotency-Key POSTed to all three at once (several keys,
    one thread per server per key): exactly one intent per key; every 201
    carries that intent, and replays (on every server) are the first
    response byte for byte with Idempotent-Replayed: true. A concurrent
    duplicate may be told 409 idempotent_request_in_flight, nothing else.
  - A load of creates on two servers, SIGKILL one of them in the middle:
    every 201 it answered is in the database afterwards (GET through
    another server, with its events, its key replaying the same bytes),
    and the others keep serving (their own load: no 5xx, and fresh
    creates afterwards).
  - Callback time-outs (--callback-timeout 2) of intents created through
    every server: each is done once across the processes, one
    payment_intent.requires_recovery event per intent in the log.
  - A webhook endpoint registered through one server: every event of
    those intents reaches the receiver exactly once, whichever of the
    three tickers enqueued and claimed it.

Never skipped in a build that has the postgres feature (meson registers
it only then): without CONSTRA_TEST_PG it fails.

usage: test_postgres.py PATH/TO/constra
"""
import http.server
import json
import os
import signal
import threading
import time

from load import CreateLoad, verify_after_restart
from pg_util import make_database
from serve_util import SEED_BODY, Server, Tap, binary_from_argv, error_code

t = Tap()
binary = binary_from_argv()

conninfo = os.environ.get("CONSTRA_TEST_PG", "")
if not conninfo:
    t.ok(False, "CONSTRA_TEST_PG is set (eval \"$(bash scripts/pg_cluster.sh start /tmp/constra-pg)\";"
         " scripts/test.sh does it)")
    t.done()


url, drop_database = make_database("serve")

key = "cs_test_" + os.urandom(20).hex()
common = ("--rate-limit", "0", "--rate-limit-key", "0", "--callback-timeout", "2",
          "--access-log", "off")


def start():
    return Server(binary, *common, key=key, db=url)


servers = []
try:
    # The first one creates the schema and the workspace; then two more.
    servers.append(start())
    servers += [start(), start()]
    t.eq(len({s.port for s in servers}), 3, "three servers on three ports, one database")
    t.ok(all("storage postgresql:///" in "\n".join(s.stdout_lines) for s in servers),
         "each banner names the PostgreSQL database", servers[0].stdout_lines[:2])

    # ---- one key, three servers, at once ---------------------------------------------------
    KEYS = 12
    results = {}  # key -> list of (server index, status, headers, body)
    lock = threading.Lock()

    def body_for(k):
        b = dict(SEED_BODY)
        b["reference"] = f"same_{k}"
        return b

    def post(k, i, barrier):
        barrier.wait()
        try:
            st, h, b = servers[i].create(f"same_{k}", body_for(k))
        except OSError as e:
            st, h, b = 0, {}, str(e).encode()
        with lock:
            results.setdefault(k, []).append((i, st, h, b))

    for k in range(KEYS):
        barrier = threading.Barrier(3)
        ths = [threading.Thread(target=post, args=(k, i, barrier)) for i in range(3)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()

    allowed, one_intent, same_answers, replays = [], [], [], []
    for k in range(KEYS):
        rs = results[k]
        bad = [(i, st, error_code(b)) for i, st, h, b in rs
               if not (st == 201 or (st == 409 and error_code(b) == "idempotent_request_in_flight"))]
        if bad:
            allowed.append((k, bad))
        firsts = [b for i, st, h, b in rs if st == 201]
        ids = {json.loads(b)["id"] for b in firsts}
        st, _, lb = servers[k % 3].request(
            "GET", f"/api/v1/payment-intents?reference=same_{k}&limit=10", servers[0].auth())
        listed = [x["id"] for x in json.loads(lb).get("data", [])] if st == 200 else None
        if listed is None or len(listed) != 1 or (ids and ids != set(listed)):
            one_intent.append((k, listed, ids))
        if len(set(firsts)) > 1:
            same_answers.append((k, [b[:120] for b in firsts]))
        # Replays on every server: the first answer, byte for byte.
        want = firsts[0] if firsts else None
        for s in servers:
            st, h, b = s.create(f"same_{k}", body_for(k))
            if st != 201 or h.get("idempotent-replayed") != "true" or (want and b != want):
                replays.append((k, s.port, st, h.get("idempotent-replayed")))
            want = want or b
    t.ok(not allowed, f"{KEYS} keys x 3 servers at once: only 201 or 409 in flight", allowed[:5])
    t.ok(not one_intent, "exactly one intent per key in the database", one_intent[:5])
    t.ok(not same_answers, "every 201 for one key is the same response", same_answers[:3])
    t.ok(not replays, "replays on each of the three servers: the same bytes, Idempotent-Replayed",
         replays[:5])
    n201 = sum(1 for k in range(KEYS) for r in results[k] if r[1] == 201)
    print(f"# {n201} of {3 * KEYS} concurrent duplicates answered 201, the rest 409 in flight")

    # ---- SIGKILL one server under load ---------------------------------------------------------
    victim, survivor, other = servers[1], servers[0], servers[2]
    load_v = CreateLoad(victim, threads=4, tag="victim")
    load_s = CreateLoad(survivor, threads=2, tag="survivor")
    load_v.start()
    load_s.start()
    deadline = time.time() + 60
    while load_v.count() < 40 and time.time() < deadline:
        time.sleep(0.01)
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait()
    killed_at = load_s.count()
    time.sleep(1.0)
    load_v.stop()
    after_kill = load_s.count()
    load_s.stop()
    t.ok(load_v.count() >= 40, f"{load_v.count()} creates got 201 from the killed server before SIGKILL")
    t.ok(after_kill > killed_at,
         f"the surviving server kept serving its load ({killed_at} -> {after_kill} creates)")
    t.ok(not [o for o in load_s.other if o[1] >= 500], "the survivor's load: no 5xx",
         load_s.other[:5])
    t.ok(not [o for o in load_v.other if o[1] >= 500], "the victim's load: no 5xx before the kill",
         load_v.other[:5])
    verify_after_restart(t, other, load_v, "the killed server's 201s, read through another server")
    verify_after_restart(t, other, load_s, "the survivor's 201s, read through the third server")
    st, _, _ = other.create("after_kill_1")
    t.eq(st, 201, "a fresh create on the third server after the kill")
    print(f"# {load_v.count()} + {load_s.count()} acknowledged creates checked")

    # A replacement for the killed server (the time-out check runs on three).
    servers[1] = start()

    # ---- a webhook receiver for what follows ---------------------------------------------------
    got, got_lock = [], threading.Lock()

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with got_lock:
                got.append((self.headers.get("Constra-Delivery-Id"), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    hooks = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    st, _, b = servers[2].request("POST", "/v1/webhook-endpoints",
                                  servers[2].auth({"Content-Type": "application/json"}),
                                  {"url": f"http://127.0.0.1:{hooks.server_address[1]}/hooks"})
    t.eq(st, 201, "a webhook endpoint registered through the third server")

    # ---- time-outs, once across processes ----------------------------------------------------
    ids = []
    for n in range(9):
        st, _, b = servers[n % 3].create(f"timeout_{n}", dict(SEED_BODY, reference=f"timeout_{n}"))
        if st == 201:
            ids.append(json.loads(b)["id"])
    t.eq(len(ids), 9, "9 intents waiting for a callback, created through all three")
    deadline = time.time() + 60
    pending = set(ids)
    while pending and time.time() < deadline:
        for pid in list(pending):
            st, _, b = servers[0].request("GET", f"/api/v1/payment-intents/{pid}", servers[0].auth())
            if st == 200 and json.loads(b).get("status") != "pending_user_action":
                pending.discard(pid)
        time.sleep(0.2)
    t.ok(not pending, "each timed out (callback time-out 2 s)", sorted(pending))
    time.sleep(1.5)  # every server's ticker has had its turns at them
    counts, statuses = {}, {}
    for pid in ids:
        st, _, b = servers[2].request("GET", f"/api/v1/payment-intents/{pid}/events",
                                      servers[2].auth())
        types = [e.get("type") for e in json.loads(b).get("data", [])] if st == 200 else []
        counts[pid] = sum(1 for x in types if x == "payment_intent.requires_recovery")
        st, _, b = servers[1].request("GET", f"/api/v1/payment-intents/{pid}", servers[1].auth())
        statuses[pid] = json.loads(b).get("status") if st == 200 else st
    t.ok(all(c == 1 for c in counts.values()),
         "one requires_recovery event per intent: each time-out done once across processes",
         counts)
    t.ok(all(v == "requires_recovery" for v in statuses.values()),
         "every timed-out intent reads requires_recovery through another server", statuses)

    # Every event of those intents, delivered once.
    want = {}
    for pid in ids:
        st, _, b = servers[0].request("GET", f"/api/v1/payment-intents/{pid}/events",
                                      servers[0].auth())
        for e in json.loads(b).get("data", []) if st == 200 else []:
            want[e["id"]] = e["type"]

    def delivered():
        with got_lock:
            out = {}
            for did, body in got:
                ev = json.loads(body)
                if ev.get("data", {}).get("payment_intent_id") in ids:
                    out.setdefault(ev["id"], []).append(did)
            return out

    deadline = time.time() + 30
    while set(delivered()) != set(want) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)  # a second delivery, if any, would come now
    seen = delivered()
    t.ok(want and set(seen) == set(want),
         f"every event of the {len(ids)} intents reached the receiver ({len(want)} events)",
         (sorted(set(want) - set(seen))[:5], sorted(set(seen) - set(want))[:5]))
    dup = {k: v for k, v in seen.items() if len(v) != 1}
    t.ok(not dup, "each exactly once, across the three servers' tickers", dup)
    hooks.shutdown()

    for i, s in enumerate(servers):
        t.eq(s.stop(), 0, f"server {i + 1} stops cleanly")
        t.ok("Sanitizer" not in s.stderr(), f"server {i + 1}: no sanitizer report",
             s.stderr()[-3000:])
finally:
    for s in servers:
        if s.alive():
            s.stop(signal.SIGKILL)
    drop_database()  # the run's result stands; the cluster is thrown away anyway
t.done()
