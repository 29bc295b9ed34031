"""Every signature vector through verify_webhook, with str and bytes
bodies; sign/verify round trips; result codes and phone numbers."""
import unittest

import constra
from constra import SignatureError, sign_webhook, verify_webhook
from helpers import webhook_vectors

VECTORS = webhook_vectors()


def verify_vector(v, body):
    kw = dict(secret=v["secret"], scheme=v["scheme"], now=v.get("now", 0),
              tolerance=v.get("tolerance", 0))
    if v["scheme"] == "standard_webhooks":
        verify_webhook(body, headers=v["headers"], **kw)
    else:
        verify_webhook(body, v["header"], **kw)


class Vectors(unittest.TestCase):
    def check_all(self, as_bytes):
        self.assertGreaterEqual(len(VECTORS), 192)
        valid = invalid = 0
        for i, v in enumerate(VECTORS):
            body = v["body"].encode("utf-8") if as_bytes else v["body"]
            with self.subTest(i=i, scheme=v["scheme"], reason=v["reason"]):
                if v["expect"] == "valid":
                    verify_vector(v, body)
                    valid += 1
                else:
                    with self.assertRaises(SignatureError) as cm:
                        verify_vector(v, body)
                    self.assertTrue(cm.exception.code.startswith("signature_"))
                    self.assertIn(cm.exception.http_status, (400, 401))
                    invalid += 1
        self.assertEqual(valid + invalid, len(VECTORS))
        self.assertGreater(valid, 0)
        self.assertGreater(invalid, 0)

    def test_vectors_str_bodies(self):
        self.check_all(as_bytes=False)

    def test_vectors_bytes_bodies(self):
        self.check_all(as_bytes=True)

    def test_reference_libraries_cases(self):
        """The Stripe SDKs' and Standard Webhooks libraries' cases: an
        unreadable candidate beside a valid one is skipped."""
        refs = webhook_vectors("webhook-reference-libraries.json")
        self.assertEqual(len(refs), 24)
        for i, v in enumerate(refs):
            with self.subTest(i=i, reason=v["reason"]):
                if v["expect"] == "valid":
                    verify_vector(v, v["body"].encode("utf-8"))
                else:
                    with self.assertRaises(SignatureError):
                        verify_vector(v, v["body"])

    def test_vector_reasons_map_to_codes(self):
        want = {"timestamp too old": "signature_expired",
                "timestamp too far in the future": "signature_future",
                "malformed header": "signature_malformed",
                "body changed": "signature_mismatch"}
        for v in VECTORS:
            if v["reason"] in want:
                with self.assertRaises(SignatureError) as cm:
                    verify_vector(v, v["body"])
                self.assertEqual(cm.exception.code, want[v["reason"]], v["reason"])

    def test_bytes_body_must_be_the_raw_bytes(self):
        v = next(x for x in VECTORS if x["expect"] == "valid" and "é" in x["body"])
        latin = v["body"].encode("utf-8").decode("latin-1").encode("utf-8")  # double-encoded
        with self.assertRaises(SignatureError) as cm:
            verify_vector(v, latin)
        self.assertEqual(cm.exception.code, "signature_mismatch")
        verify_vector(v, bytearray(v["body"].encode("utf-8")))
        verify_vector(v, memoryview(v["body"].encode("utf-8")))


