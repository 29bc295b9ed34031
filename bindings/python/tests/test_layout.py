"""The ctypes struct declarations in constra/_native.py against the
compiler's layouts: tests/abi's struct_layouts program (path in
CONSTRA_LAYOUTS, set by meson) prints sizeof, alignment and each member's
offset and size of every public struct as JSON.

Any difference fails: a field at another offset or of another size, a field
the C struct does not have, a C member the binding skipped inside what it
declares, a whole struct the C side does not have. A versioned struct
(struct_size first) may be declared as a prefix: the library reads
struct_size, so an older binding stays correct. The C members beyond the
binding's declaration are then reported as `# ...` warning lines, not
failures."""
import copy
import ctypes
import json
import os
import subprocess
import unittest

from constra import _native

# C name of every struct _native declares.
C_NAMES = {
    _native.Error: "constra_error",
    _native.Config: "constra_config",
    _native.IntentParams: "constra_intent_params",
    _native.ListParams: "constra_intent_list_params",
    _native.WebhookParams: "constra_webhook_params",
    _native.ResultInfo: "constra_result_info",
    _native.SqliteOptions: "constra_sqlite_options",
    _native.HttpHeader: "constra_http_header",
    _native.ApiRequest: "constra_api_request",
    _native.RecordKey: "constra_record_key",
    _native.Record: "constra_record",
    _native.RecordOp: "constra_record_op",
    _native.RecordEvent: "constra_record_event",
    _native.RecordCommit: "constra_record_commit",
    _native.RecordScan: "constra_record_scan",
    _native.Storage: "constra_storage",
    _native.TransportRequest: "constra_transport_request",
    _native.Transport: "constra_transport",
    _native.RemoteConfig: "constra_remote_config",
    _native.WebhookEndpointParams: "constra_webhook_endpoint_params",
}


def declared(cls):
    """A ctypes Structure as the comparison sees it."""
    return {"size": ctypes.sizeof(cls),
            "fields": [{"name": name, "offset": getattr(cls, name).offset,
                        "size": getattr(cls, name).size} for name, *_ in cls._fields_]}


def compare(c_name, binding, c_structs):
    """(errors, warnings) comparing one binding declaration with the C
    layout of c_name. Both lists hold sentences naming the struct and field."""
    errors, warnings = [], []
    c = c_structs.get(c_name)
    if c is None:
        return [f"{c_name}: the binding declares it, the C headers have no such struct"], []
    c_by_name = {f["name"]: f for f in c["fields"]}
    c_by_offset = {f["offset"]: f for f in c["fields"]}
    b_names = {f["name"] for f in binding["fields"]}
    for f in binding["fields"]:
        cf = c_by_name.get(f["name"])
        if cf is None:
            other = c_by_offset.get(f["offset"])
            where = f", where C has {other['name']}" if other else ""
            errors.append(f"{c_name}.{f['name']}: not a member of the C struct "
                          f"(binding offset {f['offset']}{where})")
            continue
        if cf["offset"] != f["offset"]:
            other = c_by_offset.get(f["offset"])
            where = f" (C has {other['name']} there)" if other else ""
            errors.append(f"{c_name}.{f['name']}: binding offset {f['offset']}{where}, "
                          f"C offset {cf['offset']}")
        if cf["size"] != f["size"]:
            errors.append(f"{c_name}.{f['name']}: binding size {f['size']}, C size {cf['size']}")
    end = max((f["offset"] + f["size"] for f in binding["fields"]), default=0)
    versioned = bool(c["fields"]) and c["fields"][0]["name"] == "struct_size" and \
        bool(binding["fields"]) and binding["fields"][0]["name"] == "struct_size"
    beyond = []
    for cf in c["fields"]:
        if cf["name"] in b_names:
            continue
        if cf["offset"] < end:
            errors.append(f"{c_name}.{cf['name']}: C member at offset {cf['offset']} missing "
                          f"from the binding's declaration")
        elif versioned:
            beyond.append(cf["name"])
        else:
            errors.append(f"{c_name}.{cf['name']}: C member missing from the binding "
                          f"(not a versioned struct: it must be declared whole)")
    if beyond:
        warnings.append(f"{c_name}: the binding declares a prefix; C members beyond it: "
                        + ", ".join(beyond))
        if binding["size"] > c["size"]:
            errors.append(f"{c_name}: binding sizeof {binding['size']} > C sizeof {c['size']}")
    elif binding["size"] != c["size"]:
        errors.append(f"{c_name}: binding sizeof {binding['size']}, C sizeof {c['size']}")
    return errors, warnings


def compare_all(bindings, c_structs):
    errors, warnings = [], []
    for c_name, binding in bindings.items():
        e, w = compare(c_name, binding, c_structs)
        errors += e
        warnings += w
    return errors, warnings


