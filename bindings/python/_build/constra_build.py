"""A PEP 517 build backend in the standard library only.

Why not setuptools: building a wheel with setuptools < 70.1 needs the
separate `wheel` package, which a stock Python may lack (this project's CI
Python does), and fetching it needs the network. The package is pure
Python, so a wheel is a zip of constra/ plus three metadata files; this
backend writes exactly that, and `pip install ./bindings/python` works
offline with any pip, with or without build isolation.

The built libconstra is bundled: when a built library is at hand
(CONSTRA_LIBRARY at build time, else build/lib/libconstra.so.0 of this
source tree, else the newest other build*/lib/ one; never a sanitizer
build's, which loads only with the ASan runtime preloaded), the wheel carries it as constra/_lib/libconstra.so.0
and is tagged for this platform; the package loads it before any other
(constra/_native.py). Why bundle rather than find an installed one through
pkg-config or the system loader: `pip install` then needs no `meson
install` (nor root) first, and the package always runs against the library
it was built with, never an older or newer one installed system-wide (the
struct mirrors in _native.py must match the library's layouts). The
library's own dependencies (libcrypto, libcurl, libsqlite3) stay the
system's. With no built library found, the wheel is pure Python and finds
an installed libconstra at import (CONSTRA_LIBRARY, the system loader).
"""
import base64
import glob
import hashlib
import os
import sys
import sysconfig
import tarfile
import zipfile

NAME = "constra"
VERSION = "0.1.0"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PURE_TAG = "py3-none-any"
DIST_INFO = f"{NAME}-{VERSION}.dist-info"
LIB_NAME = "libconstra.so.0"


def _built_library():
    """The libconstra to bundle: CONSTRA_LIBRARY, else the newest
    build*/lib/libconstra.so.0 of the source tree; None if there is none."""
    explicit = os.environ.get("CONSTRA_LIBRARY")
    if explicit:
        if not os.path.isfile(explicit):
            raise RuntimeError(f"CONSTRA_LIBRARY={explicit!r} is not a file")
        return os.path.realpath(explicit)
    root = os.path.dirname(os.path.dirname(HERE))
    found = [p for p in glob.glob(os.path.join(root, "build*", "lib", LIB_NAME))
             if os.path.isfile(p) and not _sanitized(p)]
    if not found:
        return None
    # build/ (scripts/build.sh's default) first, else the newest.
    plain = os.path.join(root, "build", "lib", LIB_NAME)
    return os.path.realpath(plain if plain in found else max(found, key=os.path.getmtime))


def _sanitized(path):
    """An AddressSanitizer build's library (build-asan/) loads only with the
    ASan runtime preloaded: never the one to ship."""
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def _platform_tag():
    return "py3-none-" + sysconfig.get_platform().replace("-", "_").replace(".", "_")


def _metadata():
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return ("Metadata-Version: 2.1\n"
            f"Name: {NAME}\nVersion: {VERSION}\n"
            "Summary: Python binding of libconstra: payment operations on mobile-money rails\n"
            "License: MIT\nRequires-Python: >=3.8\n"
            "Description-Content-Type: text/markdown\n\n" + readme)


def _wheel_file(tag=PURE_TAG):
    pure = "true" if tag == PURE_TAG else "false"
    return f"Wheel-Version: 1.0\nGenerator: constra_build\nRoot-Is-Purelib: {pure}\nTag: {tag}\n"


def _package_files():
    pkg = os.path.join(HERE, NAME)
    for name in sorted(os.listdir(pkg)):
        if name.endswith(".py") or name == "py.typed":
            yield f"{NAME}/{name}", os.path.join(pkg, name)


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}\n"


def _write_wheel(wheel_directory, entries, tag=PURE_TAG):
    filename = f"{NAME}-{VERSION}-{tag}.whl"
    record = ""
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w",
                         zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in entries:
            zf.writestr(arcname, data)
            record += _record_line(arcname, data)
        record += f"{DIST_INFO}/RECORD,,\n"
        zf.writestr(f"{DIST_INFO}/RECORD", record)
    return filename


def _dist_info_entries(tag=PURE_TAG):
    return [(f"{DIST_INFO}/METADATA", _metadata().encode()),
            (f"{DIST_INFO}/WHEEL", _wheel_file(tag).encode()),
            (f"{DIST_INFO}/top_level.txt", f"{NAME}\n".encode())]


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    target = os.path.join(metadata_directory, DIST_INFO)
    os.makedirs(target, exist_ok=True)
    lib = _built_library()
    for arcname, data in _dist_info_entries(_platform_tag() if lib else PURE_TAG):
        with open(os.path.join(metadata_directory, arcname), "wb") as f:
            f.write(data)
    return DIST_INFO


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    entries = []
    for arcname, path in _package_files():
        with open(path, "rb") as f:
            entries.append((arcname, f.read()))
    tag = PURE_TAG
    lib = _built_library()
    if lib:
        with open(lib, "rb") as f:
            entries.append((f"{NAME}/_lib/{LIB_NAME}", f.read()))
        tag = _platform_tag()
        print(f"constra_build: bundling {lib} as {NAME}/_lib/{LIB_NAME}", file=sys.stderr)
    else:
        print("constra_build: no built libconstra found (CONSTRA_LIBRARY, build*/lib/): "
              "a pure wheel, which loads an installed libconstra", file=sys.stderr)
    return _write_wheel(wheel_directory, entries + _dist_info_entries(tag), tag)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # PEP 660: a .pth file puts the source directory on sys.path.
    pth = (HERE + "\n").encode()
    return _write_wheel(wheel_directory, [(f"__editable__.{NAME}.pth", pth)] +
                        _dist_info_entries())


def build_sdist(sdist_directory, config_settings=None):
    base = f"{NAME}-{VERSION}"
    filename = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as tf:
        for rel in ["pyproject.toml", "README.md", "_build/constra_build.py"] + \
                [a for a, _ in _package_files()]:
            tf.add(os.path.join(HERE, rel), arcname=f"{base}/{rel}")
        info = _metadata().encode()
        import io
        ti = tarfile.TarInfo(f"{base}/PKG-INFO")
        ti.size = len(info)
        tf.addfile(ti, io.BytesIO(info))
    return filename
