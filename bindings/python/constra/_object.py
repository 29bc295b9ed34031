"""Results as objects with attribute and key access, as Stripe's are."""
import json
from typing import Any


class ConstraObject(dict):
    """A JSON object of the API: a dict (``pi["status"]``, ``==`` with a
    dict, ``json.dumps``) whose keys are also attributes (``pi.status``,
    ``pi.recovery.agent_note``); nested objects are ConstraObjects too.
    A key that is also a dict method (``items``, ``keys``...) is read with
    ``[...]``; a missing key raises AttributeError as attribute access and
    KeyError as item access."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no field {name!r}") from None

    def __dir__(self):
        return sorted(set(super().__dir__()) | {k for k in self if isinstance(k, str)})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"


def loads(text: Any) -> Any:
    """json.loads with every JSON object a ConstraObject."""
    return json.loads(text, object_hook=ConstraObject)


def wrap(value: Any) -> Any:
    """A plain dict/list tree made of ConstraObjects (nested)."""
    if isinstance(value, dict):
        return ConstraObject((k, wrap(v)) for k, v in value.items())
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value
