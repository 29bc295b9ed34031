#!/usr/bin/env python3
"""TAP: every `CONSTRA_API int constra_*_init(` of the public headers is
covered by test_inits (its --list), and nothing else is listed.
usage: check_inits.py INCLUDE_DIR PATH_TO_test_inits"""
import pathlib
import re
import subprocess
import sys

headers = sorted(pathlib.Path(sys.argv[1]).rglob("*.h"))
declared = set()
for h in headers:
    declared |= set(re.findall(r"CONSTRA_API\s+int\s+(constra_\w+_init)\s*\(", h.read_text()))
listed = set(subprocess.run([sys.argv[2], "--list"], capture_output=True, text=True,
                            timeout=60, check=True).stdout.split())
n = 0
for name, ok, detail in (("every public _init is tested", declared <= listed, declared - listed),
                         ("only public _init functions are listed", listed <= declared,
                          listed - declared),
                         ("more than 20 found", len(declared) > 20, len(declared))):
    n += 1
    print(f"{'ok' if ok else 'not ok'} {n} - {name}")
    if not ok:
        print(f"# {sorted(detail) if isinstance(detail, set) else detail}")
print(f"1..{n}")
sys.exit(0 if declared == listed and len(declared) > 20 else 1)
