"""Shared test data: the seed request of issue 4 and the vectors' path."""
import json
import os

SEED = dict(amount=1250, currency="KES", provider="mpesa",
            customer={"name": "Amina N.", "phone_number": "254700000000"},
            reference="order_7429", description="Solar home kit deposit",
            agent_policy="operator_review")
SEED_KEY = "order_7429_deposit"
SECRET = "cs_test_bindings_0123456789"


def vectors_dir():
    env = os.environ.get("CONSTRA_VECTORS")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "..", "tests", "vectors")


def webhook_vectors(name="webhook-signatures.json"):
    with open(os.path.join(vectors_dir(), name), encoding="utf-8") as f:
        return json.load(f)["vectors"]


def create_seed(client, key=SEED_KEY, **over):
    args = dict(SEED)
    args.update(over)
    amount = args.pop("amount")
    return client.create(amount, idempotency_key=key, **args)


METADATA = {"till": "A\u00e9", "order_id": "7429", "empty": ""}
METADATA_STORED = {"order_id": "7429", "till": "A\u00e9"}


def check_metadata(test, client, prefix):
    """Metadata through any client (local or remote): stored in its
    canonical form, returned by create and get, echoed in every event, part
    of the idempotency request, bad types refused before anything is sent
    and bad values with the library's parameter."""
    import constra
    pi = create_seed(client, key=prefix + "-meta", metadata=METADATA)
    test.assertEqual(pi["metadata"], METADATA_STORED)
    test.assertEqual(list(pi["metadata"]), ["order_id", "till"])
    again = create_seed(client, key=prefix + "-meta", metadata=dict(reversed(METADATA.items())))
    test.assertEqual(again["id"], pi["id"])
    with test.assertRaises(constra.ConflictError) as cm:
        create_seed(client, key=prefix + "-meta", metadata={"order_id": "7430"})
    test.assertEqual(cm.exception.code, "idempotency_key_reused")
    test.assertEqual(client.get(pi["id"])["metadata"], METADATA_STORED)
    events = client.events(pi["id"])["data"]
    test.assertTrue(events)
    for ev in events:
        test.assertEqual(ev["data"]["metadata"], METADATA_STORED, ev["type"])
    plain = create_seed(client, key=prefix + "-plain")
    test.assertEqual(plain["metadata"], {})
    for bad, param in ((["k"], "metadata"), ({1: "v"}, "metadata"), ({"k": 1}, "metadata.k"),
                       ({"k": None}, "metadata.k")):
        with test.assertRaises(constra.ArgumentTypeError) as cm:
            create_seed(client, key=prefix + "-bad", metadata=bad)
        test.assertEqual(cm.exception.param, param)
    for bad, param in (({"k" * 41: "v"}, "metadata"), ({"k": "v" * 501}, "metadata.k"),
                       ({f"k{i}": "v" for i in range(51)}, "metadata"),
                       ({"a[0]": "v"}, "metadata.a[0]"), ({"k": "a\0b"}, "metadata"),
                       ({"k": "\ud800"}, "metadata")):
        with test.assertRaises(constra.InvalidArgumentError) as cm:
            create_seed(client, key=prefix + "-bad", metadata=bad)
        test.assertEqual((cm.exception.code, cm.exception.param), ("parameter_invalid", param),
                         str(bad)[:40])
    # Nothing refused was stored: the key runs afresh.
    fresh = create_seed(client, key=prefix + "-bad", metadata={"k": "v"})
    test.assertFalse(fresh.replayed)
    test.assertEqual(fresh["metadata"], {"k": "v"})
