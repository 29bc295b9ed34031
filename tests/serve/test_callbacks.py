#!/usr/bin/env python3
"""constra serve: the money-safety scenarios of issue 11, replayed against
the real server over HTTP, on a SQLite file.

  - forged callbacks (no token, a wrong one, one of the wrong case, the
    token in a header instead of the URL, a text/plain body as a browser's
    no-cors fetch sends it) on every callback path: 401 with the JSON error,
    the intent and its timeline unchanged, nothing stored, only the
    overview's refused counter moves; 300 guesses leave storage as it was;
  - an authenticated success without a receipt: review_required,
    success_without_receipt;
  - a genuine success after the callback time-out: review_required,
    late_success, the receipt kept, retry refused;
  - 1032 on attempt 1, retry, success on attempt 1 then on attempt 2:
    succeeded on attempt 1's receipt, then review_required paid_twice with
    both receipts; the same receipt again is a duplicate, never a third
    payment; retry stays refused;
  - the simulator's checkout ids carry 80 random bits: 200 ids, no two
    alike, no shared 20-hex tail prefix beyond chance;
  - everything above holds after a restart on the same file.

usage: test_callbacks.py PATH/TO/constra
"""
import json
import os
import tempfile
import time
import urllib.parse

from serve_util import SEED_BODY, Server, Tap, binary_from_argv, error_code

PATHS = ["/api/v1/providers/mpesa/callback", "/v1/providers/mpesa/callback",
         "/api/v1/mpesa/callback"]
PHONE_PENDING = "254700000000"  # not a magic number: waits for its callback

t = Tap()
binary = binary_from_argv()


def jbody(b):
    try:
        return json.loads(b)
    except ValueError:
        return {}


def stk(checkout, code, receipt=None, amount=1250, phone=PHONE_PENDING):
    cb = {"MerchantRequestID": "m-" + checkout[-6:], "CheckoutRequestID": checkout,
          "ResultCode": code, "ResultDesc": "ok" if code == 0 else "cancelled"}
    if code == 0 and receipt is not None:
        cb["CallbackMetadata"] = {"Item": [
            {"Name": "Amount", "Value": amount},
            {"Name": "MpesaReceiptNumber", "Value": receipt},
            {"Name": "TransactionDate", "Value": 20261204120000},
            {"Name": "PhoneNumber", "Value": int(phone)}]}
    return {"Body": {"stkCallback": cb}}


class Run:
    def __init__(self, srv):
        self.srv = srv
        st, _, b = srv.request("GET", "/v1/workspace", srv.auth())
        url = jbody(b).get("callback_url") or ""
        q = urllib.parse.urlparse(url).query
        self.token = urllib.parse.parse_qs(q).get("token", [""])[0]
        self.callback_path = urllib.parse.urlparse(url).path

    def create(self, key, **over):
        body = dict(SEED_BODY, customer={"name": "Amina N.", "phone_number": PHONE_PENDING},
                    agent_policy="operator_review")
        body.update(over)
        st, _, b = self.srv.create(key, body=body)
        return st, jbody(b)

    def get(self, pid):
        st, _, b = self.srv.request("GET", f"/v1/payment-intents/{pid}", self.srv.auth())
        return jbody(b) if st == 200 else {}

    def events(self, pid):
        st, _, b = self.srv.request("GET", f"/v1/payment-intents/{pid}/events", self.srv.auth())
        return [e.get("type") or "" for e in jbody(b).get("data", [])] if st == 200 else None

    def overview(self):
        st, _, b = self.srv.request("GET", "/v1/sandbox/overview", self.srv.auth())
        return jbody(b).get("callbacks", {}) if st == 200 else {}

    def post(self, path, body, query="", ctype="application/json", headers=None):
        h = {"Content-Type": ctype}
        if headers:
            h.update(headers)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        st, _, b = self.srv.request("POST", path + query, h, data)
        return st, b

    def callback(self, body):
        return self.post(self.callback_path, body, "?token=" + self.token)

    def action(self, pid, action, body=None):
        st, _, b = self.srv.request("POST", f"/v1/payment-intents/{pid}/{action}",
                                    self.srv.auth({"Content-Type": "application/json"}),
                                    body if body is not None else {})
        return st, jbody(b)

    def checkout(self, pi, index=-1):
        atts = pi.get("attempts") or []
        return atts[index].get("checkout_request_id") if atts else None


