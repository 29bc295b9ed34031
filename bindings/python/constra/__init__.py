"""libconstra for Python: payment operations on mobile-money rails.

Loads the libconstra shared library (``CONSTRA_LIBRARY``, then the system
loader, then a build directory of the source tree) through ctypes; no
compiler is needed. See :class:`Client` for the engine and
:func:`verify_webhook` for signatures.
"""
from . import _native
from ._object import ConstraObject
from .client import Client, Intent, Response
from .errors import wrong_type
from .errors import (ArgumentTypeError, AuthenticationError, ConflictError, ConstraError,
                     InvalidArgumentError, InvalidStateError, NotFoundError,
                     OutcomeUnknownError, SignatureError, StorageError, TransportError,
                     UnsupportedError)
from .mpesa import decode_result, normalize_phone
from .storage import (Commit, DictStorage, Event, Key, Op, Record, Scan, Storage,
                      StorageConflict, StorageInvalid, StorageNotFound)
from .webhook import sign_webhook, verify_webhook
from . import transport
from .transport import (Loopback, RouterTransport, Transport,
                        TransportFailure, TransportRequest, TransportResponse)

__version__ = "0.1.0"
library_path = _native.lib_path


def feature_enabled(name: str) -> bool:
    """Whether the loaded library was built with an optional feature:
    ``"sqlite"``, ``"postgres"``, ``"curl"``, or its crypto backend, ``"crypto=openssl"`` /
    ``"crypto=mbedtls"`` (constra_features()). Unknown names give False."""
    if not isinstance(name, str):
        raise wrong_type("name", "a str", name)
    return bool(_native.feature_enabled(name.encode("utf-8")))

__all__ = [
    "Client", "Intent", "ConstraObject", "Response", "ConstraError", "ArgumentTypeError", "ConflictError",
    "InvalidArgumentError", "InvalidStateError", "NotFoundError", "SignatureError",
    "StorageError", "TransportError", "decode_result", "normalize_phone", "DictStorage",
    "Commit", "Event", "Key", "Op", "Record", "Scan", "Storage",
    "StorageConflict", "StorageInvalid", "StorageNotFound", "sign_webhook", "verify_webhook",
    "library_path", "transport", "Transport", "TransportRequest", "TransportResponse",
    "TransportFailure", "RouterTransport", "Loopback", "OutcomeUnknownError",
    "AuthenticationError", "UnsupportedError", "feature_enabled",
]
