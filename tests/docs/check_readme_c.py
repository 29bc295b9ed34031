#!/usr/bin/env python3
"""Every C fragment of a Markdown file compiles and links as written.

    check_readme_c.py --cc CC --include DIR [--include DIR...] --lib LIBFILE [--flag F...] MARKDOWN_FILE...

Each fenced ```c block is one check (TAP). How it is compiled is said by
an HTML comment on the line just before its fence (invisible on GitHub):

  (no comment)                          the block is a whole translation unit
  <!-- c-fragment: wrap-in-main -->     statements: the block's own #include
                                        lines go first, after the prelude
                                        (constra.h, stdio.h, stdlib.h,
                                        string.h); the rest becomes the body
                                        of int main(void), then return 0
  <!-- c-fragment: skip REASON -->      not compiled (the reason is printed)

Compiled as C11 with -Wall -Wextra -Werror (unused variables and parameters
allowed: a fragment may show a value without using it), linked against the
built library, so a misspelt function, a missing argument or a wrong type
fails the check with the compiler's message.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

PRELUDE = "#include <constra.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
MARK = re.compile(r"<!--\s*c-fragment:\s*([a-z-]+)\s*(.*?)\s*-->")
FLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-variable",
         "-Wno-unused-but-set-variable", "-Wno-unused-parameter", "-Wno-unused-function"]


def fragments(path):
    """(line number, mode, reason, code) for each ```c block."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```c\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent = len(m.group(1))
        start = i + 1
        mode, reason = "file", ""
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        mark = MARK.search(lines[j]) if j >= 0 else None
        if mark:
            mode, reason = mark.group(1), mark.group(2)
        i += 1
        body = []
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1
        yield start, mode, reason, "\n".join(body) + "\n"


def wrap(code):
    includes = [l for l in code.split("\n") if l.lstrip().startswith("#include")]
    rest = [l for l in code.split("\n") if not l.lstrip().startswith("#include")]
    body = "\n".join("    " + l if l.strip() else "" for l in rest)
    return (PRELUDE + "\n".join(includes) + "\n\nint main(void)\n{\n" + body +
            "\n    return 0;\n}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", required=True)
    ap.add_argument("--include", action="append", default=[])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--flag", action="append", default=[],
                    help="one more compiler flag (the build's -fsanitize=...)")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    checks = []
    for path in a.files:
        for line, mode, reason, code in fragments(path):
            checks.append((os.path.basename(path), line, mode, reason, code))
    print(f"1..{len(checks)}")
    failed = 0
    libdir = os.path.dirname(os.path.abspath(a.lib))
    FLAGS.extend(a.flag)
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, line, mode, reason, code) in enumerate(checks, 1):
            title = f"{name}:{line} C fragment compiles ({mode})"
            if mode == "skip":
                print(f"ok {n} - {title} # SKIP {reason or 'marked skip'}")
                continue
            if mode not in ("file", "wrap-in-main"):
                print(f"not ok {n} - {title}\n# unknown c-fragment mode {mode!r}")
                failed += 1
                continue
            src = wrap(code) if mode == "wrap-in-main" else code
            c_file = os.path.join(tmp, f"fragment{n}.c")
            with open(c_file, "w", encoding="utf-8") as f:
                f.write(src)
            cmd = [a.cc] + FLAGS + [f"-I{d}" for d in a.include] + \
                [c_file, "-o", os.path.join(tmp, f"fragment{n}"), a.lib, f"-Wl,-rpath,{libdir}"]
            if mode == "file" and "main(" not in code:
                cmd = [a.cc] + FLAGS + [f"-I{d}" for d in a.include] + \
                    ["-c", c_file, "-o", os.path.join(tmp, f"fragment{n}.o")]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode == 0:
                print(f"ok {n} - {title}")
            else:
                failed += 1
                print(f"not ok {n} - {title}")
                for l in (r.stdout + r.stderr).splitlines()[:40]:
                    print("# " + l)
                print("# --- compiled source:")
                for k, l in enumerate(src.splitlines(), 1):
                    print(f"# {k:3} {l}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
