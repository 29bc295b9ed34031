"""The local engine: payment intents on a libconstra handle, in process."""
from __future__ import annotations

import ctypes
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from . import _native as N
from ._object import ConstraObject, loads as _loads, wrap as _wrap
from ._text import body_bytes, cint, cstr
from .errors import ConstraError, from_error, invalid, wrong_type
from .storage import Storage, StorageAdapter

INT64_MAX = 2**63 - 1

STATUSES = {"draft": 1, "pending_user_action": 2, "succeeded": 3, "requires_recovery": 4,
            "review_required": 5, "failed": 6, "cancelled": 7}
AGENT_POLICIES = {"operator_review": 0, "auto_retry": 1, "none": 2}
MODES = {"sandbox": 0, "live": 1}


class Intent(ConstraObject):
    """A payment intent as the REST API returns it: a dict with attribute
    access too (``pi.status`` or ``pi["status"]``, ``pi.customer.name``),
    plus ``replayed``: True when a create with the same idempotency key
    returned the first result again (an attribute, not a key)."""

    __slots__ = ("replayed",)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.replayed = False

    def __getattr__(self, name: str) -> Any:
        if name == "replayed":
            return False
        return super().__getattr__(name)


@dataclass
class Response:
    """One answer of the in-process REST router (:meth:`Client.request`)."""
    status: int
    headers: List[Tuple[str, str]]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        """The first header called name (case-insensitive), or None."""
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), None)

    def json(self) -> Any:
        return json.loads(self.body)


def _json_at(getter, obj) -> Any:
    n = ctypes.c_size_t(0)
    ptr = getter(obj, ctypes.byref(n))
    return _loads(N.take_bytes(ptr, n.value))


def _rfc3339(ms: int) -> str:
    """Unix ms as the REST API writes times: '2026-05-15T13:41:08.123Z'."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def _id(value: object) -> bytes:
    raw = cstr(value, "id", required=True)
    assert raw is not None
    return raw


def _metadata_text(metadata: Optional[Mapping[str, str]]) -> Optional[str]:
    """The metadata mapping as the JSON object the C library takes. Types
    are checked here (json.dumps would turn a key 1 into "1" and a value 1
    into a number); the limits are the library's to enforce."""
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise wrong_type("metadata", "a mapping of str to str", metadata)
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise wrong_type("metadata", "a mapping with str keys", key)
        if not isinstance(value, str):
            raise wrong_type("metadata." + key, "a str", value)
    return json.dumps(dict(metadata), ensure_ascii=False, separators=(",", ":"))


