"""Exceptions raised by the binding.

Every failure is a :class:`ConstraError` carrying the library's detail:
``code`` (the machine-readable string, e.g. ``"idempotency_key_reused"``),
``http_status`` (what the REST API answers for it), ``param`` (the field at
fault or ``None``), ``message`` and ``status`` (the numeric constra_status).
Subclasses let callers catch by kind; a wrong Python type is also a
:class:`TypeError`, a bad value a :class:`ValueError`.
"""
from __future__ import annotations

from typing import Optional

from . import _native as N


class ConstraError(Exception):
    """A libconstra failure with its code, HTTP status and parameter."""

    def __init__(self, message: str, *, code: str = "error", http_status: int = 500,
                 param: Optional[str] = None, status: int = N.E_GENERIC) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.param = param or None
        self.status = status

    def __str__(self) -> str:
        where = f", param {self.param!r}" if self.param else ""
        return f"{self.message} [{self.code}, HTTP {self.http_status}{where}]"

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.message!r}, code={self.code!r}, "
                f"http_status={self.http_status}, param={self.param!r})")

    def to_dict(self) -> dict:
        """The REST error JSON: {"error": {"code", "message", "param"}}."""
        return {"error": {"code": self.code, "message": self.message, "param": self.param}}


class InvalidArgumentError(ConstraError, ValueError):
    """A bad value (CONSTRA_E_INVALID_ARGUMENT and friends, HTTP 400)."""


class ArgumentTypeError(InvalidArgumentError, TypeError):
    """A value of the wrong Python type; raised before anything reaches C."""


class NotFoundError(ConstraError, LookupError):
    """No such intent (HTTP 404)."""


class ConflictError(ConstraError):
    """Idempotency key reused or in flight, or a concurrent write (409)."""


class InvalidStateError(ConstraError):
    """The action is not allowed in the intent's status (409)."""


class SignatureError(ConstraError):
    """A webhook signature did not verify (malformed, expired, future,
    mismatch: ``code`` says which)."""


class StorageError(ConstraError):
    """The storage failed; the previous state is intact. When a storage
    written in Python raised, the original exception is ``__cause__``."""


class TransportError(ConstraError):
    """The transport failed before the request was sent (safe to retry)."""


class OutcomeUnknownError(ConstraError):
    """The request may have reached the server and no answer came back:
    reconcile by query, never retry blindly (CONSTRA_E_OUTCOME_UNKNOWN)."""


class AuthenticationError(ConstraError):
    """The server refused the secret key (HTTP 401, code e.g.
    ``invalid_api_key``)."""


class UnsupportedError(ConstraError):
    """Not available here: e.g. an M-Pesa callback handed to a remote
    client (code ``remote_handle``), or a build without libcurl."""


_BY_STATUS = {
    N.E_INVALID_ARGUMENT: InvalidArgumentError,
    N.E_ABI: InvalidArgumentError,
    N.E_NOT_FOUND: NotFoundError,
    N.E_CONFLICT: ConflictError,
    N.E_INVALID_STATE: InvalidStateError,
    N.E_SIGNATURE: SignatureError,
    N.E_STORAGE: StorageError,
    N.E_TRANSPORT: TransportError,
    N.E_OUTCOME_UNKNOWN: OutcomeUnknownError,
    N.E_AUTH: AuthenticationError,
    N.E_UNSUPPORTED: UnsupportedError,
}


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def from_error(status: int, err: "N.Error") -> ConstraError:
    """The exception for a failed call, from its filled constra_error."""
    if err.status == N.OK:
        # The call failed without detail (should not happen): say what we know.
        code = _text(N.status_name(status) or b"CONSTRA_E_UNKNOWN").lower()
        return _BY_STATUS.get(status, ConstraError)(
            _text(N.strerror(status)), code=code, http_status=N.status_http(status),
            status=status)
    cls = _BY_STATUS.get(err.status, ConstraError)
    # HTTP status 0: no answer came, the failure is on this side of the
    # wire (a transport failure); kept as 0, never dressed up as a 502.
    client_side = err.http_status == 0 and err.status in (-14, -15)
    return cls(_text(err.message), code=_text(err.code) or "error",
               http_status=0 if client_side else err.http_status or N.status_http(err.status),
               param=_text(err.param) or None, status=err.status)


def wrong_type(param: str, expected: str, value: object) -> ArgumentTypeError:
    return ArgumentTypeError(f"{param} must be {expected}, not {type(value).__name__}",
                             code="parameter_invalid", http_status=400, param=param,
                             status=N.E_INVALID_ARGUMENT)


def invalid(param: str, message: str, code: str = "parameter_invalid") -> InvalidArgumentError:
    return InvalidArgumentError(message, code=code, http_status=400, param=param,
                                status=N.E_INVALID_ARGUMENT)
