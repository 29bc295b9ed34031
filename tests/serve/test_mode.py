#!/usr/bin/env python3
"""constra serve: sandbox apart from live, the rail a live key needs, the
callback URL with its token, and --callback-timeout (issue 11).

  - --callback-timeout SECONDS reaches /v1/workspace retry_policy; values
    outside 1..86400 are usage errors;
  - the banner prints "Callback URL: <base>/api/v1/providers/mpesa/
    callback?token=..." (no bare "M-Pesa callback:" line), /v1/workspace
    returns the same callback_url and a workspace_id, and a callback
    POSTed to that URL reaches the callback route; --public-url changes
    the base, a malformed one is a usage error;
  - a live key with the simulator is refused (usage error), and so is a
    live key without the Daraja rail's settings (each one named);
  - a live server on the Daraja rail against the Daraja emulator hosted
    by a second server (--emulate-daraja; --rail-url pointing at it)
    takes a payment end to end: push, the emulator's callback to the
    printed URL, confirmation by STK query, succeeded with a receipt;
    simulate-callback refused; no rail secret on stdout or in the log;
  - a sandbox server on the file that live server wrote refuses to start,
    saying the data is live; the live data is intact afterwards.

usage: test_mode.py PATH/TO/constra
"""
import json
import os
import socket
import subprocess
import tempfile
import time

from serve_util import SEED_BODY, Server, Tap, binary_from_argv

PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
CALLBACK_PATH = "/api/v1/providers/mpesa/callback"

t = Tap()
binary = binary_from_argv()


def jbody(b):
    try:
        return json.loads(b)
    except ValueError:
        return {}


def banner_value(srv, label):
    for line in srv.stdout_lines:
        if line.strip().startswith(label):
            return line.split(label, 1)[1].strip()
    return None


def workspace(srv):
    st, _, b = srv.request("GET", "/v1/workspace", srv.auth())
    return st, jbody(b)