class Client:
    """A libconstra handle: the payment-intent engine in this process.

    ``storage``: ``"memory"`` (default), ``"sqlite:/path/to.db"`` (or
    ``"sqlite::memory:"``), or an object implementing
    :class:`constra.storage.Storage`. The rail is the simulator, so a
    local Client is sandbox only: ``mode="live"`` raises ConstraError
    ``live_needs_real_rail`` (reach a live workspace with
    :meth:`Client.remote`). Every storage records the workspace's mode (a
    record of kind ``"meta"``) when first opened and refuses the other
    mode: ``workspace_mode_mismatch``.
    ``secret_key`` is the workspace key the REST router (:meth:`request`)
    requires as the bearer token (``cs_test_...`` in sandbox); ``mode`` is
    ``"sandbox"`` or ``"live"``.

    Methods return dicts equal to the REST API's JSON and raise
    :class:`~constra.errors.ConstraError` (code, http_status, param) on
    failure; on any failure stored state is as it was.

    Close it deterministically with :meth:`close` or a ``with`` block; a
    finalizer closes a forgotten one. Calls may come from several threads;
    :meth:`close` must not race with them.
    """

    def __init__(self, storage: Union[str, Storage, None] = "memory", *,
                 secret_key: Optional[str] = None, mode: str = "sandbox",
                 callback_timeout_ms: int = 0, max_attempts: int = 0,
                 idempotency_retention_ms: int = 0, amount_max: int = 0,
                 webhook_transport: Optional[Any] = None) -> None:
        """``webhook_transport``: a Transport (transport.py) the engine POSTs
        webhook deliveries through on each tick; None: endpoints can be
        registered and deliveries queue, but nothing is sent."""
        from .transport import TransportAdapter  # transport.py imports this module

        self._handle: Optional[int] = None
        self._adapter: Optional[StorageAdapter] = None
        self._transport_adapter: Optional[Any] = None  # a remote client's Python transport
        #: The webhook signing secret a remote client was configured with.
        self.webhook_secret: Optional[str] = None
        self._close_lock = threading.Lock()
        if not isinstance(mode, str) or mode not in MODES:
            if not isinstance(mode, str):
                raise wrong_type("mode", "a str", mode)
            raise invalid("mode", "mode must be 'sandbox' or 'live'")
        cfg = N.init_struct(N.config_init, N.Config)
        cfg.mode = MODES[mode]
        cfg.callback_timeout_ms = cint(callback_timeout_ms, "callback_timeout_ms", lo=0,
                                       hi=INT64_MAX)
        cfg.max_attempts = cint(max_attempts, "max_attempts", lo=0, hi=2**31 - 1)
        cfg.idempotency_retention_ms = cint(idempotency_retention_ms,
                                            "idempotency_retention_ms", lo=0, hi=INT64_MAX)
        cfg.amount_max = cint(amount_max, "amount_max", lo=0, hi=INT64_MAX)
        key = cstr(secret_key, "secret_key")
        cfg.secret_key = key
        hooks = TransportAdapter(webhook_transport) if webhook_transport is not None else None
        if hooks is not None:
            # Copied by constra_open; the callbacks live in the adapter,
            # which the Client keeps until it closes.
            cfg.transport = ctypes.cast(ctypes.pointer(hooks.vtable), ctypes.c_void_p)

        vt, adapter, owned = self._make_storage(storage)
        cfg.storage = ctypes.cast(ctypes.pointer(vt), ctypes.c_void_p)
        err = N.new_error()
        handle = ctypes.c_void_p()
        rc = N.open_(ctypes.byref(handle), ctypes.byref(cfg), ctypes.byref(err))
        if rc != N.OK:
            # On failure the storage is still ours (handle.h): undo it.
            if owned and vt.destroy:
                vt.destroy(vt.user_data)
            exc = from_error(rc, err)
            cause = adapter.take_exception() if adapter is not None else None
            if cause is not None:
                exc.__cause__ = cause
            raise exc
        self._handle = handle.value
        self._adapter = adapter
        self._transport_adapter = hooks

    # ---- the remote backend (client.h) ------------------------------------------
    @classmethod
    def remote(cls, base_url: str, secret_key: str, *, transport: Optional[Any] = None,
               mode: Optional[str] = None, default_provider: Optional[str] = None,
               webhook_secret: Optional[str] = None, max_tries: int = 0,
               backoff_base_ms: int = 0, backoff_max_ms: int = 0,
               connect_timeout_ms: int = 0, timeout_ms: int = 0,
               max_response_bytes: int = 0, max_attempts: int = 0) -> "Client":
        """A client whose calls go to a Constra HTTP API (a hosted one, or
        ``constra serve``) instead of an engine in this process: the same
        methods, the same dicts (the server's JSON), the server's errors
        (code, http_status, param) as :class:`ConstraError`.

        ``base_url``: up to the resource paths, e.g.
        ``"http://127.0.0.1:8000/v1"``. ``secret_key``: ``cs_test_...``
        (sandbox) or ``cs_live_...`` (live); ``mode`` defaults to the key's.
        ``transport``: None for the library's libcurl transport
        (:class:`UnsupportedError` in a build without it), or a
        :class:`constra.transport.Transport` written in Python. The other
        options are those of ``constra_remote_config`` (0 = the default).

        The server drives its own time: :meth:`tick` does nothing on a remote
        client; :meth:`handle_mpesa_callback` raises UnsupportedError
        (Daraja calls the server). Retries re-send the same request, the
        same Idempotency-Key included (see include/constra/client.h)."""
        cfg = N.init_struct(N.remote_config_init, N.RemoteConfig)
        keep = [cstr(base_url, "base_url", required=True),
                cstr(secret_key, "secret_key", required=True)]
        cfg.base_url, cfg.secret_key = keep
        if mode is None:
            mode = "live" if keep[1].startswith(b"cs_live_") else "sandbox"
        return cls._open_remote(cfg, keep, transport=transport, mode=mode,
                                default_provider=default_provider,
                                webhook_secret=webhook_secret, max_tries=max_tries,
                                backoff_base_ms=backoff_base_ms, backoff_max_ms=backoff_max_ms,
                                connect_timeout_ms=connect_timeout_ms, timeout_ms=timeout_ms,
                                max_response_bytes=max_response_bytes,
                                max_attempts=max_attempts)

    @classmethod
    def from_env(cls, *, transport: Optional[Any] = None, max_tries: int = 0,
                 backoff_base_ms: int = 0, backoff_max_ms: int = 0,
                 connect_timeout_ms: int = 0, timeout_ms: int = 0,
                 max_response_bytes: int = 0, max_attempts: int = 0) -> "Client":
        """A remote client configured by the Constra environment variables
        (``constra_remote_config_from_env``): CONSTRA_API_BASE_URL and
        CONSTRA_SECRET_KEY (required), CONSTRA_ENVIRONMENT ("sandbox" or
        "live", must agree with the key), CONSTRA_DEFAULT_PROVIDER,
        CONSTRA_WEBHOOK_SECRET (then :attr:`webhook_secret`). A missing or
        bad variable raises InvalidArgumentError with ``param`` = the
        variable and code ``environment_missing`` / ``environment_invalid``
        (the secret's value never appears). Other options as :meth:`remote`."""
        cfg = N.init_struct(N.remote_config_init, N.RemoteConfig)
        err = N.new_error()
        rc = N.remote_config_from_env(ctypes.byref(cfg), None, None, ctypes.byref(err))
        if rc != N.OK:
            raise from_error(rc, err)
        # The strings point into the process environment: copy them now, so
        # that a change to os.environ before the open cannot pull them away.
        keep = [cfg.base_url, cfg.secret_key, cfg.default_provider, cfg.webhook_secret]
        cfg.base_url, cfg.secret_key = keep[0], keep[1]
        mode = "live" if cfg.mode == MODES["live"] else "sandbox"
        return cls._open_remote(cfg, keep, transport=transport, mode=mode,
                                default_provider=None if keep[2] is None else keep[2].decode(),
                                webhook_secret=None if keep[3] is None else keep[3].decode(),
                                max_tries=max_tries, backoff_base_ms=backoff_base_ms,
                                backoff_max_ms=backoff_max_ms,
                                connect_timeout_ms=connect_timeout_ms, timeout_ms=timeout_ms,
                                max_response_bytes=max_response_bytes,
                                max_attempts=max_attempts)

    @classmethod
    def _open_remote(cls, cfg: "N.RemoteConfig", keep: list, *, transport: Optional[Any],
                     mode: str, default_provider: Optional[str],
                     webhook_secret: Optional[str], max_tries: int, backoff_base_ms: int,
                     backoff_max_ms: int, connect_timeout_ms: int, timeout_ms: int,
                     max_response_bytes: int, max_attempts: int) -> "Client":
        from .transport import TransportAdapter  # transport.py imports this module

        if not isinstance(mode, str):
            raise wrong_type("mode", "a str", mode)
        if mode == "production":    # what the hosted docs (and CONSTRA_ENVIRONMENT) call live
            mode = "live"
        if mode not in MODES:
            raise invalid("mode", "mode must be 'sandbox', 'live' or 'production' (live)")
        cfg.mode = MODES[mode]
        provider = cstr(default_provider, "default_provider")
        secret = cstr(webhook_secret, "webhook_secret")
        keep += [provider, secret]
        cfg.default_provider, cfg.webhook_secret = provider, secret
        cfg.max_tries = cint(max_tries, "max_tries", lo=0, hi=2**31 - 1)
        cfg.max_attempts = cint(max_attempts, "max_attempts", lo=0, hi=2**31 - 1)
        for name, value in (("backoff_base_ms", backoff_base_ms),
                            ("backoff_max_ms", backoff_max_ms),
                            ("connect_timeout_ms", connect_timeout_ms),
                            ("timeout_ms", timeout_ms)):
            setattr(cfg, name, cint(value, name, lo=0, hi=INT64_MAX))
        cfg.max_response_bytes = cint(max_response_bytes, "max_response_bytes", lo=0,
                                      hi=2**63 - 1)
        adapter = None
        if transport is not None:
            adapter = TransportAdapter(transport)
            # constra_open_remote copies the vtable; the callbacks it points
            # to live in the adapter, which the Client keeps until close.
            cfg.transport = ctypes.cast(ctypes.pointer(adapter.vtable), ctypes.c_void_p)
        self = cls.__new__(cls)
        self._handle = None
        self._adapter = None
        self._transport_adapter = None
        self._close_lock = threading.Lock()
        self.webhook_secret = webhook_secret
        err = N.new_error()
        handle = ctypes.c_void_p()
        rc = N.open_remote(ctypes.byref(handle), ctypes.byref(cfg), ctypes.byref(err))
        if rc != N.OK:
            # The transport was not destroyed (client.h): it stays the caller's.
            raise from_error(rc, err)
        self._handle = handle.value
        self._transport_adapter = adapter
        return self

    @property
    def is_remote(self) -> bool:
        """True for a client made by :meth:`remote` or :meth:`from_env`."""
        return bool(N.is_remote(self._h()))

    @staticmethod
    def _make_storage(storage: object):
        if storage is None:
            storage = "memory"
        if isinstance(storage, str):
            vt = N.init_struct(N.storage_init, N.Storage)
            err = N.new_error()
            if storage == "memory":
                rc = N.storage_memory(ctypes.byref(vt), None, ctypes.byref(err))
            elif storage.startswith("sqlite:"):
                path = cstr(storage[len("sqlite:"):], "storage", required=True)
                if not path:
                    raise invalid("storage", "sqlite: needs a path, e.g. sqlite:/var/constra.db")
                opts = N.init_struct(N.sqlite_options_init, N.SqliteOptions)
                opts.path = path
                rc = N.storage_sqlite(ctypes.byref(vt), None, ctypes.byref(opts),
                                      ctypes.byref(err))
            else:
                raise invalid("storage", "storage must be 'memory', 'sqlite:<path>' or a "
                              "Storage object")
            if rc != N.OK:
                raise from_error(rc, err)
            return vt, None, True
        required = ("commit", "get", "scan", "events", "purge")
        missing = [m for m in required if not callable(getattr(storage, m, None))]
        if missing:
            raise wrong_type("storage", "'memory', 'sqlite:<path>' or a Storage object "
                             f"(missing {', '.join(missing)})", storage)
        adapter = StorageAdapter(storage)  # type: ignore[arg-type]
        return adapter.vtable, adapter, False

    # ---- lifetime -----------------------------------------------------------
    def close(self) -> None:
        """Frees the C handle (and the storage it owns). Idempotent."""
        with self._close_lock:
            handle, self._handle = self._handle, None
            if handle is not None:
                N.close(handle)
            # Only now may the callbacks go: constra_close calls destroy.
            self._adapter = None
            self._transport_adapter = None

    @property
    def closed(self) -> bool:
        return self._handle is None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def _h(self) -> int:
        handle = self._handle
        if handle is None:
            raise ConstraError("the client is closed", code="client_closed", http_status=500,
                               status=N.E_INVALID_ARGUMENT)
        return handle

    def _fail(self, rc: int, err: "N.Error") -> ConstraError:
        exc = from_error(rc, err)
        cause = self._adapter.take_exception() if self._adapter else None
        if cause is None and self._transport_adapter is not None:
            cause = self._transport_adapter.take_exception()
        if cause is not None:
            exc.__cause__ = cause
        return exc

    def _call(self, fn: Any, *args: Any) -> None:
        """Calls a fallible C function with a fresh per-call constra_error
        appended (error.h: every call reports into its own `err`, so two
        threads sharing this client never see each other's errors)."""
        err = N.new_error()
        rc = fn(*args, ctypes.byref(err))
        if rc != N.OK:
            raise self._fail(rc, err)

    def _intent_call(self, fn: Any, *args: Any) -> Intent:
        """As _call for the functions that answer with a constra_intent."""
        out = ctypes.c_void_p()
        self._call(fn, *args, ctypes.byref(out))
        try:
            intent = Intent(_json_at(N.intent_json, out))
            intent.replayed = bool(N.intent_replayed(out))
            return intent
        finally:
            N.intent_free(out)

    # ---- intents ------------------------------------------------------------
    def create(self, amount: int, *, idempotency_key: str,
               phone_number: Optional[str] = None, currency: str = "KES",
               customer_name: Optional[str] = None, reference: Optional[str] = None,
               description: Optional[str] = None, agent_policy: str = "operator_review",
               draft: bool = False, provider: Optional[str] = None,
               customer: Optional[Mapping[str, Optional[str]]] = None,
               metadata: Optional[Mapping[str, str]] = None) -> Intent:
        """Creates a payment intent and (unless ``draft``) sends the STK push.

        ``metadata``: your own string keys and values (at most 50 keys of
        up to 40 characters, values of up to 500), stored, returned and
        echoed in every event and webhook; an empty value is left out.

        ``customer`` may give ``{"name": ..., "phone_number": ...}`` as the
        REST body does, instead of ``customer_name``/``phone_number``. The
        same ``idempotency_key`` with the same parameters returns the first
        result again (``.replayed`` is True); with other parameters it
        raises ConflictError ``idempotency_key_reused``."""
        if customer is not None:
            if not isinstance(customer, Mapping):
                raise wrong_type("customer", "a mapping", customer)
            unknown = set(customer) - {"name", "phone_number"}
            if unknown:
                raise invalid("customer." + sorted(map(str, unknown))[0],
                              "unknown customer field", code="parameter_unknown")
            customer_name = customer.get("name", customer_name)
            phone_number = customer.get("phone_number", phone_number)
        p = N.init_struct(N.intent_params_init, N.IntentParams)
        p.amount = cint(amount, "amount", lo=-INT64_MAX - 1, hi=INT64_MAX)
        keep = {
            "currency": cstr(currency, "currency", required=True),
            "provider": cstr(provider, "provider"),
            "phone_number": cstr(phone_number, "customer.phone_number", required=True),
            "customer_name": cstr(customer_name, "customer.name"),
            "reference": cstr(reference, "reference"),
            "description": cstr(description, "description"),
            "metadata": cstr(_metadata_text(metadata), "metadata"),
        }
        for name, raw in keep.items():
            setattr(p, name, raw)
        if not isinstance(agent_policy, str):
            raise wrong_type("agent_policy", "a str", agent_policy)
        if agent_policy not in AGENT_POLICIES:
            raise invalid("agent_policy", "agent_policy must be one of " +
                          ", ".join(AGENT_POLICIES))
        p.agent_policy = AGENT_POLICIES[agent_policy]
        if not isinstance(draft, bool):
            raise wrong_type("draft", "a bool", draft)
        p.draft = int(draft)
        key = cstr(idempotency_key, "idempotency_key", required=True)
        return self._intent_call(N.intent_create, self._h(), ctypes.byref(p), key)

    def get(self, intent_id: str) -> Intent:
        """The intent with this id (NotFoundError if none)."""
        return self._intent_call(N.intent_get, self._h(), _id(intent_id))

    def refresh(self, intent_id: str) -> Intent:
        """As get(), but a pending intent is first settled from the rail
        (an STK query now) when its callback has not come; on a remote
        client, GET .../{id}?refresh=true."""
        return self._intent_call(N.intent_refresh, self._h(), _id(intent_id))

    def confirm(self, intent_id: str) -> Intent:
        """Sends a draft to the rail (InvalidStateError unless a draft)."""
        return self._intent_call(N.intent_confirm, self._h(), _id(intent_id))

    def retry(self, intent_id: str) -> Intent:
        """Operator-approved new attempt of a ``requires_recovery`` intent."""
        return self._intent_call(N.intent_retry, self._h(), _id(intent_id))

    def cancel(self, intent_id: str) -> Intent:
        """Cancels an intent that is not terminal."""
        return self._intent_call(N.intent_cancel, self._h(), _id(intent_id))

    def resolve(self, intent_id: str, outcome: str, *, receipt: Optional[str] = None,
                note: Optional[str] = None) -> Intent:
        """Settles a ``review_required`` intent: ``outcome`` "succeeded"
        (with the verified M-Pesa ``receipt``) or "failed"."""
        if not isinstance(outcome, str):
            raise wrong_type("outcome", "a str", outcome)
        if outcome not in ("succeeded", "failed"):
            raise invalid("outcome", "outcome must be 'succeeded' or 'failed'")
        return self._intent_call(N.intent_resolve, self._h(), _id(intent_id),
                                 int(outcome == "succeeded"), cstr(receipt, "receipt"),
                                 cstr(note, "note"))

    def simulate(self, intent_id: str, result_code: Union[int, str],
                 result_desc: Optional[str] = None) -> Intent:
        """Sandbox: delivers a provider result ("0" success, 1032 cancelled
        by the customer, ...) for the intent's current attempt."""
        if isinstance(result_code, int) and not isinstance(result_code, bool):
            result_code = str(result_code)
        code = cstr(result_code, "result_code", required=True)
        return self._intent_call(N.intent_simulate, self._h(), _id(intent_id), code,
                                 cstr(result_desc, "result_desc"))

    simulate_callback = simulate

    def list(self, *, status: Optional[str] = None, reference: Optional[str] = None,
             created_from_ms: int = 0, created_to_ms: int = 0,
             starting_after: Optional[str] = None, limit: int = 0) -> Dict[str, Any]:
        """A page of intents, newest first: {"object":"list","data":[...],
        "has_more":...}; pass the last id as ``starting_after`` for more."""
        p = N.init_struct(N.list_params_init, N.ListParams)
        if status is not None:
            if not isinstance(status, str):
                raise wrong_type("status", "a str", status)
            if status not in STATUSES:
                raise invalid("status", "unknown status " + repr(status)[:80])
            p.status = STATUSES[status]
        ref = cstr(reference, "reference")
        after = cstr(starting_after, "starting_after")
        p.reference = ref
        p.starting_after = after
        p.created_from_ms = cint(created_from_ms, "created_from_ms", lo=0, hi=INT64_MAX)
        p.created_to_ms = cint(created_to_ms, "created_to_ms", lo=0, hi=INT64_MAX)
        p.limit = cint(limit, "limit", lo=0, hi=2**63 - 1)
        out = ctypes.c_void_p()
        self._call(N.list_intents, self._h(), ctypes.byref(p), ctypes.byref(out))
        try:
            return _json_at(N.intent_list_json, out)
        finally:
            N.intent_list_free(out)

    def list_all(self, *, status: Optional[str] = None, reference: Optional[str] = None,
                 created_from_ms: int = 0, created_to_ms: int = 0,
                 starting_after: Optional[str] = None,
                 limit: int = 0) -> Iterator[Intent]:
        """Every intent matching the filters, newest first, fetched a page
        (``limit`` per page, 0 = the default) at a time as the iteration
        reaches it: ``for pi in c.list_all(status="failed"): ...``."""
        after = starting_after
        while True:
            page = self.list(status=status, reference=reference,
                             created_from_ms=created_from_ms, created_to_ms=created_to_ms,
                             starting_after=after, limit=limit)
            data = page["data"]
            for item in data:
                yield Intent(item)
            if not page.get("has_more") or not data:
                return
            after = data[-1]["id"]

    def events(self, intent_id: str) -> Dict[str, Any]:
        """The intent's timeline, oldest first: {"object":"list","data":[...]}."""
        out = ctypes.c_void_p()
        self._call(N.intent_events, self._h(), _id(intent_id), ctypes.byref(out))
        try:
            return _json_at(N.event_list_json, out)
        finally:
            N.event_list_free(out)

    def tick(self, now_ms: Optional[int] = None) -> None:
        """Drives time: due simulator outcomes, callback time-outs, automatic
        retries, expired idempotency keys. ``now_ms`` defaults to the clock.
        On a remote client it does nothing (the server drives its own time),
        so host code with a tick loop runs unchanged against either."""
        h = self._h()
        now = N.now_ms(h) if now_ms is None else cint(now_ms, "now_ms", lo=0, hi=INT64_MAX)
        self._call(N.tick, h, now)

    def now_ms(self) -> int:
        """The engine's wall clock (Unix ms)."""
        return int(N.now_ms(self._h()))

    def handle_mpesa_callback(self, body: Union[bytes, str], *,
                              query: Union[bytes, str, None] = None) -> None:
        """Applies a Daraja STK callback body exactly as received. ``query``
        is the raw query string of the callback request (``token=...``):
        the callback is authenticated by it (intent.h) and refused with
        AuthenticationError (code ``callback_unauthenticated``) when it does
        not carry the workspace's callback token. A remote client raises
        UnsupportedError (code ``remote_handle``): Daraja calls the server,
        not the client."""
        raw = body_bytes(body)
        q = None if query is None else body_bytes(query)
        self._call(N.handle_mpesa_callback, self._h(), q, 0 if q is None else len(q), raw,
                   len(raw))

    def handle_mpesa_callback_preauthenticated(self, body: Union[bytes, str]) -> None:
        """As handle_mpesa_callback() without the token check, for a host
        that authenticated the sender itself (its own secret path, mutual
        TLS). Passing it requests from the open internet lets anyone record
        payments."""
        raw = body_bytes(body)
        self._call(N.handle_mpesa_callback_preauthenticated, self._h(), raw, len(raw))

    # ---- webhook endpoints and deliveries (webhook_delivery.h) ---------------
    @staticmethod
    def _endpoint(ep: int, with_secret: bool) -> Dict[str, Any]:
        types = N.wh_endpoint_event_types(ep).decode()
        out = {"id": N.wh_endpoint_id(ep).decode(), "object": "webhook_endpoint",
               "url": N.wh_endpoint_url(ep).decode(),
               "enabled_events": types.split(",") if types else ["*"],
               "description": N.wh_endpoint_description(ep).decode() or None,
               "scheme": N.wh_endpoint_scheme(ep).decode(),
               "status": "enabled" if N.wh_endpoint_enabled(ep) else "disabled",
               "created_at_ms": int(N.wh_endpoint_created_at_ms(ep))}
        out["created_at"] = _rfc3339(out["created_at_ms"])   # REST's name and form
        if with_secret:
            out["secret"] = N.wh_endpoint_secret(ep).decode()
        return ConstraObject(out)

    def _endpoint_call(self, fn: Any, *args: Any, with_secret: bool = False) -> Dict[str, Any]:
        out = ctypes.c_void_p()
        self._call(fn, *args, ctypes.byref(out))
        try:
            return self._endpoint(out, with_secret)
        finally:
            N.wh_endpoint_free(out)

    def add_webhook_endpoint(self, url: str, *, enabled_events: Optional[Sequence[str]] = None,
                             secret: Optional[str] = None, description: Optional[str] = None,
                             scheme: Optional[str] = None) -> Dict[str, Any]:
        """Registers an endpoint (live mode: https and public addresses
        only). Returns it with its signing ``secret``, generated
        ("whsec_...") unless given: the only time it is returned.
        ``description``: text for people (at most 500 bytes of UTF-8).
        ``scheme``: which signature headers deliveries carry: "all" (the
        default: Constra-Signature, Constra-Signature-Body and, for whsec_
        secrets, the Standard Webhooks headers), "constra" or
        "standard_webhooks"."""
        p = N.init_struct(N.wh_params_init, N.WebhookEndpointParams)
        p.url = cstr(url, "url", required=True)
        if enabled_events is not None:
            if isinstance(enabled_events, (str, bytes)) or not all(
                    isinstance(e, str) for e in enabled_events):
                raise wrong_type("enabled_events", "a sequence of str", enabled_events)
            p.event_types = cstr(",".join(enabled_events), "enabled_events")
        p.secret = cstr(secret, "secret")
        p.description = cstr(description, "description")
        p.scheme = cstr(scheme, "scheme")
        return self._endpoint_call(N.wh_endpoint_add, self._h(), ctypes.byref(p),
                                   with_secret=True)

    def webhook_endpoint(self, endpoint_id: str) -> Dict[str, Any]:
        """One endpoint (without its secret)."""
        return self._endpoint_call(N.wh_endpoint_get, self._h(), _id(endpoint_id))

    def webhook_endpoints(self) -> List[Dict[str, Any]]:
        """Every endpoint, by id (without secrets)."""
        out = ctypes.c_void_p()
        self._call(N.wh_endpoint_list_get, self._h(), ctypes.byref(out))
        try:
            return [self._endpoint(N.wh_endpoint_list_at(out, i), False)
                    for i in range(N.wh_endpoint_list_count(out))]
        finally:
            N.wh_endpoint_list_free(out)

    def enable_webhook_endpoint(self, endpoint_id: str) -> Dict[str, Any]:
        self._call(N.wh_endpoint_set_enabled, self._h(), _id(endpoint_id), 1)
        return self.webhook_endpoint(endpoint_id)

    def disable_webhook_endpoint(self, endpoint_id: str) -> Dict[str, Any]:
        """Sends nothing to it until enabled (events meanwhile are skipped;
        queued deliveries wait)."""
        self._call(N.wh_endpoint_set_enabled, self._h(), _id(endpoint_id), 0)
        return self.webhook_endpoint(endpoint_id)

    def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        self._call(N.wh_endpoint_remove, self._h(), _id(endpoint_id))

    def rotate_webhook_secret(self, endpoint_id: str, *, overlap_ms: int = 0) -> Dict[str, Any]:
        """A new generated secret (returned once); both sign deliveries for
        ``overlap_ms`` (0: 24 hours; at most 7 days)."""
        ms = cint(overlap_ms, "overlap_ms", lo=0, hi=INT64_MAX)
        return self._endpoint_call(N.wh_endpoint_rotate_secret, self._h(), _id(endpoint_id), ms,
                                   with_secret=True)

    def send_test_webhook(self, endpoint_id: str) -> str:
        """Queues a webhook.test event to this endpoint only; returns the
        delivery id (sent by the next tick)."""
        buf = ctypes.create_string_buffer(64)
        self._call(N.wh_endpoint_send_test, self._h(), _id(endpoint_id), buf, len(buf))
        return buf.value.decode()

    def webhook_deliveries(self, *, endpoint: Optional[str] = None, status: Optional[str] = None,
                           starting_after: Optional[str] = None,
                           limit: int = 0) -> List[Dict[str, Any]]:
        """Deliveries, oldest first: id, endpoint, event, event_type, status
        (pending, delivered, failed), attempt_count, last_http_status,
        last_error, next_attempt_at_ms (pending), attempts, body."""
        out = ctypes.c_void_p()
        self._call(N.wh_delivery_list_get, self._h(), cstr(endpoint, "endpoint"),
                   cstr(status, "status"), cstr(starting_after, "starting_after"),
                   cint(limit, "limit", lo=0, hi=1000), ctypes.byref(out))
        try:
            rows = []
            for i in range(N.wh_delivery_list_count(out)):
                text = {k: f(out, i).decode() for k, f in N.wh_delivery_text.items()}
                n = ctypes.c_size_t(0)
                body = N.take_bytes(N.wh_delivery_body(out, i, ctypes.byref(n)), n.value)
                last = int(N.wh_delivery_last_status(out, i))
                rows.append(ConstraObject({
                    "id": text["id"], "object": "webhook_delivery",
                    "endpoint": text["endpoint_id"], "event": text["event_id"],
                    "event_type": text["event_type"], "status": text["state"],
                    "attempt_count": int(N.wh_delivery_attempts(out, i)),
                    "last_http_status": last or None,
                    "last_error": text["last_error"] or None,
                    "next_attempt_at_ms": (int(N.wh_delivery_next_attempt_at_ms(out, i))
                                           if text["state"] == "pending" else None),
                    "next_attempt_at": (_rfc3339(int(N.wh_delivery_next_attempt_at_ms(out, i)))
                                        if text["state"] == "pending" else None),
                    "attempts": _loads(text["attempts_json"] or "[]"),
                    "body": body}))
            return rows
        finally:
            N.wh_delivery_list_free(out)

    def replay_webhook_delivery(self, delivery_id: str) -> None:
        """Queues a failed or delivered delivery again, due now (same id and
        body)."""
        self._call(N.wh_delivery_replay, self._h(), _id(delivery_id))

    # ---- the REST surface, in process ----------------------------------------
    def request(self, method: str, target: str,
                headers: Union[Mapping[str, str], Sequence[Tuple[str, str]], None] = None,
                body: Union[bytes, str, None] = None) -> Response:
        """One HTTP-shaped request through the REST router (api.h), with no
        I/O: returns status, headers and the JSON body as bytes. HTTP errors
        are answers, not exceptions."""
        m = cstr(method, "method", required=True)
        t = cstr(target, "target", required=True)
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
        raw_headers = []
        for item in pairs:
            if not isinstance(item, tuple) or len(item) != 2:
                raise wrong_type("headers", "a mapping or (name, value) pairs", item)
            raw_headers.append((cstr(item[0], "headers", required=True),
                                cstr(item[1], "headers", required=True)))
        arr = (N.HttpHeader * max(1, len(raw_headers)))(*[N.HttpHeader(n, v)
                                                          for n, v in raw_headers])
        raw_body = b"" if body is None else body_bytes(body)
        body_buf = ctypes.create_string_buffer(raw_body, len(raw_body)) if raw_body else None
        req = N.init_struct(N.api_request_init, N.ApiRequest)
        req.method, req.target = m, t
        req.headers = ctypes.cast(arr, ctypes.POINTER(N.HttpHeader))
        req.header_count = len(raw_headers)
        req.body = ctypes.cast(body_buf, ctypes.c_void_p) if body_buf is not None else None
        req.body_len = len(raw_body)
        out = ctypes.c_void_p()
        self._call(N.api_handle, self._h(), ctypes.byref(req), ctypes.byref(out))
        try:
            n = ctypes.c_size_t(0)
            ptr = N.api_response_body(out, ctypes.byref(n))
            resp_body = N.take_bytes(ptr, n.value)
            hdrs = []
            for i in range(N.api_response_header_count(out)):
                hdrs.append((N.api_response_header_name(out, i).decode("latin-1"),
                             N.api_response_header_value(out, i).decode("latin-1")))
            return Response(N.api_response_status(out), hdrs, resp_body)
        finally:
            N.api_response_free(out)
