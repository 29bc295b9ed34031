#!/usr/bin/env python3
"""The idempotency lease (issue 11, item 5) through `constra serve` on a
file: keys left in flight by a killed server answer definitely once the
lease (60 s by default) has passed, and not before.

The killed server is modelled by editing the SQLite file while no server
runs, so the test needs no luck with SIGKILL timing and no 60 s wait:
  - `linked`: killed after its push (the intent exists, the key names it,
    the outcome was never recorded), 61 s ago -> 201 with that intent,
    Idempotent-Replayed, never a second intent;
  - `bare`: killed between the reservation and the first commit (nothing
    created), 61 s ago -> the request runs afresh: 201, a new intent;
  - `young`: as `linked`, but reserved just now -> 409 in flight;
  - `old`: reserved by 0.1, which linked nothing (lease == expiry), 61 s
    ago -> still 409 in flight (its intent may exist: never run twice).

usage: test_lease.py PATH/TO/constra
"""
import json
import sqlite3
import time

from serve_util import SEED_BODY, Server, Tap, binary_from_argv, error_code

t = Tap()
binary = binary_from_argv()

srv = Server(binary, "--rate-limit", "0")
db, key = srv.db, srv.key
ids = {}
for k in ("linked", "bare", "young", "old"):
    st, _, body = srv.create(k)
    t.eq(st, 201, f"{k}: created")
    ids[k] = json.loads(body)["id"]
t.eq(srv.stop(), 0, "the first server stops cleanly")

IN_FLIGHT = 1


def idem_read(con, k):
    """The key's record (kind "idempotency", lib/storage/on_records.c): six
    NUL-terminated fields (fingerprint, state, http status, created,
    expires, lease expires), then the response bytes."""
    doc = con.execute("SELECT document FROM rs_records WHERE kind = 'idempotency' AND id = ?",
                      (k,)).fetchone()[0]
    parts = bytes(doc).split(b"\0", 6)
    fields = [parts[0].decode()] + [int(x) for x in parts[1:6]]
    return fields, parts[6]


def idem_write(con, k, state, http_status, response, created, lease=None):
    (fp, _, _, _, expires, old_lease), _ = idem_read(con, k)
    lease = old_lease if lease is None else lease
    doc = b"".join(str(v).encode() + b"\0" for v in (fp, state, http_status, created, expires,
                                                      lease)) + (response or b"")
    # The record dies with the key, or with its lease while in flight
    # (idem_death in on_records.c).
    death = expires
    if state == IN_FLIGHT and lease > 0 and (death == 0 or lease < death):
        death = lease
    con.execute("UPDATE rs_records SET document = ?, expires_at = ?, version = version + 1"
                " WHERE kind = 'idempotency' AND id = ?", (doc, death, k))


def intent_delete(con, iid):
    """The intent, its checkout references, their index entries, its events."""
    refs = [r[0] for r in con.execute("SELECT id FROM rs_records WHERE kind = 'checkout_ref'"
                                      " AND CAST(document AS TEXT) = ?", (iid,))]
    for kind, rid in [("intent", iid)] + [("checkout_ref", r) for r in refs]:
        con.execute("DELETE FROM rs_keys WHERE kind = ? AND id = ?", (kind, rid))
        con.execute("DELETE FROM rs_records WHERE kind = ? AND id = ?", (kind, rid))
    con.execute("DELETE FROM rs_events WHERE stream = ?", (iid,))


now = int(time.time() * 1000)
con = sqlite3.connect(db)
with con:
    for k, age in (("linked", 61000), ("young", 0)):
        idem_write(con, k, IN_FLIGHT, 0,
                   json.dumps({"id": ids[k]}, separators=(",", ":")).encode(), now - age)
    intent_delete(con, ids["bare"])
    idem_write(con, "bare", IN_FLIGHT, 0, b"", now - 61000)
    expires = idem_read(con, "old")[0][4]
    idem_write(con, "old", IN_FLIGHT, 0, b"", now - 61000, lease=expires)
rows = {k: int(idem_read(con, k)[0][5] > idem_read(con, k)[0][4])
        for k in ("linked", "bare", "young", "old")}
con.close()
t.eq(rows, {"linked": 1, "bare": 1, "young": 1, "old": 0},
     "the server reserves with its lease marker (lease past expiry); 'old' is 0.1's")

srv = Server(binary, "--rate-limit", "0", db=db, key=key)
st, h, body = srv.create("linked")
t.eq(st, 201, "linked, after the lease: 201")
t.eq(h.get("idempotent-replayed"), "true", "linked: replayed")
first = body
t.eq(json.loads(body)["id"], ids["linked"], "linked: the intent the killed request created")
st, h, body = srv.create("linked")
t.ok(st == 201 and body == first, "linked: the same bytes again", (st, body[:200]))

st, h, body = srv.create("bare")
t.eq(st, 201, "bare, after the lease: 201")
t.ok(h.get("idempotent-replayed") is None, "bare: a fresh run, not a replay")
fresh = json.loads(body)
t.ok(fresh["id"] != ids["bare"] and fresh["status"] == "pending_user_action",
     "bare: a new intent, prompt sent", fresh)
st, h, body = srv.create("bare")
t.ok(st == 201 and h.get("idempotent-replayed") == "true" and json.loads(body)["id"] == fresh["id"],
     "bare: from then on replayed", (st, h))

st, _, body = srv.create("young")
t.eq((st, error_code(body)), (409, "idempotent_request_in_flight"), "young: within the lease, 409")
st, _, body = srv.create("old")
t.eq((st, error_code(body)), (409, "idempotent_request_in_flight"),
     "old (0.1, unlinked): still 409, never run twice")

other = dict(SEED_BODY, amount=99)
st, _, body = srv.create("linked", other)
t.eq((st, error_code(body)), (409, "idempotency_key_reused"), "another request under a key: 409 reused")

st, _, body = srv.request("GET", "/api/v1/payment-intents?limit=100", srv.auth())
listed = sorted(i["id"] for i in json.loads(body)["data"])
t.eq(listed, sorted([ids["linked"], ids["young"], ids["old"], fresh["id"]]),
     "one intent per key, nothing created twice")
t.eq(srv.stop(), 0, "the server stops cleanly")
t.ok("Sanitizer" not in srv.stderr(), "no sanitizer report", srv.stderr()[-3000:])
t.done()
