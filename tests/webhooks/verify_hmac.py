#!/usr/bin/env python3
"""Independent verifier of libconstra webhook deliveries (stdlib only).

Usage: verify_hmac.py FILE
FILE is JSON written by test_webhooks.c:
  {"secret": "...", "deliveries": [{"headers": {name: value}, "body_hex": "..."}]}
Checks every delivery's Constra-Signature (t=,v1=), Constra-Signature-Body
and, when present, the Standard Webhooks signature, with Python's hmac;
then proves the checks can fail: a one-byte change of each body must
break all of them. Exit 0 when all hold, 1 otherwise (reasons on stderr).
"""
import base64
import hashlib
import hmac
import json
import sys


def check(secret, headers, body):
    """The list of failures for one delivery (empty when valid)."""
    h = {k.lower(): v for k, v in headers.items()}
    bad = []
    parts = dict(p.split("=", 1) for p in h["constra-signature"].split(","))
    t = parts["t"]
    want = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, parts["v1"]):
        bad.append("Constra-Signature")
    want = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, h["constra-signature-body"]):
        bad.append("Constra-Signature-Body")
    if "webhook-signature" in h:
        key = base64.b64decode(secret[len("whsec_"):])
        signed = h["webhook-id"].encode() + b"." + h["webhook-timestamp"].encode() + b"." + body
        want = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(want, h["webhook-signature"]):
            bad.append("webhook-signature")
        if h["webhook-id"] != h["constra-delivery-id"]:
            bad.append("webhook-id")
    return bad


def main():
    with open(sys.argv[1], encoding="ascii") as f:
        doc = json.load(f)
    secret = doc["secret"]
    if not doc["deliveries"]:
        print("no deliveries to verify", file=sys.stderr)
        return 1
    failures = 0
    for i, d in enumerate(doc["deliveries"]):
        body = bytes.fromhex(d["body_hex"])
        bad = check(secret, d["headers"], body)
        if bad:
            print(f"delivery {i}: bad {', '.join(bad)}", file=sys.stderr)
            failures += 1
        tampered = bytes([body[0] ^ 1]) + body[1:]
        expect = 3 if "webhook-signature" in {k.lower() for k in d["headers"]} else 2
        if len(check(secret, d["headers"], tampered)) != expect:
            print(f"delivery {i}: a tampered body still verifies", file=sys.stderr)
            failures += 1
        json.loads(body)  # the body is JSON
    print(f"verified {len(doc['deliveries'])} deliveries, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
