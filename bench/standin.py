#!/usr/bin/env python3
"""A STAND-IN, not libconstra: the least a payment-intent create must do
over HTTP, in Python's standard library, as the reference bench/serve
measures `constra serve` against (issue 12). POST /api/v1/payment-intents
with a bearer key and an Idempotency-Key: in ONE SQLite transaction
(WAL, synchronous=FULL, BEGIN IMMEDIATE) it looks the key up, and either
answers the stored response or inserts the intent and the key with its
response. No payment rail, no state machine, no events, no webhooks, no
framing checks: a floor, not a rival.

usage: standin.py DB_PATH SECRET_KEY   (prints "listening on http://127.0.0.1:PORT")
"""
import json
import os
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DB, KEY = sys.argv[1], sys.argv[2]
local = threading.local()


def db():
    if not hasattr(local, "con"):
        con = sqlite3.connect(DB, isolation_level=None, timeout=5)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        local.con = con
    return local.con


setup = db()
setup.execute("CREATE TABLE IF NOT EXISTS intents (id TEXT PRIMARY KEY, doc TEXT)")
setup.execute("CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY, response TEXT)")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if self.headers.get("Authorization") != "Bearer " + KEY:
            return self.answer(401, '{"error":{"code":"authentication_required"}}')
        key = self.headers.get("Idempotency-Key")
        if self.path != "/api/v1/payment-intents" or not key:
            return self.answer(400, '{"error":{"code":"parameter_missing"}}')
        try:
            req = json.loads(raw)
        except ValueError:
            return self.answer(400, '{"error":{"code":"body_invalid"}}')
        con = db()
        con.execute("BEGIN IMMEDIATE")
        try:
            row = con.execute("SELECT response FROM keys WHERE key = ?", (key,)).fetchone()
            if row:
                con.execute("COMMIT")
                return self.answer(201, row[0])
            intent = {"id": "pi_" + os.urandom(13).hex(), "object": "payment_intent",
                      "status": "pending_user_action", "amount": req.get("amount"),
                      "currency": req.get("currency"), "customer": req.get("customer"),
                      "reference": req.get("reference")}
            doc = json.dumps(intent, separators=(",", ":"))
            con.execute("INSERT INTO intents VALUES (?, ?)", (intent["id"], doc))
            con.execute("INSERT INTO keys VALUES (?, ?)", (key, doc))
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        return self.answer(201, doc)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