def run_fail(args, env=None, timeout=60):
    """Runs `constra serve` expected to refuse: (exit code, stderr)."""
    e = dict(os.environ)
    e.pop("CONSTRA_SECRET_KEY", None)
    for k in list(e):
        if k.startswith("CONSTRA_RAIL_"):
            del e[k]
    if env:
        e.update(env)
    try:
        p = subprocess.run([binary, "serve", "--port", "0", "--access-log", "off"] + args,
                           capture_output=True, env=e, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "still running after %d s" % timeout
    return p.returncode, p.stderr.decode("utf-8", "replace")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def callback_body(checkout):
    return {"Body": {"stkCallback": {
        "MerchantRequestID": "m-1", "CheckoutRequestID": checkout, "ResultCode": 1032,
        "ResultDesc": "Request cancelled by user"}}}


# ---- --callback-timeout ---------------------------------------------------------------------
srv = Server(binary, "--db", ":memory:", "--callback-timeout", "45")
st, ws = workspace(srv)
t.eq(st, 200, "workspace: 200")
t.eq(ws.get("retry_policy", {}).get("callback_timeout_ms"), 45000,
     "--callback-timeout 45 is retry_policy.callback_timeout_ms 45000")

# ---- the callback URL: banner, workspace, reachable ----------------------------------------
out = "\n".join(srv.stdout_lines)
printed = banner_value(srv, "Callback URL:")
want_prefix = f"http://127.0.0.1:{srv.port}{CALLBACK_PATH}?token="
t.ok(printed is not None and printed.startswith(want_prefix) and len(printed) > len(want_prefix) + 15,
     "the banner prints the callback URL with its token", out)
t.ok("M-Pesa callback:" not in out, "no tokenless 'M-Pesa callback:' line any more", out)
t.eq(ws.get("callback_url"), printed, "workspace callback_url is the printed URL")
t.ok(str(ws.get("workspace_id", "")).startswith("ws_"), "workspace has a workspace_id", ws)
t.ok("simulator rail" in srv.stdout_lines[0], "banner names the simulator rail", srv.stdout_lines[0])
path = printed[len(f"http://127.0.0.1:{srv.port}"):] if printed else CALLBACK_PATH
st, _, b = srv.request("POST", path, {"Content-Type": "application/json"},
                       callback_body("ws_CO_unknown_mode_test"))
t.ok(st == 200 and jbody(b).get("ResultCode") == 0,
     "a callback POSTed to the printed URL reaches the callback route (acknowledged)", (st, b))
st2, _, _ = srv.request("GET", "/v1/workspace", srv.auth())
t.eq(st2, 200, "server fine after the callback")
t.eq(srv.stop(), 0, "sandbox server exits 0")

srv = Server(binary, "--db", ":memory:", "--public-url", "https://pay.example.com/base/")
st, ws = workspace(srv)
url = ws.get("callback_url") or ""
t.ok(url.startswith("https://pay.example.com/base" + CALLBACK_PATH + "?token="),
     "--public-url is the callback URL's base (trailing slash dropped)", url)
t.eq(banner_value(srv, "Callback URL:"), url, "the banner prints the same")
t.eq(srv.stop(), 0, "server exits 0")

for bad, what in [(["--callback-timeout", "0"], "0"), (["--callback-timeout", "86401"], "86401"),
                  (["--callback-timeout", "ten"], "ten"), (["--callback-timeout", "-5"], "-5")]:
    rc, err = run_fail(["--db", ":memory:"] + bad)
    t.ok(rc == 2 and "--callback-timeout" in err and "1 to 86400" in err,
         f"--callback-timeout {what}: usage error (exit 2)", (rc, err))
for bad in ["ftp://pay.example.com", "https://pay.example.com/?x=1", "https://a b", "pay.example.com"]:
    rc, err = run_fail(["--db", ":memory:", "--public-url", bad])
    t.ok(rc == 2 and "--public-url" in err, f"--public-url {bad!r}: usage error", (rc, err))

# ---- live needs a real rail -----------------------------------------------------------------
live_key = "cs_live_" + os.urandom(20).hex()
rc, err = run_fail(["--db", ":memory:", "--secret-key", live_key, "--rail", "sim"])
t.ok(rc == 2 and "needs a real rail" in err, "live key with --rail sim: refused (exit 2)", (rc, err))
rc, err = run_fail(["--db", ":memory:", "--secret-key", live_key])
t.ok(rc == 2 and all(x in err for x in ("--public-url", "--rail-consumer-key",
                                          "CONSTRA_RAIL_CONSUMER_SECRET", "--rail-shortcode",
                                          "CONSTRA_RAIL_PASSKEY")),
     "live key without the Daraja settings: refused, each missing one named", (rc, err))
rc, err = run_fail(["--db", ":memory:", "--rail-url", "http://127.0.0.1:1"])
t.ok(rc == 2 and "--rail daraja" in err, "--rail-* on the simulator: usage error", (rc, err))

# ---- a live server on the Daraja rail, against the Daraja emulator -------------------------
# The emulator is hosted by a second `constra serve --emulate-daraja`: a
# server that were its own Daraja would confirm a callback by an STK query
# to itself from inside the callback's request, and curl may send that
# query on a kept-alive connection owned by the very thread that waits
# for it (seen under ASan: the confirmation timed out after 30 s).
consumer_key = "ck_" + os.urandom(6).hex()
consumer_secret = "sec_" + os.urandom(12).hex()
emu = Server(binary, "--db", ":memory:", "--emulate-daraja", "--daraja-consumer-key",
             consumer_key, "--daraja-consumer-secret", consumer_secret,
             "--daraja-result-delay-ms", "500")
daraja = f"http://127.0.0.1:{emu.port}"
tmp = tempfile.mkdtemp(prefix="constra-mode-")
db = os.path.join(tmp, "live.db")
port = free_port()
base = f"http://127.0.0.1:{port}"
rail_env = {"CONSTRA_RAIL_CONSUMER_SECRET": consumer_secret, "CONSTRA_RAIL_PASSKEY": PASSKEY}
live_args = ["--db", db, "--port", str(port), "--callback-timeout", "120",
             "--rail", "daraja", "--rail-env", "sandbox", "--rail-url", daraja,
             "--rail-consumer-key", consumer_key, "--rail-shortcode", "174379",
             "--public-url", base]
live = Server(binary, *live_args, db=db, key=live_key, env=rail_env)
first = live.stdout_lines[0]
t.ok("live mode" in first and f"Daraja rail (sandbox, {daraja}, shortcode 174379)" in first,
     "live banner names the Daraja rail", first)
st, ws = workspace(live)
t.ok(st == 200 and ws.get("livemode") is True and ws.get("rail", {}).get("name") == "mpesa",
     "live workspace: livemode, rail mpesa", ws)
t.ok((ws.get("callback_url") or "").startswith(base + CALLBACK_PATH + "?token="),
     "live workspace callback_url on the public URL", ws)
live_ws_id = ws.get("workspace_id")
body = dict(SEED_BODY)
body["customer"] = {"name": "Amina N.", "phone_number": "254700000001"}
st, _, b = live.create("live-e2e-1", body)
made = jbody(b)
t.ok(st == 201 and made.get("status") == "pending_user_action" and made.get("livemode") is True,
     "live create: 201, pending_user_action (the push went to the emulator)", (st, b))
pid = made.get("id", "pi_missing")
checkout = (made.get("provider_action") or {}).get("checkout_request_id") or ""
t.ok(checkout.startswith("ws_CO_"), "the checkout id is the emulator's", made)
final = {}
deadline = time.time() + 60
while time.time() < deadline:
    st, _, b = live.request("GET", f"/v1/payment-intents/{pid}", live.auth())
    final = jbody(b)
    if final.get("status") not in (None, "pending_user_action"):
        break
    time.sleep(0.25)
t.eq(final.get("status"), "succeeded",
     "the emulator's callback to the printed URL, confirmed by query: succeeded")
receipt = final.get("receipt") or ""
t.ok(len(receipt) == 10 and receipt.isalnum() and receipt.upper() == receipt,
     "the success carries the M-Pesa receipt", final)
log, emu_log = live.access_log(), emu.access_log()
t.ok('"POST /api/v1/providers/mpesa/callback" 200' in log and
     '"POST /mpesa/stkpushquery/v1/query" 200' in emu_log,
     "the callback arrived over HTTP on the callback route and was confirmed by STK query",
     log + emu_log)
st, _, b = live.request("GET", f"/v1/payment-intents/{pid}/events", live.auth())
types = [e.get("type") for e in jbody(b).get("data", [])]
t.ok(types[:1] == ["payment_intent.created"] and types[-1:] == ["payment_intent.succeeded"],
     "its timeline: created ... succeeded", types)
st, _, b = live.request("POST", f"/v1/payment-intents/{pid}/simulate-callback",
                        live.auth({"Content-Type": "application/json"}), {"result_code": 0})
t.eq(st, 403, "simulate-callback refused on the live server")
logs = "\n".join(live.stdout_lines) + live.access_log() + live.stderr()
t.ok(consumer_secret not in logs and PASSKEY not in logs,
     "no rail secret on the live server's stdout, stderr or access log")
t.eq(live.stop(), 0, "live server exits 0")

# ---- a sandbox server on the live file: refused, the live data intact ----------------------
test_key = "cs_test_" + os.urandom(20).hex()
rc, err = run_fail(["--db", db, "--secret-key", test_key])
t.ok(rc == 1 and "holds live data" in err and "cs_test_" in err and "config.mode" in err,
     "a sandbox server on a live file refuses to start, saying the data is live", (rc, err))
t.ok(test_key not in err and live_key not in err, "the refusal shows no key", err)
live = Server(binary, *live_args, db=db, key=live_key, env=rail_env)
st, _, b = live.request("GET", f"/v1/payment-intents/{pid}", live.auth())
again = jbody(b)
t.ok(st == 200 and again.get("status") == "succeeded", "the live intent is intact", (st, b))
st, ws = workspace(live)
t.eq(ws.get("workspace_id"), live_ws_id, "the same workspace id after the refusal")
t.eq(live.stop(), 0, "live server exits 0 again")
# ---- callbacks lost: ?refresh=true settles from the rail ------------------------------------
# A sandbox server on the Daraja rail whose public URL reaches nobody: the
# emulator's callbacks are lost, as when a tunnel is down.
sb_key = "cs_test_" + os.urandom(20).hex()
sb_args = ["--db", ":memory:", "--callback-timeout", "600", "--rail", "daraja", "--rail-env",
           "sandbox", "--rail-url", daraja, "--rail-consumer-key", consumer_key,
           "--rail-shortcode", "174379", "--public-url", "http://127.0.0.1:1"]
sb = Server(binary, *sb_args, key=sb_key, env=rail_env)
st, _, b = sb.create("refresh-1", body)
pid = jbody(b).get("id", "pi_missing")
t.eq(st, 201, "sandbox on the Daraja rail: created (the push went out)")
time.sleep(2.0)
st, _, b = sb.request("GET", f"/v1/payment-intents/{pid}", sb.auth())
t.eq(jbody(b).get("status"), "pending_user_action",
     "its callback was lost: a plain GET still says pending")
st, _, b = sb.request("GET", f"/v1/payment-intents/{pid}?refresh=true", sb.auth())
got = jbody(b)
# Daraja's STK query carries no receipt number: the success is the
# query's ResultCode 0, the receipt comes with a callback if one arrives.
t.ok(st == 200 and got.get("status") == "succeeded" and
     (got.get("provider_result") or {}).get("code") == "0",
     "GET ?refresh=true asks the rail and answers succeeded (result 0 by STK query)", (st, b))
st, _, b = sb.request("GET", f"/v1/payment-intents/{pid}", sb.auth())
t.eq(jbody(b).get("status"), "succeeded", "the settled state is stored")
st, _, b = sb.request("GET", f"/v1/payment-intents/{pid}?refresh=true", sb.auth())
t.eq(jbody(b).get("status"), "succeeded", "a refresh of a settled intent changes nothing")
for q, code in (("refresh=yes", "parameter_invalid"), ("refresh=true&refresh=true",
                                                       "parameter_duplicate"),
                ("nope=1", "parameter_unknown")):
    st, _, b = sb.request("GET", f"/v1/payment-intents/{pid}?{q}", sb.auth())
    t.ok(st == 400 and jbody(b).get("error", {}).get("code") == code,
         f"?{q} -> 400 {code}", b)
st, _, b = sb.request("GET", "/v1/payment-intents/pi_nope?refresh=true", sb.auth())
t.eq(st, 404, "refresh of an unknown id: 404")
t.eq(sb.stop(), 0, "the sandbox Daraja server exits 0")
t.eq(emu.stop(), 0, "the emulator's server exits 0")

t.done()
