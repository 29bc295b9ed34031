#!/usr/bin/env python3
"""Host-side checks and figures of the firmware builds (issue 16).

  fw_check.py budgets MAP_PURE MAP_ENGINE PURE_MAX ENGINE_MAX
      TAP: libconstra's .text (incl. read-only data) in the pure and the
      engine image, after --gc-sections, within the budgets (bytes).
  fw_check.py signature QEMU_CMD... -- ELF
      TAP: runs the image (test_pure) under QEMU, reads the signature it
      made ("# target-signature ..."), verifies it here with Python's hmac.
  fw_check.py table BUILD_DIR...
      Prints .text/.data/.bss per component of the pure and the engine
      image of each build, and the arena and stack figures the firmware
      suite printed (its meson test log).
Map files are GNU ld's (-Wl,-Map); .text counts .text, .rodata and
.ARM.exidx; .data counts .data and .tdata; .bss counts .bss and .tbss (the
stack region is reported apart).
"""
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys

COMPONENTS = ["libconstra", "cJSON", "mbedTLS", "libc+libgcc", "start-up+program"]


def component(path):
    # Meson bundles the subprojects' static libraries into libconstra.a:
    # their members are told apart by name.
    if "libcjson.a" in path or "(cJSON.c.o)" in path:
        return "cJSON"
    if "libmbedcrypto.a" in path or "(library_sha256.c.o)" in path or \
            "(library_platform_util.c.o)" in path:
        return "mbedTLS"
    if "libconstra.a" in path:
        return "libconstra"
    if "libfw_board.a" in path or ".elf.p/" in path:
        return "start-up+program"
    return "libc+libgcc"


def kind(out_section):
    if out_section in (".text", ".ARM.exidx", ".rodata"):
        return "text"
    if out_section in (".data", ".tdata"):
        return "data"
    if out_section in (".bss", ".tbss"):
        return "bss"
    return None


ENTRY = re.compile(r"^\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*)$")


def parse_map(path):
    """{component: {text, data, bss}} from a GNU ld map file."""
    sizes = {c: {"text": 0, "data": 0, "bss": 0} for c in COMPONENTS}
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    try:
        start = lines.index("Linker script and memory map")
    except ValueError:
        start = 0
    out = None
    pending = False  # an input section name alone on its line
    for line in lines[start:]:
        m = re.match(r"^(\.[\w.]+)\s*(0x[0-9a-f]+)?", line)
        if m and not line.startswith(" "):
            out = m.group(1)
            continue
        if line.startswith(" *fill*") or line.startswith(" *(") or not line.strip():
            pending = False
            continue
        stripped = line[1:] if line.startswith(" ") else line
        if line.startswith(" .") or line.startswith(" COMMON"):
            parts = stripped.split()
            if len(parts) >= 4 and parts[1].startswith("0x"):
                add(sizes, out, int(parts[2], 16), " ".join(parts[3:]))
                pending = False
            else:
                pending = True
            continue
        if pending:
            e = ENTRY.match(line)
            if e:
                add(sizes, out, int(e.group(2), 16), e.group(3))
            pending = False
    return sizes


def add(sizes, out, n, path):
    k = kind(out or "")
    if k is None or n == 0:
        return
    sizes[component(path)][k] += n


def budgets(args):
    pure, engine, pure_max, engine_max = args[0], args[1], int(args[2]), int(args[3])
    p = parse_map(pure)["libconstra"]["text"]
    e = parse_map(engine)["libconstra"]["text"]
    ok1 = 0 < p <= pure_max
    ok2 = 0 < e <= engine_max
    print(f"{'ok' if ok1 else 'not ok'} 1 - pure image: libconstra .text {p} B <= {pure_max} B")
    print(f"{'ok' if ok2 else 'not ok'} 2 - engine image: libconstra .text {e} B <= {engine_max} B")
    print("1..2")
    return 0 if ok1 and ok2 else 1


def signature(args):
    sep = args.index("--")
    cmd, elf = args[:sep], args[sep + 1]
    run = subprocess.run(cmd + [elf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=120, check=False)
    text = run.stdout.decode("utf-8", "replace")
    m = re.search(r"^# target-signature secret=(\S+) timestamp=(\d+) body=(\S+) header=(\S+)$",
                  text, re.M)
    if not m:
        print("not ok 1 - the target printed its signature")
        print("# " + text.replace("\n", "\n# "))
        print("1..1")
        return 1
    secret, ts, body, header = m.groups()
    mac = hmac.new(secret.encode(), (ts + ".").encode() + body.encode(), hashlib.sha256)
    want = f"t={ts},v1={mac.hexdigest()}"
    ok = hmac.compare_digest(want, header)
    print(f"{'ok' if ok else 'not ok'} 1 - a signature made on the target verifies on the host")
    print(f"# {header}")
    print("1..1")
    return 0 if ok else 1


def figures(build):
    """The figures the firmware suite printed, from the meson test log."""
    found = {}
    path = os.path.join(build, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        return found
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            out = t.get("stdout") or ""
            for key in ("arena-high-water", "arena-minimum"):
                m = re.search(rf"^# {key} (\d+) B", out, re.M)
                if m:
                    found[key] = int(m.group(1))
            m = re.search(r"^# stack (\d+) B", out, re.M)
            if m:
                found["stack " + t["name"]] = int(m.group(1))
    return found


def table(builds):
    for build in builds:
        print(f"== {os.path.basename(build.rstrip('/'))}")
        print(f"{'image':8} {'component':18} {'.text':>8} {'.data':>7} {'.bss':>7}")
        for image, name in (("pure", "size_pure"), ("engine", "payment_loop")):
            m = os.path.join(build, "examples", "firmware", name + ".map")
            if not os.path.exists(m):
                m = os.path.join(build, name + ".map")
            if not os.path.exists(m):
                print(f"{image:8} (no map file {name}.map)")
                continue
            sizes = parse_map(m)
            total = {"text": 0, "data": 0, "bss": 0}
            for c in COMPONENTS:
                s = sizes[c]
                for k in total:
                    total[k] += s[k]
                print(f"{image:8} {c:18} {s['text']:>8} {s['data']:>7} {s['bss']:>7}")
            print(f"{image:8} {'total':18} {total['text']:>8} {total['data']:>7} {total['bss']:>7}")
        f = figures(build)
        if f:
            print("  " + ", ".join(f"{k} {v} B" for k, v in sorted(f.items())))
    return 0


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    what, args = sys.argv[1], sys.argv[2:]
    return {"budgets": budgets, "signature": signature, "table": table}[what](args)


if __name__ == "__main__":
    sys.exit(main())
