#!/usr/bin/env python3
"""TAP: the code cites only documents that are in the repository.

Every `NAME.md` mentioned in lib/, include/, tools/, tests/, bindings/,
examples/, bench/, scripts/, doc/ and README.md must name a file of the
repository (a path from the root, or a file beside the citing one), and
every numbered citation of doc/DESIGN.md or doc/DARAJA.md ("DESIGN.md
section 5", "DARAJA.md 6.2", "sections 6 and 7") must name a heading that
exists in that document.
usage: check_doc_refs.py SOURCE_ROOT"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1]).resolve()
dirs = ["lib", "include", "tools", "tests", "bindings", "examples", "bench", "scripts", "doc"]
skip = {"node_modules", "fixtures", "vectors"}
suffixes = {".c", ".h", ".py", ".js", ".ts", ".md", ".sh", ".build", ".txt", ".html", ".1"}


def sources():
    yield root / "README.md"
    for d in dirs:
        for p in sorted((root / d).rglob("*")):
            if p.is_file() and p.suffix in suffixes and not skip & set(p.relative_to(root).parts):
                yield p


def headings(doc):
    """Section numbers of a document: '## 6.' and '### 6.2' give 6 and 6.2."""
    found = set()
    for line in (root / doc).read_text(encoding="utf-8").splitlines():
        m = re.match(r"#{2,4}\s+(\d+(?:\.\d+)?)\.?\s", line)
        if m:
            found.add(m.group(1))
    return found


numbered = {name: headings(f"doc/{name}") for name in ("DESIGN.md", "DARAJA.md")}
MD = re.compile(r"[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md\b")
CITE = re.compile(r"(DESIGN|DARAJA)\.md`?,?\s+(?:sections?\s+|s\.\s*)?"
                  r"(\d+(?:\.\d+)?(?:(?:,\s*|\s+and\s+)\d+(?:\.\d+)?)*)")
missing, bad_sections, seen = [], [], 0
for src in sources():
    if src.resolve() == pathlib.Path(__file__).resolve():
        continue  # this file names the documents it checks
    text = src.read_text(encoding="utf-8", errors="replace")
    for m in MD.finditer(text):
        ref = m.group(0).lstrip("./")
        start = max(text.rfind(c, 0, m.start()) for c in " \t\n(<\"'`") + 1
        if "://" in text[start:m.end()]:
            continue  # part of a URL: not a repository document
        seen += 1
        if not ((root / ref).is_file() or (src.parent / ref).is_file()):
            missing.append(f"{src.relative_to(root)}: {m.group(0)}")
    for m in CITE.finditer(text):
        for number in re.split(r",\s*|\s+and\s+", m.group(2)):
            if number not in numbered[m.group(1) + ".md"]:
                bad_sections.append(f"{src.relative_to(root)}: {m.group(0)}")
checks = [("every cited .md file is in the repository", not missing, missing),
          ("every numbered citation names an existing section", not bad_sections, bad_sections),
          ("citations were found at all", seen > 20, [f"only {seen}"])]
for n, (name, ok, detail) in enumerate(checks, 1):
    print(f"{'ok' if ok else 'not ok'} {n} - {name}")
    for d in ([] if ok else detail[:20]):
        print(f"# {d}")
print(f"1..{len(checks)}")
sys.exit(0 if all(ok for _, ok, _ in checks) else 1)
