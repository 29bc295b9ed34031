#!/usr/bin/env python3
"""Adds up the results of meson test runs and prints `N passed, N failed`.

Reads <build>/meson-logs/testlog.json for each build directory given;
`--extra NAME:ok|fail ...` adds checks that are not meson tests (a release
build, the fuzz run), one count each.
A TAP test contributes one count per `ok`/`not ok` line (cmocka cases,
script checks); a test whose process failed without a `not ok` line
(crash, sanitizer abort, time-out) counts one failure more. A build
directory without a test log counts as one failure: nothing ran.
"""
import json
import os
import re
import sys

TAP = re.compile(r"^(not ok|ok)\b(.*)$")


def count(build):
    passed = failed = skipped = 0
    path = os.path.join(build, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        print(f"{build}: no test log (build failed?)", file=sys.stderr)
        return 0, 1, 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            result = t.get("result")
            lines = [TAP.match(l) for l in (t.get("stdout") or "").splitlines()]
            lines = [m for m in lines if m]
            ok = sum(1 for m in lines if m.group(1) == "ok" and "# SKIP" not in m.group(2))
            skip = sum(1 for m in lines if "# SKIP" in m.group(2))
            bad = sum(1 for m in lines if m.group(1) == "not ok")
            if not lines:
                if result == "OK":
                    ok = 1
                elif result == "SKIP":
                    skip = 1
                else:
                    bad = 1
            elif result not in ("OK", "SKIP") and bad == 0:
                bad = 1  # the process failed after its last report
            passed += ok
            failed += bad
            skipped += skip
            if result not in ("OK", "SKIP"):
                print(f"{build}: {t.get('name')}: {result}", file=sys.stderr)
    return passed, failed, skipped


def main():
    total = [0, 0, 0]
    args = sys.argv[1:]
    extras = []
    if "--extra" in args:
        i = args.index("--extra")
        args, extras = args[:i], args[i + 1:]
    for item in extras:
        name, _, verdict = item.rpartition(":")
        ok = verdict == "ok"
        print(f"{name}: {'passed' if ok else 'FAILED'}")
        total[0 if ok else 1] += 1
    for build in args:
        p, f, s = count(build)
        print(f"{build}: {p} passed, {f} failed, {s} skipped")
        total = [total[0] + p, total[1] + f, total[2] + s]
    print(f"{total[0]} passed, {total[1]} failed, {total[2]} skipped")
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main())