tmp_db = os.path.join(tempfile.mkdtemp(prefix="constra-cb-"), "cb.db")
# The per-client limit is off: every request here comes from 127.0.0.1, and
# a 429 would hide what the callback route itself answers.
srv = Server(binary, "--db", tmp_db, "--callback-timeout", "2", "--rate-limit", "0")
r = Run(srv)
t.ok(len(r.token) >= 32 and r.callback_path in PATHS,
     "the workspace hands out a callback URL with a token", (r.callback_path, len(r.token)))

# ---- forged callbacks store nothing --------------------------------------------------------
st, pi = r.create("forge_1")
pid = pi.get("id")
co = r.checkout(pi)
t.ok(st == 201 and pi.get("status") == "pending_user_action" and co,
     "an intent waits for its callback", (st, pi.get("status")))
before_pi, before_ev = r.get(pid), r.events(pid)
before_cb = r.overview()
wrong = "0" * len(r.token)
forgeries = [("no token", "", "application/json", None),
             ("empty token", "?token=", "application/json", None),
             ("wrong token", "?token=" + wrong, "application/json", None),
             ("upper-cased token", "?token=" + r.token.upper(), "application/json", None),
             ("token prefix", "?token=" + r.token[:-1], "application/json", None),
             ("token in a header", "", "application/json", {"X-Callback-Token": r.token}),
             ("text/plain, no token (no-cors fetch)", "", "text/plain", None),
             ("text/plain, wrong token", "?token=" + wrong, "text/plain", None)]
refused = 0
for path in PATHS:
    for name, query, ctype, hdr in forgeries:
        st, b = r.post(path, stk(co, 0, "SFORGED001"), query, ctype, hdr)
        refused += 1
        t.ok(st == 401 and error_code(b) is not None,
             f"{path}: {name}: 401 with the JSON error", (st, b[:200]))
after_pi = r.get(pid)
t.eq(after_pi.get("status"), "pending_user_action", "forgeries leave the intent pending")
t.eq(after_pi.get("receipts"), [], "forgeries record no receipt")
t.eq(after_pi.get("updated_at"), before_pi.get("updated_at"), "the intent was not rewritten")
t.eq(r.events(pid), before_ev, "forgeries add no event to the timeline")
cb = r.overview()
t.eq(cb.get("refused", 0) - before_cb.get("refused", 0), refused,
     "every forgery counted as refused")
t.eq((cb.get("total"), cb.get("unmatched")), (before_cb.get("total"), before_cb.get("unmatched")),
     "forgeries stored no callback, matched or not")

# Guesses at other checkout ids, with and without a token: nothing grows.
size_before = os.path.getsize(tmp_db)
guess_statuses = set()
for i in range(300):
    st, _ = r.post(PATHS[i % 3], stk("ws_CO_04122026120000%020x" % i, 0, "SGUESS%04d" % i),
                   "?token=" + wrong if i % 2 else "")
    guess_statuses.add(st)
t.eq(guess_statuses, {401}, "300 guessed callbacks: all 401")
cb2 = r.overview()
t.eq(cb2.get("unmatched"), cb.get("unmatched"), "guesses stored no unmatched callback")
t.ok(os.path.getsize(tmp_db) <= size_before + 64 * 1024,
     "the database did not grow with the guesses",
     (size_before, os.path.getsize(tmp_db)))

# ---- no success without proof -----------------------------------------------------------------
st, b = r.callback(stk(co, 0, None))
pi2 = r.get(pid)
rec = pi2.get("recovery") or {}
t.ok(st == 200 and pi2.get("status") == "review_required" and
     rec.get("reason") == "success_without_receipt",
     "an authenticated success without a receipt: review_required, success_without_receipt",
     (st, pi2.get("status"), rec))
st, _ = r.action(pid, "retry")
t.ok(st >= 400, "retry refused while the intent is in review", st)

# ---- a genuine late success after the time-out --------------------------------------------------
st, pi = r.create("late_1")
late_id, late_co = pi.get("id"), r.checkout(pi)
deadline = time.time() + 30
while time.time() < deadline and r.get(late_id).get("status") != "requires_recovery":
    time.sleep(0.25)
t.eq(r.get(late_id).get("status"), "requires_recovery",
     "the callback time-out (2 s) puts the intent in requires_recovery")
st, b = r.callback(stk(late_co, 0, "SLATE00001"))
late = r.get(late_id)
rec = late.get("recovery") or {}
t.ok(st == 200 and late.get("status") == "review_required" and rec.get("reason") == "late_success",
     "the late success: review_required, late_success", (st, late.get("status"), rec))
