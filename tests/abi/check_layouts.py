#!/usr/bin/env python3
"""TAP: the layout program (struct_layouts, generated from the public
headers) prints valid JSON that describes each struct consistently: members
in declaration order at increasing offsets, none overlapping, all inside
sizeof; versioned structs (those whose first member is struct_size) start
with a size_t. The bindings' suites compare their declarations with this
same output. usage: check_layouts.py PATH_TO_struct_layouts"""
import json
import subprocess
import sys

n = 0
failed = 0


def check(ok, name, detail=""):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print(f"{'ok' if ok else 'not ok'} {n} - {name}")
    if not ok and detail:
        for line in detail.splitlines():
            print("# " + line)


def main():
    run = subprocess.run([sys.argv[1]], capture_output=True, text=True, timeout=60)
    check(run.returncode == 0, "struct_layouts exits 0", run.stderr)
    try:
        data = json.loads(run.stdout)
    except ValueError as exc:
        check(False, "output is JSON", str(exc))
        print(f"1..{n}")
        return 1
    structs = data.get("structs", {})
    # The structs the bindings declare must be among them (a header renamed
    # or dropped would otherwise leave the bindings' test comparing nothing).
    wanted = ["constra_error", "constra_config", "constra_intent_params",
              "constra_intent_list_params", "constra_webhook_params", "constra_result_info",
              "constra_sqlite_options", "constra_http_header", "constra_api_request",
              "constra_storage", "constra_record", "constra_record_key", "constra_record_op",
              "constra_record_event", "constra_record_commit", "constra_record_scan",
              "constra_transport_request", "constra_transport", "constra_remote_config"]
    missing = [w for w in wanted if w not in structs]
    check(not missing, f"{len(structs)} structs, the bindings' {len(wanted)} among them",
          "missing: " + ", ".join(missing))
    check(data.get("pointer_size") in (4, 8), "pointer_size is 4 or 8")
    for name, s in structs.items():
        problems = []
        end = 0
        fields = s["fields"]
        for f in fields:
            if f["offset"] < end:
                problems.append(f"{f['name']} at {f['offset']} overlaps the previous member "
                                f"(ends at {end})")
            if f["size"] <= 0:
                problems.append(f"{f['name']} has size {f['size']}")
            end = f["offset"] + f["size"]
        if end > s["size"]:
            problems.append(f"members end at {end}, beyond sizeof {s['size']}")
        if s["size"] % s["align"]:
            problems.append(f"sizeof {s['size']} is not a multiple of the alignment {s['align']}")
        # The tail padding is less than the alignment: no member was left out
        # at the end (the generator reads the headers, this checks it did).
        if s["size"] - end >= s["align"]:
            problems.append(f"{s['size'] - end} bytes after the last member: one missing?")
        if fields and fields[0]["name"] == "struct_size":
            if fields[0]["offset"] != 0 or fields[0]["size"] != data.get("size_t_size"):
                problems.append("struct_size is not a size_t at offset 0")
        check(not problems, f"{name} ({s['header']}): {len(fields)} members, sizeof {s['size']}",
              "\n".join(problems))
    print(f"1..{n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
