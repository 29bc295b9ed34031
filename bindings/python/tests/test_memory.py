"""Memory across the boundary: 100,000 intents created and read, and
100,000 reads of a few, must leave the process's memory settled. A leaked
snapshot, list, response or handle (a few hundred bytes to kilobytes per
call) grows the resident set by tens of megabytes over 50,000 calls; the
allowance below is a few megabytes."""
import gc
import os
import unittest

import constra
from constra import Client
from helpers import SECRET

SLACK_KB = int(os.environ.get("CONSTRA_MEMORY_SLACK_KB", "6144"))


def rss_kb():
    gc.collect()
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


class Memory(unittest.TestCase):
    def test_create_and_read_100k_intents_settles(self):
        """10 handles x 10,000 intents (memory storage): each handle and all
        it stored is freed at close, so round 10 ends where round 5 did."""
        marks = {}
        for rnd in range(1, 11):
            with Client() as c:
                for i in range(10_000):
                    made = c.create(100 + i % 1000, idempotency_key=f"r{rnd}-{i}",
                                    phone_number="0712345678", reference=f"order_{i}")
                    got = c.get(made["id"])
                    assert got["id"] == made["id"]
            marks[rnd] = rss_kb()
        growth = marks[10] - marks[5]
        print(f"# RSS after 50k intents {marks[5]} kB, after 100k {marks[10]} kB, "
              f"growth {growth} kB")
        self.assertLess(growth, SLACK_KB)

    def test_100k_reads_settle(self):
        """get() and events() 100,000 times on 10 intents of one handle."""
        with Client() as c:
            ids = [c.create(50, idempotency_key=f"few{i}", phone_number="0712345678")["id"]
                   for i in range(10)]
            c.simulate(ids[0], 1032)
            marks = {}
            for i in range(1, 100_001):
                intent_id = ids[i % 10]
                c.get(intent_id)
                if i % 4 == 0:
                    c.events(intent_id)
                if i % 50 == 0:
                    c.list(limit=10)
                if i % 10_000 == 0:
                    marks[i] = rss_kb()
            growth = marks[100_000] - marks[50_000]
            print(f"# RSS after 50k reads {marks[50_000]} kB, after 100k {marks[100_000]} kB, "
                  f"growth {growth} kB")
            self.assertLess(growth, SLACK_KB)

    def test_remote_client_settles(self):
        """A remote client over a Python transport into a local router,
        6 rounds x (open, 3,000 creates and gets, close): the remote handle,
        the copied transport, the adapter's callbacks and every parsed
        answer go at close."""
        marks = {}
        for rnd in range(1, 7):
            with Client(secret_key=SECRET) as server:
                with Client.remote("http://constra.test/v1", SECRET,
                                   transport=constra.RouterTransport(server)) as remote:
                    for i in range(3_000):
                        made = remote.create(100, idempotency_key=f"rm{rnd}-{i}",
                                             phone_number="0712345678")
                        remote.get(made["id"])
            marks[rnd] = rss_kb()
        growth = marks[6] - marks[3]
        print(f"# RSS (remote) after 9k {marks[3]} kB, after 18k {marks[6]} kB, "
              f"growth {growth} kB")
        self.assertLess(growth, SLACK_KB)

    def test_python_storage_settles(self):
        """A Python storage, 6 handles x 5,000 intents, cleared between
        rounds: what crosses the vtable (rows, documents, the callbacks'
        ctypes objects) is not kept. A handle per round because the
        simulator rail keeps every push it made (~400 bytes) until its
        handle closes, which is not the binding's to free."""
        store = constra.DictStorage()
        marks = {}
        for rnd in range(1, 7):
            with Client(storage=store) as c:
                for i in range(5_000):
                    made = c.create(100, idempotency_key=f"d{rnd}-{i}", phone_number="0712345678")
                    c.get(made["id"])
            store.clear()
            marks[rnd] = rss_kb()
        growth = marks[6] - marks[3]
        print(f"# RSS (Python storage) after 15k {marks[3]} kB, after 30k "
              f"{marks[6]} kB, growth {growth} kB")
        self.assertLess(growth, SLACK_KB)

    def test_router_responses_settle(self):
        with Client(secret_key="cs_test_bindings_0123456789") as c:
            made = c.create(10, idempotency_key="rt", phone_number="0712345678")
            auth = {"Authorization": "Bearer cs_test_bindings_0123456789"}
            marks = {}
            for i in range(1, 40_001):
                r = c.request("GET", f"/v1/payment-intents/{made['id']}", auth)
                assert r.status == 200
                if i % 10_000 == 0:
                    marks[i] = rss_kb()
            growth = marks[40_000] - marks[20_000]
            print(f"# RSS (router) growth over 20k requests {growth} kB")
            self.assertLess(growth, SLACK_KB)


if __name__ == "__main__":
    unittest.main()
