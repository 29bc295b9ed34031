#!/usr/bin/env python3
"""constra serve --emulate-daraja: the Daraja emulator over real HTTP at
Daraja's own paths. OAuth (Basic auth; wrong credentials), STK push with
the sandbox shortcode 174379 and its published passkey (accepted; wrong
password, bad phone, bad amount, bad token refused in Daraja's shapes),
STK query (pending, then final), the callback delivered to a CallBackURL
served by this script, the Constra API still behind its key, and no
secret (consumer secret, Basic credentials, access token, STK password,
callback token) in the access log or on stdout.

usage: test_emulator.py PATH/TO/constra
"""
import base64
import http.server
import json
import os
import subprocess
import threading
import time

from serve_util import Server, Tap, binary_from_argv

SHORTCODE = "174379"
PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
DELAY_MS = 1500

t = Tap()
binary = binary_from_argv()

# ---- a CallBackURL of our own ---------------------------------------------------------
received = []
got_callback = threading.Event()


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        received.append((self.path, self.headers.get("Content-Type"), self.rfile.read(n)))
        got_callback.set()
        body = b'{"ResultCode":0,"ResultDesc":"Accepted"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=receiver.serve_forever, daemon=True).start()
cb_token = "cbtok_" + os.urandom(12).hex()
callback_url = f"http://127.0.0.1:{receiver.server_address[1]}/daraja/cb?token={cb_token}"

# ---- the server -----------------------------------------------------------------------
consumer_key = "ck_" + os.urandom(6).hex()
consumer_secret = "cs3cr3t_" + os.urandom(12).hex()
srv = Server(binary, "--db", ":memory:", "--emulate-daraja",
             "--daraja-consumer-key", consumer_key,
             "--daraja-consumer-secret", consumer_secret,
             "--daraja-result-delay-ms", str(DELAY_MS))
out = "\n".join(srv.stdout_lines)
base = f"http://127.0.0.1:{srv.port}"
t.ok(f"Daraja emulator: {base} (shortcode 174379" in out, "prints the emulator's base URL", out)
t.ok(consumer_key in out, "prints the consumer key", out)
t.ok(consumer_secret not in out, "never prints the consumer secret", out)


def basic(key, secret):
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


def jbody(b):
    try:
        return json.loads(b)
    except ValueError:
        return None


# ---- OAuth --------------------------------------------------------------------------------
st, h, b = srv.request("GET", "/oauth/v1/generate?grant_type=client_credentials",
                       {"Authorization": basic(consumer_key, consumer_secret)})
tok = jbody(b) or {}
t.eq(st, 200, "OAuth with the right Basic credentials: 200")
t.ok(isinstance(tok.get("access_token"), str) and len(tok["access_token"]) >= 20
     and str(tok.get("expires_in")) == "3599", "OAuth answers access_token and expires_in", b)
token = tok.get("access_token", "none")
st, h, b = srv.request("GET", "/oauth/v1/generate?grant_type=client_credentials",
                       {"Authorization": basic(consumer_key, "wrong-secret")})
t.ok(st == 400 and b == b"", "OAuth with a wrong secret: 400 with an empty body (Daraja)",
     (st, b))
st, h, b = srv.request("GET", "/oauth/v1/generate?grant_type=client_credentials")
t.ok(400 <= st < 500, "OAuth without credentials: refused", (st, b))
st, h, b = srv.request("GET", "/oauth/v1/generate?grant_type=client_credentials",
                       {"Authorization": "Bearer " + srv.key})
t.ok(400 <= st < 500, "the Constra key is no Daraja credential", (st, b))

# ---- STK push -----------------------------------------------------------------------------


def push(amount=1, phone="254708374149", passkey=PASSKEY, bearer=None, url=callback_url):
    ts = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    pw = base64.b64encode((SHORTCODE + passkey + ts).encode()).decode()
    body = {
        "BusinessShortCode": SHORTCODE, "Password": pw, "Timestamp": ts,
        "TransactionType": "CustomerPayBillOnline", "Amount": amount, "PartyA": phone,
        "PartyB": SHORTCODE, "PhoneNumber": phone, "CallBackURL": url,
        "AccountReference": "order7429", "TransactionDesc": "Deposit",
    }
    st, h, b = srv.request("POST", "/mpesa/stkpush/v1/processrequest",
                           {"Authorization": "Bearer " + (bearer or token),
                            "Content-Type": "application/json"}, body)
    return st, h, b, pw


def error_of(b):
    j = jbody(b) or {}
    return j.get("errorCode"), j.get("errorMessage", "")


st, h, b, pw_bad = push(passkey="0" * 64)
code, msg = error_of(b)
t.ok(st == 500 and code == "500.001.1001" and "Wrong credentials" in msg,
     "push with a wrong password: 500.001.1001 Wrong credentials", (st, b))
st, h, b, _ = push(phone="0712345678")
code, msg = error_of(b)
t.ok(st == 400 and code == "400.002.02" and msg.startswith("Bad Request - Invalid "),
     "push with a bad phone: 400.002.02 Bad Request - Invalid ...", (st, b))
st, h, b, _ = push(amount=0)
code, msg = error_of(b)
t.ok(st == 400 and code == "400.002.02" and "Amount" in msg,
     "push with amount 0: 400.002.02 Invalid Amount", (st, b))
st, h, b, _ = push(bearer="not-a-token")
code, msg = error_of(b)
t.ok(st == 404 and code == "404.001.03", "push with an unknown token: 404.001.03", (st, b))
t.eq(received, [], "no callback for refused pushes (yet)")

