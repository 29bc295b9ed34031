"""M-Pesa knowledge: result codes and phone numbers."""
from __future__ import annotations

import ctypes
from typing import Any, Dict, Optional, Union

from . import _native as N
from ._object import ConstraObject
from ._text import cstr
from .errors import from_error, wrong_type

_NTS = ctypes.c_size_t(-1).value  # CONSTRA_MPESA_CODE_NTS


def decode_result(code: Union[int, str], *, api: str = "auto",
                  message: Optional[str] = None) -> Dict[str, Any]:
    """What an M-Pesa result code means: {"code", "api", "outcome",
    "known", "retry_allowed", "description", "recovery_note",
    "recommended_action", "message_match"}. ``api``: "auto", "stk",
    "b2c", "c2b" or "sync"; ``message`` the ResultDesc / errorMessage for
    codes whose meaning depends on it. An unknown code is not an error: it
    decodes as known=False, outcome "review_required"."""
    if isinstance(code, bool) or not isinstance(code, (int, str)):
        raise wrong_type("code", "an int or str", code)
    raw = cstr(str(code), "code", required=True)
    api_raw = cstr(api, "api", required=True)
    err = N.new_error()
    api_val = ctypes.c_int(0)
    rc = N.mpesa_api_parse(api_raw, ctypes.byref(api_val), ctypes.byref(err))
    if rc != N.OK:
        raise from_error(rc, err)
    info = N.init_struct(N.result_info_init, N.ResultInfo)
    rc = N.result_lookup(raw, _NTS, api_val.value, cstr(message, "message"),
                         ctypes.byref(info), ctypes.byref(err))
    if rc != N.OK:
        raise from_error(rc, err)

    def s(v: Optional[bytes]) -> str:
        return v.decode("utf-8") if v else ""

    return ConstraObject({"code": s(info.code), "api": s(N.mpesa_api_name(info.api)),
            "outcome": s(N.outcome_name(info.outcome)), "known": bool(info.known),
            "retry_allowed": bool(info.retry_allowed), "description": s(info.description),
            "recovery_note": s(info.recovery_note),
            "recommended_action": s(info.recommended_action),
            "message_match": s(info.message_match)})


def normalize_phone(phone: str) -> str:
    """A Kenyan mobile number in any usual form ("0712 345 678",
    "+254712345678") as 2547XXXXXXXX; InvalidArgumentError (param "phone",
    code phone_invalid_character, phone_not_kenyan, ...) otherwise."""
    raw = cstr(phone, "phone", required=True)
    out = ctypes.create_string_buffer(16)
    err = N.new_error()
    rc = N.msisdn_normalize(raw, len(raw) + 1, out, len(out), ctypes.byref(err))
    if rc != N.OK:
        raise from_error(rc, err)
    return out.value.decode("ascii")