t.eq(late.get("receipts"), ["SLATE00001"], "the late receipt is kept")
t.ok(bool(rec.get("agent_note")), "the agent note says what a person should do", rec)
t.ok(rec.get("retry_allowed") is False, "retry_allowed is false", rec)
st, _ = r.action(late_id, "retry")
t.ok(st >= 400, "retry refused: no second push after a late payment", st)
t.eq(len(r.get(late_id).get("attempts") or []), 1, "still one attempt")
t.ok(not any(e.endswith("callback_duplicate") for e in r.events(late_id) or []),
     "the late success is not recorded as a duplicate", r.events(late_id))

# ---- paid on a superseded attempt, then paid twice ------------------------------------------------
st, pi = r.create("twice_1")
tw_id, co1 = pi.get("id"), r.checkout(pi)
st, b = r.callback(stk(co1, 1032))
t.eq(r.get(tw_id).get("status"), "requires_recovery", "1032 on attempt 1: requires_recovery")
st, after = r.action(tw_id, "retry")
co2 = r.checkout(after)
t.ok(st == 200 and co2 and co2 != co1 and after.get("status") == "pending_user_action",
     "retry sends attempt 2 with a new checkout id", (st, after.get("status")))
st, _ = r.callback(stk(co1, 0, "SFIRST0001"))
one = r.get(tw_id)
t.ok(st == 200 and one.get("status") == "succeeded" and one.get("receipt") == "SFIRST0001",
     "success on attempt 1 while attempt 2 waits: succeeded on attempt 1's receipt",
     (st, one.get("status"), one.get("receipt")))
st, _ = r.callback(stk(co2, 0, "SSECOND001"))
two = r.get(tw_id)
rec = two.get("recovery") or {}
t.ok(two.get("status") == "review_required" and rec.get("reason") == "paid_twice",
     "success on attempt 2 as well: review_required, paid_twice", (two.get("status"), rec))
t.eq(sorted(two.get("receipts") or []), ["SFIRST0001", "SSECOND001"],
     "both receipts on the intent")
st, _ = r.callback(stk(co2, 0, "SSECOND001"))
t.eq(sorted(r.get(tw_id).get("receipts") or []), ["SFIRST0001", "SSECOND001"],
     "the same receipt again is a duplicate, not a third payment")
st, _ = r.action(tw_id, "retry")
t.ok(st >= 400, "retry refused after a double payment", st)
t.ok(any(e.endswith("callback_duplicate") for e in r.events(tw_id) or []), "the duplicate is in the timeline",
     r.events(tw_id))

# ---- the simulator's ids are not guessable --------------------------------------------------------
ids = []
for i in range(200):
    st, pi = r.create(f"ids_{i}")
    if st == 201:
        ids.append(r.checkout(pi) or "")
tails = [c[-20:] for c in ids]
t.ok(len(ids) == 200 and len(set(ids)) == 200, "200 checkout ids, all different", len(set(ids)))
t.ok(all(len(c) == len("ws_CO_") + 14 + 20 and all(ch in "0123456789abcdef" for ch in c[-20:])
         for c in ids), "each ends in 20 hex digits (80 random bits)", ids[:3])
t.ok(len({tl[:4] for tl in tails}) > 150,
     "the random parts do not share a prefix (not a counter)", sorted(tails)[:5])

# ---- after a restart on the same file -----------------------------------------------------------------
t.eq(srv.stop(), 0, "the server stops cleanly")
srv = Server(binary, "--db", tmp_db, "--callback-timeout", "2", "--rate-limit", "0", key=srv.key)
r2 = Run(srv)
t.eq(r2.token, r.token, "the same key gives the same callback token after a restart")
t.eq(sorted(r2.get(tw_id).get("receipts") or []), ["SFIRST0001", "SSECOND001"],
     "the double payment's receipts survive the restart")
st, _ = r2.callback(stk(co1, 0, "SFIRST0001"))
t.eq(sorted(r2.get(tw_id).get("receipts") or []), ["SFIRST0001", "SSECOND001"],
     "attempt 1's checkout is still found after a restart: duplicate")
st, b = r2.post(PATHS[0], stk(co2, 0, "SFORGED002"), "?token=" + wrong)
t.eq(st, 401, "forgery after the restart: 401")
t.eq(r2.get(late_id).get("status"), "review_required", "the late success's review survives")
t.eq(srv.stop(), 0, "the restarted server stops cleanly")
t.done()