class SignVerify(unittest.TestCase):
    def test_round_trip_each_scheme(self):
        body = b'{"id":"evt_1","data":{"note":"\xe2\x82\xac \x00 nul inside"}}'
        for scheme, extra in (("t_v1", {}), ("body_hex", {}),
                              ("standard_webhooks", {"msg_id": "msg_1"})):
            secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" if scheme == "standard_webhooks" \
                else "whsec_plain"
            sig = sign_webhook(body, secret=secret, scheme=scheme, timestamp=1764689191, **extra)
            kw = dict(secret=secret, scheme=scheme, now=1764689200)
            if scheme == "standard_webhooks":
                verify_webhook(body, sig, msg_id="msg_1", timestamp="1764689191", **kw)
                with self.assertRaises(SignatureError):
                    verify_webhook(body + b" ", sig, msg_id="msg_1", timestamp="1764689191", **kw)
            else:
                verify_webhook(body, sig, **kw)
                with self.assertRaises(SignatureError):
                    verify_webhook(body[:-1], sig, **kw)

    def test_missing_signature_is_malformed_not_valid(self):
        with self.assertRaises(SignatureError) as cm:
            verify_webhook(b"{}", None, secret="whsec_x", now=1)
        self.assertEqual(cm.exception.code, "signature_malformed")

    def test_bad_arguments(self):
        with self.assertRaises(constra.InvalidArgumentError) as cm:
            verify_webhook(b"{}", "t=1,v1=00", secret="", now=1)
        self.assertEqual(cm.exception.code, "secret_invalid")
        with self.assertRaises(TypeError):
            verify_webhook(12, "t=1,v1=00", secret="k")
        with self.assertRaises(TypeError):
            verify_webhook(None, "t=1,v1=00", secret="k")
        with self.assertRaises(TypeError):
            verify_webhook(b"{}", b"t=1,v1=00", secret="k")
        with self.assertRaises(constra.InvalidArgumentError):
            verify_webhook(b"{}", "t=1,v1=00", secret="k", scheme="hmac_md5")
        with self.assertRaises(constra.InvalidArgumentError):
            verify_webhook(b"{}", "t=1,v1=00", secret="k", now=-5)
        with self.assertRaises(SignatureError):
            verify_webhook(b"{}", "t=1,v1=" + "a" * 100_000, secret="k", now=1)
        with self.assertRaises(constra.InvalidArgumentError):
            verify_webhook(b"{}", "t=1,v1=00", secret="k" * 5000, now=1)
        with self.assertRaises(constra.InvalidArgumentError):
            verify_webhook(b"{}", "t=1,v1=00\0", secret="k", now=1)
        with self.assertRaises(constra.InvalidArgumentError) as cm:
            sign_webhook(b"{}", secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                         scheme="standard_webhooks")
        self.assertEqual(cm.exception.param, "msg_id")


class MpesaHelpers(unittest.TestCase):
    def test_decode_result(self):
        r = constra.decode_result(1032)
        self.assertEqual((r["outcome"], r["recommended_action"], r["known"]),
                         ("requires_recovery", "retry", True))
        self.assertEqual(constra.decode_result("0", api="stk")["outcome"], "succeeded")
        unknown = constra.decode_result("99999")
        self.assertEqual((unknown["known"], unknown["outcome"]), (False, "review_required"))
        for bad in ("", " ", "10 32", "x" * 100):
            with self.assertRaises(constra.InvalidArgumentError):
                constra.decode_result(bad)
        for bad in (None, 1.5, True, b"0"):
            with self.assertRaises(TypeError):
                constra.decode_result(bad)
        with self.assertRaises(constra.InvalidArgumentError):
            constra.decode_result(0, api="sms")

    def test_normalize_phone(self):
        for form in ("0712 345 678", "+254712345678", "254712345678", "712345678"):
            self.assertEqual(constra.normalize_phone(form), "254712345678")
        cases = {"0712a45678": "phone_invalid_character", "+255712345678": "phone_not_kenyan",
                 "0201234567": "phone_not_mobile", "1" * 5000: "phone_too_long"}
        for text, code in cases.items():
            with self.assertRaises(constra.InvalidArgumentError) as cm:
                constra.normalize_phone(text)
            self.assertEqual((cm.exception.code, cm.exception.param), (code, "phone"))
        with self.assertRaises(TypeError):
            constra.normalize_phone(712345678)
        with self.assertRaises(constra.InvalidArgumentError):
            constra.normalize_phone(None)


if __name__ == "__main__":
    unittest.main()