st, h, b, password = push()
ack = jbody(b) or {}
checkout = ack.get("CheckoutRequestID")
t.ok(st == 200 and ack.get("ResponseCode") == "0" and isinstance(checkout, str) and checkout
     and ack.get("MerchantRequestID"), "push with the sandbox password: accepted", (st, b))
t.ok("json" in h.get("content-type", ""), "push answer is JSON", h)


# ---- STK query ----------------------------------------------------------------------------
def query():
    ts = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    pw = base64.b64encode((SHORTCODE + PASSKEY + ts).encode()).decode()
    return srv.request("POST", "/mpesa/stkpushquery/v1/query",
                       {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
                       {"BusinessShortCode": SHORTCODE, "Password": pw, "Timestamp": ts,
                        "CheckoutRequestID": checkout or "ws_CO_none"})


st, h, b = query()
j = jbody(b) or {}
pending = (st == 500 and j.get("errorCode") == "500.001.1001") or \
    (st == 200 and j.get("ResultCode") == "4999")
t.ok(pending, "query right after the push: pending", (st, b))

t.ok(got_callback.wait(DELAY_MS / 1000 + 8), "the callback reaches the CallBackURL")
final = None
deadline = time.time() + 10
while time.time() < deadline:
    st, h, b = query()
    j = jbody(b) or {}
    if st == 200 and j.get("ResultCode") not in (None, "4999"):
        final = j
        break
    time.sleep(0.3)
t.ok(final is not None and final.get("ResultCode") == "0" and final.get("CheckoutRequestID")
     == checkout, "query after the delay: final, ResultCode 0", final)

if received:
    path, ctype, raw = received[0]
    t.eq(path, f"/daraja/cb?token={cb_token}", "callback POSTed to the CallBackURL, query kept")
    t.ok(ctype and "application/json" in ctype, "callback is JSON", ctype)
    cb = (jbody(raw) or {}).get("Body", {}).get("stkCallback", {})
    t.ok(cb.get("CheckoutRequestID") == checkout and cb.get("MerchantRequestID")
         == ack.get("MerchantRequestID") and cb.get("ResultCode") == 0
         and isinstance(cb.get("ResultDesc"), str), "callback has Daraja's stkCallback shape", raw)
    items = {i.get("Name"): i.get("Value")
             for i in cb.get("CallbackMetadata", {}).get("Item", [])}
    t.ok(items.get("Amount") == 1 and str(items.get("PhoneNumber")) == "254708374149"
         and items.get("MpesaReceiptNumber"), "callback metadata: amount, phone, receipt", items)
else:
    for name in ("path", "json", "shape", "metadata"):
        t.ok(False, "callback received: " + name)
time.sleep(0.6)
t.eq(len(received), 1, "exactly one callback")

# ---- the rest of the server is unchanged ---------------------------------------------------
st, h, b = srv.request("GET", "/api/v1/payment-intents")
t.eq(st, 401, "the Constra API still wants the Constra key")
st, h, b = srv.request("GET", "/api/v1/payment-intents", srv.auth())
t.eq(st, 200, "the Constra API works next to the emulator")
st, h, b = srv.request("GET", "/mpesa/other/v1/path", {"Authorization": "Bearer " + token})
t.ok(st in (401, 404) and "error" in (jbody(b) or {}) and "errorCode" not in (jbody(b) or {}),
     "other /mpesa paths go to the Constra router, not the emulator", (st, b))

rc = srv.stop()
t.eq(rc, 0, "SIGTERM: exits 0 (ASan: no leak)")
log = srv.access_log()
t.ok('"POST /mpesa/stkpush/v1/processrequest" 200' in log
     and '"GET /oauth/v1/generate" 200' in log
     and '"POST /mpesa/stkpushquery/v1/query" 200' in log, "emulator requests are logged", log)
basic_b64 = basic(consumer_key, consumer_secret).split(" ", 1)[1]
everything = log + srv.stderr() + out
leaks = [name for name, s in (("consumer secret", consumer_secret), ("Basic credentials", basic_b64),
                              ("access token", token), ("STK password", password),
                              ("callback token", cb_token), ("grant_type query", "grant_type"))
         if s and s in everything]
t.eq(leaks, [], "no secret in the access log, stderr or stdout")
receiver.shutdown()

# ---- options ---------------------------------------------------------------------------------
p = subprocess.run([binary, "serve", "--port", "0", "--db", ":memory:",
                    "--daraja-consumer-key", "k"], capture_output=True, timeout=30)
t.ok(p.returncode == 2 and b"--emulate-daraja" in p.stderr,
     "--daraja-* without --emulate-daraja: usage error", (p.returncode, p.stderr))

srv2 = Server(binary, "--db", ":memory:")
st, h, b = srv2.request("GET", "/oauth/v1/generate?grant_type=client_credentials",
                        {"Authorization": basic("emulator-consumer-key",
                                                "emulator-consumer-secret")})
t.ok(st in (401, 404) and "error" in (jbody(b) or {}) and "errorCode" not in (jbody(b) or {}),
     "without --emulate-daraja the Daraja paths are the router's", (st, b))
srv2.stop()

srv3 = Server(binary, "--db", ":memory:", "--emulate-daraja")
out3 = "\n".join(srv3.stdout_lines)
t.ok("consumer key emulator-consumer-key" in out3 and "emulator-consumer-secret" not in out3,
     "defaults: the documented key printed, the secret not", out3)
st, h, b = srv3.request("GET", "/oauth/v1/generate?grant_type=client_credentials",
                        {"Authorization": basic("emulator-consumer-key",
                                                "emulator-consumer-secret")})
t.eq(st, 200, "defaults: OAuth with the documented test credentials")
rc3 = srv3.stop()
t.ok(rc3 == 0, "default emulator: exits 0", (rc3, srv3.stderr()[-4000:]))

t.done()
