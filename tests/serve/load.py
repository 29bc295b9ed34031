"""A load of creates with unique idempotency keys, for the shutdown and
crash tests: several threads, each on fresh connections, until stopped or
until the server stops answering. Every outcome is recorded."""
import http.client
import json
import threading

from serve_util import SEED_BODY


class CreateLoad:
    def __init__(self, srv, threads=4, tag="load"):
        self.srv = srv
        self.port = srv.port
        self.key = srv.key
        self.tag = tag
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.created = {}    # idempotency key -> (id, body bytes)
        self.other = []      # (key, status, body) for answers other than 201
        self.errors = 0      # connection-level failures (refused, reset)
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(threads)]

    def body(self, n):
        b = dict(SEED_BODY)
        b["reference"] = f"{self.tag}_{n}"
        b["amount"] = 100 + n % 1000
        return json.dumps(b).encode()

    def _run(self, tid):
        n = 0
        failures_in_row = 0
        while not self.stop_flag.is_set() and failures_in_row < 20:
            n += 1
            idem = f"{self.tag}_{tid}_{n}"
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("POST", "/api/v1/payment-intents",
                             body=self.body(tid * 1000000 + n),
                             headers={"Authorization": "Bearer " + self.key,
                                      "Idempotency-Key": idem,
                                      "Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
                conn.close()
                failures_in_row = 0
                with self.lock:
                    if r.status == 201:
                        self.created[idem] = (json.loads(data)["id"], data,
                                              tid * 1000000 + n)
                    else:
                        self.other.append((idem, r.status, data[:200]))
            except (OSError, http.client.HTTPException):
                failures_in_row += 1
                with self.lock:
                    self.errors += 1

    def start(self):
        for th in self.threads:
            th.start()

    def stop(self):
        self.stop_flag.set()
        for th in self.threads:
            th.join(timeout=60)

    def count(self):
        with self.lock:
            return len(self.created)


def verify_after_restart(t, srv2, load, label):
    """Every create that got 201 is there (same id), with events, and its
    key replays the first body byte for byte."""
    missing, wrong_id, no_events, not_replayed = [], [], [], []
    for idem, (pid, body, n) in sorted(load.created.items()):
        st, _, b = srv2.request("GET", f"/api/v1/payment-intents/{pid}", srv2.auth())
        if st != 200:
            missing.append((idem, pid, st))
            continue
        if json.loads(b).get("id") != pid:
            wrong_id.append(idem)
        st, _, b = srv2.request("GET", f"/api/v1/payment-intents/{pid}/events", srv2.auth())
        if st != 200 or not json.loads(b).get("data"):
            no_events.append((idem, st))
        st, h, b = srv2.request("POST", "/api/v1/payment-intents",
                                srv2.auth({"Idempotency-Key": idem,
                                           "Content-Type": "application/json"}),
                                load.body(n))
        if st != 201 or b != body or h.get("idempotent-replayed") != "true":
            not_replayed.append((idem, st, h.get("idempotent-replayed")))
    t.ok(not missing, f"{label}: every 201 intent is there after the restart", missing[:5])
    t.ok(not wrong_id, f"{label}: with the same id", wrong_id[:5])
    t.ok(not no_events, f"{label}: with its events", no_events[:5])
    t.ok(not not_replayed,
         f"{label}: every key replays the original body byte for byte (Idempotent-Replayed)",
         not_replayed[:5])
