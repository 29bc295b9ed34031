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
