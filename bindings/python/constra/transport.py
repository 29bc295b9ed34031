"""Transports (include/constra/transport.h): how libconstra reaches a
network, implemented in Python, or the C loopback that serves the REST
router in process.

A transport written in Python subclasses :class:`Transport` and implements
``send(request) -> TransportResponse``. Raise :class:`TransportFailure`
with the kind that says what is known: ``"connect"`` and ``"tls"`` mean
the request never left (retrying is safe); ``"timeout"``, ``"protocol"``,
``"too_large"`` and ``"other"`` mean it may have been acted on (the outcome
is unknown: reconcile, never retry blindly). Any other exception counts as
``"other"``: when in doubt, money may have moved.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

from . import _native as N
from ._text import body_bytes, cint, cstr
from .client import Client, Response
from .errors import (ConstraError, OutcomeUnknownError, TransportError, from_error,
                     wrong_type)

FAILURES = {"connect": 1, "tls": 2, "timeout": 3, "too_large": 4, "protocol": 5, "other": 6}


class TransportFailure(Exception):
    """Raised by a Python transport's send(): ``kind`` is one of
    "connect", "tls", "timeout", "too_large", "protocol", "other"."""

    def __init__(self, kind: str, message: str = "") -> None:
        if kind not in FAILURES:
            raise ValueError(f"unknown transport failure kind {kind!r}")
        super().__init__(message or kind)
        self.kind = kind


@dataclass(frozen=True)
class TransportRequest:
    method: str
    url: str
    headers: List[Tuple[str, str]]
    body: bytes
    connect_timeout_ms: int
    timeout_ms: int
    max_response_bytes: int


@dataclass
class TransportResponse:
    status: int
    headers: List[Tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class Transport:
    """A transport implemented in Python."""

    name = "python"

    def send(self, request: TransportRequest) -> TransportResponse:
        raise NotImplementedError

    def close(self) -> None:
        """Called once when the library drops the transport."""


class RouterTransport(Transport):
    """Sends every request into a Client's in-process REST router, as an
    HTTP server in front of it would: the URL's path and query become the
    target."""

    name = "router"

    def __init__(self, client: Client) -> None:
        self.client = client
        self.requests = 0

    def send(self, request: TransportRequest) -> TransportResponse:
        self.requests += 1
        parts = urlsplit(request.url)
        target = (parts.path or "/") + (("?" + parts.query) if parts.query else "")
        r = self.client.request(request.method, target, request.headers, request.body or None)
        return TransportResponse(r.status, r.headers, r.body)


def _s(raw: Optional[bytes]) -> str:
    return raw.decode("utf-8", "replace") if raw else ""


class TransportAdapter:
    """A constra_transport whose send() calls a Python transport. The
    callbacks live as long as this object (keep it while C may call)."""

    def __init__(self, transport: Transport) -> None:
        if not callable(getattr(transport, "send", None)):
            raise wrong_type("transport", "an object with send(request)", transport)
        self.transport = transport
        self.last_exception: Optional[BaseException] = None
        self.destroyed = False
        self.vtable = N.init_struct(N.transport_init, N.Transport)
        name = str(getattr(transport, "name", "python"))[:15].encode("ascii", "replace")
        self.vtable.name = name or b"python"
        self._send = N.TransportSendFn(self._on_send)
        self._destroy = N.DestroyFn(self._on_destroy)
        self.vtable.send = self._send
        self.vtable.destroy = self._destroy

    def take_exception(self) -> Optional[BaseException]:
        exc, self.last_exception = self.last_exception, None
        return exc

    def _on_send(self, _ud, req_p, resp) -> int:
        try:
            r = req_p.contents
            headers = [(_s(r.headers[i].name), _s(r.headers[i].value))
                       for i in range(r.header_count)]
            request = TransportRequest(_s(r.method), _s(r.url), headers,
                                       N.take_bytes(r.body, r.body_len), r.connect_timeout_ms,
                                       r.timeout_ms, r.max_response_bytes)
            answer = self.transport.send(request)
            if not isinstance(answer, TransportResponse):
                raise TypeError(f"send() returned {type(answer).__name__}, "
                                "not a TransportResponse")
            if isinstance(answer.status, bool) or not isinstance(answer.status, int):
                raise TypeError("TransportResponse.status must be an int")
            rc = N.transport_response_set_status(resp, answer.status)
            if rc != N.OK:
                raise ValueError(f"HTTP status {answer.status} is out of range")
            for name, value in answer.headers:
                bn, bv = name.encode("latin-1"), value.encode("latin-1")
                rc = N.transport_response_add_header(resp, bn, len(bn), bv, len(bv))
                if rc != N.OK:
                    return rc
            data = bytes(answer.body)
            return N.transport_response_append(resp, data, len(data)) if data else N.OK
        except TransportFailure as exc:
            self.last_exception = exc
            return N.transport_response_fail(resp, FAILURES[exc.kind], str(exc).encode(
                "utf-8", "replace")[:200])
        except BaseException as exc:  # noqa: B902 - nothing may cross into C
            self.last_exception = exc
            msg = f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")[:200]
            return N.transport_response_fail(resp, FAILURES["other"], msg)

    def _on_destroy(self, _ud) -> None:
        if self.destroyed:
            return
        self.destroyed = True
        try:
            close = getattr(self.transport, "close", None)
            if close is not None:
                close()
        except BaseException as exc:  # noqa: B902
            self.last_exception = exc


class Loopback:
    """The C loopback table: origins -> in-process handlers. mount_router()
    serves a Client's REST router at an origin; transport() is the C
    transport that dispatches through it. Close it (or use ``with``)."""

    def __init__(self) -> None:
        err = N.new_error()
        out = ctypes.c_void_p()
        rc = N.loopback_new(ctypes.byref(out), None, ctypes.byref(err))
        if rc != N.OK:
            raise from_error(rc, err)
        self._lb: Optional[int] = out.value
        self._clients: List[Client] = []  # mounted handles must outlive sends
        self._vt = N.init_struct(N.transport_init, N.Transport)
        rc = N.loopback_transport(self._lb, ctypes.byref(self._vt), ctypes.byref(err))
        if rc != N.OK:
            N.loopback_free(self._lb)
            raise from_error(rc, err)

    def mount_router(self, origin: str, client: Client) -> None:
        raw = cstr(origin, "origin", required=True)
        err = N.new_error()
        rc = N.loopback_mount(self._live(), raw, N.api_loopback_handler, client._h(),
                              ctypes.byref(err))
        if rc != N.OK:
            raise from_error(rc, err)
        self._clients.append(client)

    @property
    def request_count(self) -> int:
        return int(N.loopback_request_count(self._live()))

    def _live(self) -> int:
        if self._lb is None:
            raise ConstraError("the loopback is closed", code="loopback_closed")
        return self._lb

    def close(self) -> None:
        lb, self._lb = self._lb, None
        if lb is not None:
            self._vt.destroy(self._vt.user_data)  # the transport's reference
            N.loopback_free(lb)
        self._clients = []

    def __enter__(self) -> "Loopback":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover
            pass


def send(transport: Union[Transport, Loopback], method: str, url: str,
         headers: Union[Mapping[str, str], Sequence[Tuple[str, str]], None] = None,
         body: Union[bytes, str, None] = None, *, timeout_ms: int = 0,
         connect_timeout_ms: int = 0, max_response_bytes: int = 0) -> Response:
    """One exchange through constra_transport_send(): the library checks
    the request (no header injection, a valid URL), calls the transport,
    and enforces the response size cap. Returns the response (any HTTP
    status); raises TransportError (not sent: safe to retry) or
    OutcomeUnknownError (may have been acted on), whose ``__cause__`` is
    the Python transport's exception."""
    adapter = None
    if isinstance(transport, Loopback):
        vt = transport._vt
        transport._live()
    else:
        adapter = TransportAdapter(transport)
        vt = adapter.vtable
    req = N.init_struct(N.transport_request_init, N.TransportRequest)
    req.method = cstr(method, "method", required=True)
    req.url = cstr(url, "url", required=True)
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
    raw_headers = []
    for item in pairs:
        if not isinstance(item, tuple) or len(item) != 2:
            raise wrong_type("headers", "a mapping or (name, value) pairs", item)
        raw_headers.append(N.HttpHeader(cstr(item[0], "headers", required=True),
                                        cstr(item[1], "headers", required=True)))
    arr = (N.HttpHeader * max(1, len(raw_headers)))(*raw_headers)
    req.headers = ctypes.cast(arr, ctypes.POINTER(N.HttpHeader))
    req.header_count = len(raw_headers)
    raw = b"" if body is None else body_bytes(body)
    buf = ctypes.create_string_buffer(raw, len(raw)) if raw else None
    req.body = ctypes.cast(buf, ctypes.c_void_p) if buf is not None else None
    req.body_len = len(raw)
    req.timeout_ms = cint(timeout_ms, "timeout_ms", lo=0, hi=2**63 - 1)
    req.connect_timeout_ms = cint(connect_timeout_ms, "connect_timeout_ms", lo=0, hi=2**63 - 1)
    req.max_response_bytes = cint(max_response_bytes, "max_response_bytes", lo=0, hi=2**63 - 1)
    out = ctypes.c_void_p()
    err = N.new_error()
    rc = N.transport_send(ctypes.byref(vt), None, ctypes.byref(req), ctypes.byref(out),
                          ctypes.byref(err))
    if rc != N.OK:
        exc = from_error(rc, err)
        if rc == N.E_OUTCOME_UNKNOWN:
            exc = OutcomeUnknownError(exc.message, code=exc.code, http_status=exc.http_status,
                                      param=exc.param, status=exc.status)
        cause = adapter.take_exception() if adapter else None
        if cause is not None:
            exc.__cause__ = cause
        raise exc
    try:
        n = ctypes.c_size_t(0)
        ptr = N.transport_response_body(out, ctypes.byref(n))
        resp_body = N.take_bytes(ptr, n.value)
        hdrs = [(N.transport_response_header_name(out, i).decode("latin-1"),
                 N.transport_response_header_value(out, i).decode("latin-1"))
                for i in range(N.transport_response_header_count(out))]
        return Response(N.transport_response_status(out), hdrs, resp_body)
    finally:
        N.transport_response_free(out)


__all__ = ["Transport", "TransportRequest", "TransportResponse", "TransportFailure",
           "RouterTransport", "Loopback", "OutcomeUnknownError", "send", "TransportError"]
