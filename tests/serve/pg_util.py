"""What the PostgreSQL serve tests share: the server in CONSTRA_TEST_PG,
psql on it, and a fresh database per test with the URL constra serve
takes for it."""
import glob
import os
import shlex
import shutil
import subprocess
import urllib.parse

conninfo = os.environ.get("CONSTRA_TEST_PG", "")


def parse_conninfo(ci):
    """The key=value pairs of a libpq conninfo (values may be quoted)."""
    if ci.startswith("postgres://") or ci.startswith("postgresql://"):
        u = urllib.parse.urlsplit(ci)
        opts = dict(urllib.parse.parse_qsl(u.query))
        if u.hostname:
            opts.setdefault("host", u.hostname)
        if u.port:
            opts.setdefault("port", str(u.port))
        if u.username:
            opts.setdefault("user", urllib.parse.unquote(u.username))
        if u.password:
            opts.setdefault("password", urllib.parse.unquote(u.password))
        if u.path.strip("/"):
            opts.setdefault("dbname", u.path.strip("/"))
        return opts
    opts = {}
    for part in shlex.split(ci):
        k, _, v = part.partition("=")
        opts[k.strip()] = v
    return opts


opts = parse_conninfo(conninfo)


def psql_bin():
    found = shutil.which("psql")
    if found:
        return found
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    return cands[-1] if cands else "psql"


def psql(sql, db=None):
    o = dict(opts)
    if db:
        o["dbname"] = db
    ci = " ".join(f"{k}='" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
                  for k, v in o.items())
    r = subprocess.run([psql_bin(), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", ci,
                        "-c", sql], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"psql {sql!r}: {r.stderr.strip()}")
    return r.stdout



def make_database(tag):
    """A fresh database on the server; returns (its postgresql:// URL for
    --db, a function that drops it)."""
    name = f"constra_{tag}_{os.getpid()}"
    psql(f"DROP DATABASE IF EXISTS {name}")
    psql(f"CREATE DATABASE {name}")
    # The same server, this database; everything else as query parameters.
    q = {k: v for k, v in opts.items() if k != "dbname"}
    url = f"postgresql:///{name}?" + urllib.parse.urlencode(q)

    def drop():
        try:
            psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print(f"# cannot drop {name}: {e}")
    return url, drop
