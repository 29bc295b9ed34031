"""The C ABI as ctypes sees it: finding libconstra, its structs and prototypes.

Nothing here is public. Struct layouts mirror include/constra/*.h field for
field; every versioned struct is initialised through the library's own
``constra_*_init(ptr, size)`` so the library, not this file, decides what a
valid struct_size is.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_int, c_int64,
                    c_size_t, c_uint8, c_void_p)
from pathlib import Path
from typing import Optional

# ---- status codes (error.h: append-only, never renumbered) -------------
OK = 0
E_GENERIC = -1
E_INVALID_ARGUMENT = -2
E_NOMEM = -3
E_NOT_FOUND = -4
E_CONFLICT = -5
E_INVALID_STATE = -6
E_BUFFER_TOO_SMALL = -7
E_UNSUPPORTED = -9
E_ABI = -10
E_SIGNATURE = -12
E_STORAGE = -13
E_TRANSPORT = -14
E_OUTCOME_UNKNOWN = -15
E_CALLBACK = -17
E_AUTH = -18
E_RATE_LIMITED = -19


# ---- structs -------------------------------------------------------------
class Error(Structure):
    _fields_ = [("struct_size", c_size_t), ("status", c_int), ("http_status", c_int),
                ("code", c_char * 64), ("message", c_char * 256), ("param", c_char * 64)]


class Config(Structure):
    _fields_ = [("struct_size", c_size_t), ("platform", c_void_p), ("storage", c_void_p),
                ("rail", c_void_p), ("mode", c_int), ("callback_timeout_ms", c_int64),
                ("max_attempts", c_int), ("idempotency_retention_ms", c_int64),
                ("amount_max", c_int64), ("secret_key", c_char_p),
                ("transport", c_void_p)]


class IntentParams(Structure):
    _fields_ = [("struct_size", c_size_t), ("amount", c_int64), ("currency", c_char_p),
                ("provider", c_char_p), ("phone_number", c_char_p),
                ("customer_name", c_char_p), ("reference", c_char_p),
                ("description", c_char_p), ("agent_policy", c_int), ("draft", c_int),
                ("metadata", c_char_p)]


class ListParams(Structure):
    _fields_ = [("struct_size", c_size_t), ("status", c_int), ("reference", c_char_p),
                ("created_from_ms", c_int64), ("created_to_ms", c_int64),
                ("starting_after", c_char_p), ("limit", c_size_t)]


class WebhookParams(Structure):
    _fields_ = [("struct_size", c_size_t), ("scheme", c_int), ("secret", c_char_p),
                ("body", POINTER(c_uint8)), ("body_len", c_size_t), ("signature", c_char_p),
                ("msg_id", c_char_p), ("timestamp_header", c_char_p), ("timestamp", c_int64),
                ("now", c_int64), ("tolerance_s", c_int64)]


class ResultInfo(Structure):
    _fields_ = [("struct_size", c_size_t), ("api", c_int), ("outcome", c_int),
                ("known", c_int), ("retry_allowed", c_int), ("description", c_char_p),
                ("recovery_note", c_char_p), ("recommended_action", c_char_p),
                ("message_match", c_char_p), ("code", c_char * 65)]


class SqliteOptions(Structure):
    _fields_ = [("struct_size", c_size_t), ("path", c_char_p), ("synchronous", c_int),
                ("busy_timeout_ms", c_int)]


class HttpHeader(Structure):
    _fields_ = [("name", c_char_p), ("value", c_char_p)]


class ApiRequest(Structure):
    _fields_ = [("struct_size", c_size_t), ("method", c_char_p), ("target", c_char_p),
                ("headers", POINTER(HttpHeader)), ("header_count", c_size_t),
                ("body", c_void_p), ("body_len", c_size_t)]


# storage.h (0.3): the generic record store. Rows cross as borrowed
# pointers: text is NUL-terminated (c_char_p), documents are (pointer,
# length) and may hold NULs.
RECORD_PUT = 1
RECORD_DELETE = 2
RECORD_ASSERT = 3
RECORD_NAME_MAX = 32
RECORD_VALUE_MAX = 255
RECORD_KEYS_MAX = 16
RECORD_COMMIT_MAX = 1024


class RecordKey(Structure):
    _fields_ = [("index", c_char_p), ("value", c_char_p), ("unique", c_int)]


class Record(Structure):
    _fields_ = [("struct_size", c_size_t), ("kind", c_char_p), ("id", c_char_p),
                ("version", c_int64), ("expires_at_ms", c_int64), ("document", c_void_p),
                ("document_len", c_size_t), ("keys", POINTER(RecordKey)),
                ("key_count", c_size_t)]


class RecordOp(Structure):
    _fields_ = [("type", c_int), ("record", POINTER(Record)), ("expected_version", c_int64)]


class RecordEvent(Structure):
    _fields_ = [("struct_size", c_size_t), ("sequence", c_int64), ("stream", c_char_p),
                ("id", c_char_p), ("type", c_char_p), ("created_at_ms", c_int64),
                ("expires_at_ms", c_int64), ("document", c_void_p), ("document_len", c_size_t)]


class RecordCommit(Structure):
    _fields_ = [("struct_size", c_size_t), ("now_ms", c_int64), ("ops", POINTER(RecordOp)),
                ("op_count", c_size_t), ("events", POINTER(RecordEvent)),
                ("event_count", c_size_t)]


class RecordScan(Structure):
    # "from" is a Python keyword: read it with getattr(scan, "from").
    _fields_ = [("struct_size", c_size_t), ("kind", c_char_p), ("index", c_char_p),
                ("from", c_char_p), ("to", c_char_p), ("prefix", c_char_p),
                ("after_value", c_char_p), ("after_id", c_char_p), ("descending", c_int),
                ("limit", c_size_t), ("now_ms", c_int64)]


# Row sinks (the engine's, called by a storage) and the vtable's methods.
RecordFn = CFUNCTYPE(c_int, c_void_p, POINTER(Record))
RecordScanFn = CFUNCTYPE(c_int, c_void_p, c_char_p, POINTER(Record))
RecordEventFn = CFUNCTYPE(c_int, c_void_p, POINTER(RecordEvent))

CommitFn = CFUNCTYPE(c_int, c_void_p, POINTER(RecordCommit), POINTER(c_size_t))
GetFn = CFUNCTYPE(c_int, c_void_p, c_char_p, c_char_p, c_int64, RecordFn, c_void_p)
ScanFn = CFUNCTYPE(c_int, c_void_p, POINTER(RecordScan), RecordScanFn, c_void_p)
EventsFn = CFUNCTYPE(c_int, c_void_p, c_char_p, c_int64, c_size_t, RecordEventFn, c_void_p)
PurgeFn = CFUNCTYPE(c_int, c_void_p, c_int64, c_size_t, POINTER(c_size_t))
DestroyFn = CFUNCTYPE(None, c_void_p)


class Storage(Structure):
    _fields_ = [("struct_size", c_size_t), ("user_data", c_void_p), ("commit", CommitFn),
                ("get", GetFn), ("scan", ScanFn), ("events", EventsFn), ("purge", PurgeFn),
                ("destroy", DestroyFn)]


# ---- finding the library ---------------------------------------------------
_LIB_NAMES = ("libconstra.so.0", "libconstra.so")


def _build_dir_candidates() -> list:
    """libconstra in a meson build directory next to this source tree:
    walks up from this file and looks in <dir>/build*/lib/."""
    found = []
    here = Path(__file__).resolve().parent
    for parent in [here, *here.parents]:
        try:
            builds = sorted(p for p in parent.iterdir() if p.is_dir() and p.name.startswith("build"))
        except OSError:
            continue
        for build in builds:
            for name in _LIB_NAMES:
                cand = build / "lib" / name
                if cand.is_file():
                    found.append(str(cand))
                    break
        if found:
            break
    return found


def _load() -> ctypes.CDLL:
    tried = []
    explicit = os.environ.get("CONSTRA_LIBRARY")
    if explicit:
        # An explicit choice is final: falling back silently would test or
        # run against a different library than the one asked for.
        try:
            return ctypes.CDLL(explicit)
        except OSError as exc:
            raise ImportError(f"CONSTRA_LIBRARY={explicit!r} cannot be loaded: {exc}") from exc
    # The copy bundled in the wheel (pip install ./bindings/python from a
    # built tree, _build/constra_build.py): the very library the package
    # was built against, so it comes before an installed one.
    bundled = [str(p) for p in (Path(__file__).resolve().parent / "_lib" / n for n in _LIB_NAMES)
               if p.is_file()][:1]
    system = ctypes.util.find_library("constra")
    for name in bundled + ([system] if system else []) + list(_LIB_NAMES) + _build_dir_candidates():
        try:
            return ctypes.CDLL(name)
        except OSError as exc:
            tried.append(f"{name}: {exc}")
    raise ImportError("libconstra not found; set CONSTRA_LIBRARY to the path of "
                      "libconstra.so.0. Tried: " + "; ".join(tried))


lib = _load()
lib_path: Optional[str] = getattr(lib, "_name", None)


def _fn(name: str, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


P = c_void_p  # opaque handles: constra_t*, constra_intent*, lists, responses

# error.h
error_init = _fn("constra_error_init", c_int, POINTER(Error), c_size_t)
status_name = _fn("constra_status_name", c_char_p, c_int)
status_http = _fn("constra_status_http", c_int, c_int)
strerror = _fn("constra_strerror", c_char_p, c_int)
feature_enabled = _fn("constra_feature_enabled", c_int, c_char_p)
# handle.h
config_init = _fn("constra_config_init", c_int, POINTER(Config), c_size_t)
open_ = _fn("constra_open", c_int, POINTER(P), POINTER(Config), POINTER(Error))
close = _fn("constra_close", None, P)
now_ms = _fn("constra_now_ms", c_int64, P)
# intent.h
intent_params_init = _fn("constra_intent_params_init", c_int, POINTER(IntentParams), c_size_t)
intent_create = _fn("constra_intent_create", c_int, P, POINTER(IntentParams), c_char_p, POINTER(P),
                    POINTER(Error))
intent_get = _fn("constra_intent_get", c_int, P, c_char_p, POINTER(P), POINTER(Error))
intent_refresh = _fn("constra_intent_refresh", c_int, P, c_char_p, POINTER(P), POINTER(Error))
intent_confirm = _fn("constra_intent_confirm", c_int, P, c_char_p, POINTER(P), POINTER(Error))
intent_retry = _fn("constra_intent_retry", c_int, P, c_char_p, POINTER(P), POINTER(Error))
intent_cancel = _fn("constra_intent_cancel", c_int, P, c_char_p, POINTER(P), POINTER(Error))
intent_resolve = _fn("constra_intent_resolve", c_int, P, c_char_p, c_int, c_char_p, c_char_p,
                     POINTER(P), POINTER(Error))
intent_simulate = _fn("constra_intent_simulate_callback", c_int, P, c_char_p, c_char_p,
                      c_char_p, POINTER(P), POINTER(Error))
tick = _fn("constra_tick", c_int, P, c_int64, POINTER(Error))
intent_free = _fn("constra_intent_free", None, P)
intent_replayed = _fn("constra_intent_replayed", c_int, P)
intent_json = _fn("constra_intent_json", c_void_p, P, POINTER(c_size_t))
list_params_init = _fn("constra_intent_list_params_init", c_int, POINTER(ListParams), c_size_t)
list_intents = _fn("constra_intent_list_get", c_int, P, POINTER(ListParams), POINTER(P), POINTER(Error))
intent_list_json = _fn("constra_intent_list_json", c_void_p, P, POINTER(c_size_t))
intent_list_free = _fn("constra_intent_list_free", None, P)
intent_events = _fn("constra_event_list_get", c_int, P, c_char_p, POINTER(P), POINTER(Error))
event_list_json = _fn("constra_event_list_json", c_void_p, P, POINTER(c_size_t))
event_list_free = _fn("constra_event_list_free", None, P)
handle_mpesa_callback = _fn("constra_handle_mpesa_callback", c_int, P, c_char_p, c_size_t,
                            c_char_p, c_size_t, POINTER(Error))
handle_mpesa_callback_preauthenticated = _fn("constra_handle_mpesa_callback_preauthenticated",
                                             c_int, P, c_char_p, c_size_t, POINTER(Error))
# storage.h / storage_sqlite.h
storage_init = _fn("constra_storage_init", c_int, POINTER(Storage), c_size_t)
storage_memory = _fn("constra_storage_memory", c_int, POINTER(Storage), c_void_p, POINTER(Error))
storage_check = _fn("constra_storage_check", c_int, POINTER(Storage), POINTER(Error))
record_commit_check = _fn("constra_record_commit_check", c_int, POINTER(RecordCommit),
                          POINTER(Error))
sqlite_options_init = _fn("constra_sqlite_options_init", c_int, POINTER(SqliteOptions), c_size_t)
storage_sqlite = _fn("constra_storage_sqlite", c_int, POINTER(Storage), c_void_p,
                     POINTER(SqliteOptions), POINTER(Error))
# webhook_signature.h
webhook_params_init = _fn("constra_webhook_params_init", c_int, POINTER(WebhookParams), c_size_t)
webhook_verify = _fn("constra_webhook_verify", c_int, POINTER(WebhookParams), POINTER(c_int),
                     POINTER(Error))
webhook_sign = _fn("constra_webhook_sign", c_int, POINTER(WebhookParams), ctypes.c_char_p,
                   c_size_t, POINTER(Error))
webhook_scheme_from_name = _fn("constra_webhook_scheme_from_name", c_int, c_char_p,
                               POINTER(c_int), POINTER(Error))
webhook_result_name = _fn("constra_webhook_result_name", c_char_p, c_int)
# result_codes.h
result_info_init = _fn("constra_result_info_init", c_int, POINTER(ResultInfo), c_size_t)
result_lookup = _fn("constra_mpesa_result_lookup", c_int, c_char_p, c_size_t, c_int, c_char_p,
                    POINTER(ResultInfo), POINTER(Error))
outcome_name = _fn("constra_outcome_name", c_char_p, c_int)
mpesa_api_name = _fn("constra_mpesa_api_name", c_char_p, c_int)
mpesa_api_parse = _fn("constra_mpesa_api_parse", c_int, c_char_p, POINTER(c_int), POINTER(Error))
# mpesa_fields.h
msisdn_normalize = _fn("constra_msisdn_normalize", c_int, c_char_p, c_size_t, ctypes.c_char_p,
                       c_size_t, POINTER(Error))
# api.h
api_request_init = _fn("constra_api_request_init", c_int, POINTER(ApiRequest), c_size_t)
api_handle = _fn("constra_api_handle", c_int, P, POINTER(ApiRequest), POINTER(P), POINTER(Error))
api_response_status = _fn("constra_api_response_status", c_int, P)
api_response_body = _fn("constra_api_response_body", c_void_p, P, POINTER(c_size_t))
api_response_header_count = _fn("constra_api_response_header_count", c_size_t, P)
api_response_header_name = _fn("constra_api_response_header_name", c_char_p, P, c_size_t)
api_response_header_value = _fn("constra_api_response_header_value", c_char_p, P, c_size_t)
api_response_free = _fn("constra_api_response_free", None, P)


def new_error() -> Error:
    err = Error()
    rc = error_init(ctypes.byref(err), ctypes.sizeof(err))
    if rc != OK:  # pragma: no cover - only if the library and this file disagree
        raise RuntimeError(f"constra_error_init failed ({rc}): ABI mismatch")
    return err


def init_struct(init_fn, struct_type):
    """A struct initialised by its constra_*_init(ptr, size) function."""
    s = struct_type()
    rc = init_fn(ctypes.byref(s), ctypes.sizeof(s))
    if rc != OK:  # pragma: no cover
        raise RuntimeError(f"{init_fn.__name__} failed ({rc}): ABI mismatch")
    return s


def take_bytes(ptr: Optional[int], length: int) -> bytes:
    """Copies length bytes from a C pointer (None/0 with length 0 is b"")."""
    if not ptr or length == 0:
        return b""
    return ctypes.string_at(ptr, length)




# ---- transport.h (and the router as a loopback handler, api.h) -------------
class TransportRequest(Structure):
    _fields_ = [("struct_size", c_size_t), ("method", c_char_p), ("url", c_char_p),
                ("headers", POINTER(HttpHeader)), ("header_count", c_size_t),
                ("body", c_void_p), ("body_len", c_size_t), ("connect_timeout_ms", c_int64),
                ("timeout_ms", c_int64), ("max_response_bytes", c_size_t)]


TransportSendFn = CFUNCTYPE(c_int, c_void_p, POINTER(TransportRequest), c_void_p)


class Transport(Structure):
    _fields_ = [("struct_size", c_size_t), ("user_data", c_void_p), ("name", c_char * 16),
                ("send", TransportSendFn), ("destroy", DestroyFn)]


transport_request_init = _fn("constra_transport_request_init", c_int, POINTER(TransportRequest),
                             c_size_t)
transport_init = _fn("constra_transport_init", c_int, POINTER(Transport), c_size_t)
transport_failure_code = _fn("constra_transport_failure_code", c_char_p, c_int)
transport_response_set_status = _fn("constra_transport_response_set_status", c_int, P, c_int)
transport_response_add_header = _fn("constra_transport_response_add_header", c_int, P, c_char_p,
                                    c_size_t, c_char_p, c_size_t)
transport_response_append = _fn("constra_transport_response_append", c_int, P, c_char_p, c_size_t)
transport_response_fail = _fn("constra_transport_response_fail", c_int, P, c_int, c_char_p)
transport_send = _fn("constra_transport_send", c_int, POINTER(Transport), c_void_p,
                     POINTER(TransportRequest), POINTER(P), POINTER(Error))
transport_response_status = _fn("constra_transport_response_status", c_int, P)
transport_response_body = _fn("constra_transport_response_body", c_void_p, P, POINTER(c_size_t))
transport_response_header_count = _fn("constra_transport_response_header_count", c_size_t, P)
transport_response_header_name = _fn("constra_transport_response_header_name", c_char_p, P,
                                     c_size_t)
transport_response_header_value = _fn("constra_transport_response_header_value", c_char_p, P,
                                      c_size_t)
transport_response_free = _fn("constra_transport_response_free", None, P)
loopback_new = _fn("constra_loopback_new", c_int, POINTER(P), c_void_p, POINTER(Error))
LoopbackHandler = CFUNCTYPE(c_int, c_void_p, POINTER(TransportRequest), c_void_p)
loopback_mount = _fn("constra_loopback_mount", c_int, P, c_char_p, c_void_p, c_void_p,
                     POINTER(Error))
loopback_transport = _fn("constra_loopback_transport", c_int, P, POINTER(Transport),
                         POINTER(Error))
loopback_request_count = _fn("constra_loopback_request_count", ctypes.c_uint64, P)
loopback_free = _fn("constra_loopback_free", None, P)


# ---- client.h: the remote backend ------------------------------------------
class RemoteConfig(Structure):
    _fields_ = [("struct_size", c_size_t), ("platform", c_void_p), ("base_url", c_char_p),
                ("secret_key", c_char_p), ("mode", c_int), ("transport", c_void_p),
                ("default_provider", c_char_p), ("webhook_secret", c_char_p),
                ("max_tries", c_int), ("backoff_base_ms", c_int64), ("backoff_max_ms", c_int64),
                ("connect_timeout_ms", c_int64), ("timeout_ms", c_int64),
                ("max_response_bytes", c_size_t), ("sleep_ms", c_void_p),
                ("sleep_user_data", c_void_p), ("max_attempts", c_int)]


remote_config_init = _fn("constra_remote_config_init", c_int, POINTER(RemoteConfig), c_size_t)
remote_config_from_env = _fn("constra_remote_config_from_env", c_int, POINTER(RemoteConfig),
                             c_void_p, c_void_p, POINTER(Error))
open_remote = _fn("constra_open_remote", c_int, POINTER(P), POINTER(RemoteConfig),
                  POINTER(Error))
is_remote = _fn("constra_is_remote", c_int, P)
# The router's loopback handler: its address is mounted, never called here.
api_loopback_handler = ctypes.cast(lib.constra_api_loopback_handler, c_void_p).value


# ---- webhook_delivery.h: endpoints and deliveries ---------------------------
class WebhookEndpointParams(Structure):
    _fields_ = [("struct_size", c_size_t), ("url", c_char_p), ("secret", c_char_p),
                ("event_types", c_char_p), ("description", c_char_p), ("scheme", c_char_p)]


wh_params_init = _fn("constra_webhook_endpoint_params_init", c_int,
                     POINTER(WebhookEndpointParams), c_size_t)
wh_endpoint_add = _fn("constra_webhook_endpoint_add", c_int, P, POINTER(WebhookEndpointParams),
                      POINTER(P), POINTER(Error))
wh_endpoint_get = _fn("constra_webhook_endpoint_get", c_int, P, c_char_p, POINTER(P),
                      POINTER(Error))
wh_endpoint_list_get = _fn("constra_webhook_endpoint_list_get", c_int, P, POINTER(P),
                           POINTER(Error))
wh_endpoint_list_count = _fn("constra_webhook_endpoint_list_count", c_size_t, P)
wh_endpoint_list_at = _fn("constra_webhook_endpoint_list_at", P, P, c_size_t)
wh_endpoint_list_free = _fn("constra_webhook_endpoint_list_free", None, P)
wh_endpoint_set_enabled = _fn("constra_webhook_endpoint_set_enabled", c_int, P, c_char_p, c_int,
                              POINTER(Error))
wh_endpoint_remove = _fn("constra_webhook_endpoint_remove", c_int, P, c_char_p, POINTER(Error))
wh_endpoint_rotate_secret = _fn("constra_webhook_endpoint_rotate_secret", c_int, P, c_char_p,
                                c_int64, POINTER(P), POINTER(Error))
wh_endpoint_send_test = _fn("constra_webhook_endpoint_send_test", c_int, P, c_char_p,
                            ctypes.c_char_p, c_size_t, POINTER(Error))
wh_endpoint_id = _fn("constra_webhook_endpoint_id", c_char_p, P)
wh_endpoint_url = _fn("constra_webhook_endpoint_url", c_char_p, P)
wh_endpoint_secret = _fn("constra_webhook_endpoint_secret", c_char_p, P)
wh_endpoint_event_types = _fn("constra_webhook_endpoint_event_types", c_char_p, P)
wh_endpoint_enabled = _fn("constra_webhook_endpoint_enabled", c_int, P)
wh_endpoint_created_at_ms = _fn("constra_webhook_endpoint_created_at_ms", c_int64, P)
wh_endpoint_description = _fn("constra_webhook_endpoint_description", c_char_p, P)
wh_endpoint_scheme = _fn("constra_webhook_endpoint_scheme", c_char_p, P)
wh_endpoint_free = _fn("constra_webhook_endpoint_free", None, P)
wh_delivery_list_get = _fn("constra_webhook_delivery_list_get", c_int, P, c_char_p, c_char_p,
                           c_char_p, c_size_t, POINTER(P), POINTER(Error))
wh_delivery_list_count = _fn("constra_webhook_delivery_list_count", c_size_t, P)
wh_delivery_text = {name: _fn("constra_webhook_delivery_" + name, c_char_p, P, c_size_t)
                    for name in ("id", "endpoint_id", "event_id", "event_type", "state",
                                 "last_error", "attempts_json")}
wh_delivery_attempts = _fn("constra_webhook_delivery_attempts", c_int, P, c_size_t)
wh_delivery_last_status = _fn("constra_webhook_delivery_last_status", c_int, P, c_size_t)
wh_delivery_next_attempt_at_ms = _fn("constra_webhook_delivery_next_attempt_at_ms", c_int64, P,
                                     c_size_t)
wh_delivery_body = _fn("constra_webhook_delivery_body", c_void_p, P, c_size_t, POINTER(c_size_t))
wh_delivery_list_free = _fn("constra_webhook_delivery_list_free", None, P)
wh_delivery_replay = _fn("constra_webhook_delivery_replay", c_int, P, c_char_p, POINTER(Error))