def c_layouts():
    prog = os.environ.get("CONSTRA_LAYOUTS", "")
    if not prog or not os.path.isfile(prog):
        raise AssertionError(f"CONSTRA_LAYOUTS={prog!r} is not tests/abi's struct_layouts "
                             "program (meson sets it)")
    out = subprocess.run([prog], capture_output=True, text=True, timeout=60, check=True).stdout
    return json.loads(out)["structs"]


def binding_layouts():
    return {name: declared(cls) for cls, name in C_NAMES.items()}


class Layouts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = c_layouts()

    def test_declarations_match_the_compiler(self):
        errors, warnings = compare_all(binding_layouts(), self.c)
        for w in warnings:
            print(f"# layout warning: {w}", flush=True)
        self.assertEqual(errors, [], "\n" + "\n".join(errors))

    def test_every_declared_struct_is_checked(self):
        structs = {v for v in vars(_native).values()
                   if isinstance(v, type) and issubclass(v, ctypes.Structure)
                   and v.__module__ == _native.__name__}
        self.assertEqual(structs - set(C_NAMES), set(), "a struct of _native without a C name")
        self.assertEqual(len(set(C_NAMES.values())), len(C_NAMES))


class Doctored(unittest.TestCase):
    """The comparison itself, fed a doctored copy of the real C layout."""

    @classmethod
    def setUpClass(cls):
        cls.c = c_layouts()
        cls.b = binding_layouts()

    def doctored(self):
        return copy.deepcopy(self.c)

    def field(self, c, struct, name):
        return next(f for f in c[struct]["fields"] if f["name"] == name)

    def appended(self, struct, name):
        """A doctored copy where the C struct has one more 8-byte member."""
        c = self.doctored()
        s = c[struct]
        s["fields"].append({"name": name, "offset": s["size"], "size": 8})
        s["size"] += 8
        return c

    def test_clean_copy_has_no_errors(self):
        errors, _ = compare_all(self.b, self.doctored())
        self.assertEqual(errors, [])

    def test_moved_field_is_reported(self):
        c = self.doctored()
        # constra_config.mode moved to where callback_timeout_ms is.
        self.field(c, "constra_config", "mode")["offset"] += 8
        errors, _ = compare_all(self.b, c)
        self.assertTrue(any("constra_config.mode" in e and "C offset 40" in e for e in errors),
                        errors)

    def test_swapped_fields_are_reported(self):
        c = self.doctored()
        a = self.field(c, "constra_storage", "commit")
        b = self.field(c, "constra_storage", "get")
        a["offset"], b["offset"] = b["offset"], a["offset"]
        errors, _ = compare_all(self.b, c)
        self.assertTrue(any("constra_storage.commit" in e for e in errors), errors)
        self.assertTrue(any("constra_storage.get" in e for e in errors), errors)

    def test_resized_field_is_reported(self):
        c = self.doctored()
        self.field(c, "constra_error", "code")["size"] = 65
        errors, _ = compare_all(self.b, c)
        self.assertTrue(any("constra_error.code: binding size 64, C size 65" in e
                            for e in errors), errors)

    def test_renamed_field_is_reported(self):
        c = self.doctored()
        self.field(c, "constra_sqlite_options", "synchronous")["name"] = "sync_mode"
        errors, _ = compare_all(self.b, c)
        self.assertTrue(any("constra_sqlite_options.synchronous: not a member" in e
                            and "where C has sync_mode" in e for e in errors), errors)
        self.assertTrue(any("constra_sqlite_options.sync_mode: C member at offset" in e
                            for e in errors), errors)

    def test_member_skipped_inside_the_declaration_is_reported(self):
        b = copy.deepcopy(self.b)
        fields = b["constra_intent_params"]["fields"]
        b["constra_intent_params"]["fields"] = [f for f in fields if f["name"] != "provider"]
        errors, _ = compare_all(b, self.c)
        self.assertTrue(any("constra_intent_params.provider: C member at offset" in e
                            for e in errors), errors)

    def test_prefix_of_versioned_struct_is_a_warning(self):
        errors, warnings = compare_all(self.b, self.appended("constra_sqlite_options",
                                                             "journal_mode"))
        self.assertEqual(errors, [])
        self.assertTrue(any("constra_sqlite_options" in w and "journal_mode" in w
                            for w in warnings), warnings)

    def test_unversioned_struct_must_be_whole(self):
        errors, _ = compare_all(self.b, self.appended("constra_http_header", "flags"))
        self.assertTrue(any("constra_http_header.flags" in e for e in errors), errors)

    def test_struct_missing_from_c_is_reported(self):
        c = self.doctored()
        del c["constra_transport"]
        errors, _ = compare_all(self.b, c)
        self.assertTrue(any(e.startswith("constra_transport: ") for e in errors), errors)

    def test_size_mismatch_is_reported(self):
        c = self.doctored()
        c["constra_api_request"]["size"] += 8
        errors, _ = compare_all(self.b, c)
        self.assertTrue(any("constra_api_request: binding sizeof" in e for e in errors), errors)


if __name__ == "__main__":
    unittest.main()
