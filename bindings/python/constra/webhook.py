"""Webhook signatures (include/constra/webhook_signature.h): verify before parsing.

Pass the body exactly as it came over the wire, as ``bytes``: a body
decoded and re-encoded, or parsed and re-serialised, is no longer what was
signed. A ``str`` body is accepted and encoded as UTF-8.
"""
from __future__ import annotations

import ctypes
import time
from typing import Any, Mapping, Optional, Union

from . import _native as N
from ._object import loads
from ._text import body_bytes, cint, cstr
from .errors import from_error, wrong_type

INT64_MAX = 2**63 - 1
SCHEMES = ("t_v1", "body_hex", "standard_webhooks")


def _scheme(name: object) -> int:
    raw = cstr(name, "scheme", required=True)
    out = ctypes.c_int(0)
    err = N.new_error()
    rc = N.webhook_scheme_from_name(raw, ctypes.byref(out), ctypes.byref(err))
    if rc != N.OK:
        raise from_error(rc, err)
    return out.value


def _header(headers: Optional[Mapping[str, str]], name: str) -> Optional[str]:
    if headers is None:
        return None
    if not isinstance(headers, Mapping):
        raise wrong_type("headers", "a mapping", headers)
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return value
    return None


def _params(body: object, secret: object, scheme: object):
    raw = body_bytes(body)
    p = N.init_struct(N.webhook_params_init, N.WebhookParams)
    p.scheme = _scheme(scheme)
    p.secret = cstr(secret, "secret", required=True)
    buf = (ctypes.c_uint8 * max(1, len(raw))).from_buffer_copy(raw.ljust(1, b"\0"))
    p.body = ctypes.cast(buf, ctypes.POINTER(ctypes.c_uint8))
    p.body_len = len(raw)
    return p, buf


def verify_webhook(body: Union[bytes, str], signature: Optional[str] = None, *,
                   secret: str, scheme: str = "t_v1",
                   headers: Optional[Mapping[str, str]] = None,
                   msg_id: Optional[str] = None, timestamp: Optional[str] = None,
                   now: Optional[int] = None, tolerance: int = 0) -> Any:
    """Verifies a webhook delivery; returns the parsed event when it is
    authentic (a :class:`ConstraObject`: ``event.type``,
    ``event.data.payment_intent_id``; None for an authentic body that is not
    JSON, such as a bare test vector) and raises :class:`~constra.errors.SignatureError` when it must be rejected
    (``code``: signature_malformed, signature_expired, signature_future,
    signature_mismatch) or InvalidArgumentError for a caller error
    (``secret_invalid``, ...).

    ``scheme``: "t_v1" (``signature`` is the Constra-Signature /
    Stripe-Signature value "t=...,v1=..."), "body_hex", or
    "standard_webhooks" (``msg_id``, ``timestamp`` and ``signature`` are the
    webhook-id, webhook-timestamp and webhook-signature headers; or pass
    ``headers`` and they are read from it). ``now`` (Unix seconds) defaults
    to the current time; ``tolerance`` 0 means 300 seconds.
    An absent signature verifies as malformed, never as valid."""
    if signature is None:
        signature = _header(headers, "webhook-signature" if scheme == "standard_webhooks"
                            else "constra-signature")
    if msg_id is None:
        msg_id = _header(headers, "webhook-id")
    if timestamp is None:
        timestamp = _header(headers, "webhook-timestamp")
    p, keep = _params(body, secret, scheme)
    sig = cstr("" if signature is None else signature, "signature")
    mid = cstr(msg_id, "msg_id")
    ts = cstr(timestamp, "timestamp_header")
    p.signature, p.msg_id, p.timestamp_header = sig, mid, ts
    p.now = int(time.time()) if now is None else cint(now, "now", lo=0, hi=INT64_MAX)
    p.tolerance_s = cint(tolerance, "tolerance", lo=0, hi=INT64_MAX)
    reason = ctypes.c_int(0)
    err = N.new_error()
    rc = N.webhook_verify(ctypes.byref(p), ctypes.byref(reason), ctypes.byref(err))
    del keep
    if rc != N.OK:
        raise from_error(rc, err)
    # Parsed only once authentic: nothing of an unverified body is read.
    try:
        return loads(body_bytes(body))
    except ValueError:
        return None


def sign_webhook(body: Union[bytes, str], *, secret: str, scheme: str = "t_v1",
                 timestamp: Optional[int] = None, msg_id: Optional[str] = None) -> str:
    """The signature header value for ``body``: t_v1 "t=<ts>,v1=<hex>",
    body_hex "<hex>", standard_webhooks "v1,<base64>" (needs ``msg_id``).
    ``timestamp`` (Unix seconds) defaults to now."""
    p, keep = _params(body, secret, scheme)
    p.msg_id = cstr(msg_id, "msg_id")
    p.timestamp = (int(time.time()) if timestamp is None
                   else cint(timestamp, "timestamp", lo=0, hi=INT64_MAX))
    out = ctypes.create_string_buffer(128)  # CONSTRA_WEBHOOK_SIGNATURE_SIZE
    err = N.new_error()
    rc = N.webhook_sign(ctypes.byref(p), out, len(out), ctypes.byref(err))
    del keep
    if rc != N.OK:
        raise from_error(rc, err)
    return out.value.decode("ascii")


__all__ = ["verify_webhook", "sign_webhook", "SCHEMES"]
