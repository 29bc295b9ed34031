"""Python values to C arguments, refusing what C would misread."""
from __future__ import annotations

from typing import Optional

from .errors import invalid, wrong_type


def cstr(value: object, param: str, *, required: bool = False,
         allow_bytes: bool = False) -> Optional[bytes]:
    """UTF-8 bytes for a C string argument, or None for an absent one.

    A NUL inside the text is refused: C would silently cut the string there
    (a truncated reference or key must not pass as a different one). Length
    limits are the library's to enforce, so huge strings go through and get
    its error."""
    if value is None:
        if required:
            raise invalid(param, f"{param} is required", code="parameter_missing")
        return None
    if isinstance(value, str):
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates
            raise invalid(param, f"{param} is not valid Unicode text: {exc.reason}") from None
    elif allow_bytes and isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    else:
        raise wrong_type(param, "a str" + (" or bytes" if allow_bytes else ""), value)
    if b"\0" in raw:
        raise invalid(param, f"{param} must not contain a NUL character")
    return raw


def cint(value: object, param: str, *, lo: int, hi: int) -> int:
    """An integer argument within [lo, hi]; bool and float are refused (a
    fractional amount must never be rounded into money)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(param, "an int", value)
    if value < lo or value > hi:
        raise invalid(param, f"{param} must be between {lo} and {hi}")
    return value


def body_bytes(value: object, param: str = "body") -> bytes:
    """A raw body: bytes as received (preferred) or str, encoded as UTF-8."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise invalid(param, f"{param} is not valid Unicode text: {exc.reason}") from None
    raise wrong_type(param, "bytes or str", value)
