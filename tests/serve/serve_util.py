"""Shared helpers of the `constra serve` tests (standard library only).

Each test script starts its own server on a free port (`--port 0`), reads
the port and key from the start-up lines, and reports every check as a TAP
line (`ok N - name` / `not ok N - name`) so that meson and
scripts/test_totals.py count each one. The script exits non-zero if any
check failed.
"""
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SEED_BODY = {
    "amount": 1250,
    "currency": "KES",
    "provider": "mpesa",
    "customer": {"name": "Amina N.", "phone_number": "254700000000"},
    "reference": "order_7429",
    "description": "Solar home kit deposit",
    "agent_policy": "operator_review",
}

# Generous: the sanitizer build starts slowly on a shared machine.
START_TIMEOUT = 60


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, detail=None):
        self.n += 1
        if cond:
            print(f"ok {self.n} - {name}", flush=True)
        else:
            self.failed += 1
            print(f"not ok {self.n} - {name}", flush=True)
            if detail is not None:
                for line in str(detail).splitlines()[:60]:
                    print(f"#   {line}", flush=True)
        return bool(cond)

    def eq(self, got, want, name):
        return self.ok(got == want, name, f"got {got!r}, want {want!r}")

    def done(self):
        print(f"1..{self.n}", flush=True)
        sys.exit(1 if self.failed or self.n == 0 else 0)


class Server:
    """One `constra serve` process."""

    def __init__(self, binary, *args, db=None, key=None, env=None):
        self.tmp = tempfile.mkdtemp(prefix="constra-serve-")
        self.db = db if db is not None else os.path.join(self.tmp, "constra.db")
        self.key = key or "cs_test_" + os.urandom(20).hex()
        self.log_path = os.path.join(self.tmp, "access.log")
        self.err_path = os.path.join(self.tmp, "stderr.log")
        cmd = [binary, "serve", "--port", "0", "--db", self.db, "--secret-key", self.key,
               "--access-log", self.log_path] + list(args)
        e = dict(os.environ)
        e.pop("CONSTRA_SECRET_KEY", None)
        if env:
            e.update(env)
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.err, env=e)
        self.stdout_lines = []
        self.port = None
        lines = queue.Queue()

        def pump():
            for raw in self.proc.stdout:
                lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            self.stdout_lines.append(line)
            if line.startswith("constra serve: listening on http://"):
                self.port = int(line.rsplit(":", 1)[1])
                break
        if self.port is None:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("server did not start: " + self.stderr())

    def stderr(self):
        self.err.flush()
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def access_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Sends sig and waits; returns the exit code (None on time-out)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def auth(self, extra=None):
        h = {"Authorization": "Bearer " + self.key}
        if extra:
            h.update(extra)
        return h

    def request(self, method, path, headers=None, body=None, timeout=30):
        """One request on a fresh connection: (status, {lower-name: value}, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def create(self, key, body=None, prefix="/api/v1"):
        return self.request("POST", prefix + "/payment-intents",
                            self.auth({"Idempotency-Key": key,
                                       "Content-Type": "application/json"}),
                            body if body is not None else SEED_BODY)

    def raw(self, data, read_timeout=10):
        """Sends raw bytes on a new socket and returns what comes back
        until the server closes or read_timeout passes."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=read_timeout)
        try:
            s.sendall(data)
            out = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except (socket.timeout, ConnectionResetError):
                    break
                if not chunk:
                    break
                out += chunk
            return out
        finally:
            s.close()


def read_to_close(s):
    """Every byte a socket receives until the peer closes it."""
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk


def status_of(raw):
    """The status code of a raw HTTP response, or 0."""
    try:
        first = raw.split(b"\r\n", 1)[0].split()
        return int(first[1])
    except (IndexError, ValueError):
        return 0


def error_code(body):
    try:
        return json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def binary_from_argv():
    if len(sys.argv) < 2:
        sys.exit("usage: test.py PATH/TO/constra")
    return sys.argv[1]
