/*
 * Firmware suite, the pure parts on the target (TAP): result-code decode,
 * MSISDN, webhook signatures both ways with the host (a host-made
 * signature verifies here; the signature made here is printed for
 * check_firmware.py to verify on the host), and the integer text of
 * util/intfmt.h against the host's table (tests/unit/intfmt_vectors.h).
 */
#include <string.h>

#include <constra.h>

#include "board.h"
#include "intfmt_vectors.h"
#include "util/intfmt.h"

static int n_test;
static int failed;

static void check(int ok, const char *name)
{
    n_test++;
    fw_printf("%s %d - %s", ok ? "ok" : "not ok", n_test, name);
    if (!ok) {
        failed++;
    }
}

/* Made on the host by Python's hmac (tests/vectors/webhook-reference-libraries.json). */
static const char host_secret[] = "whsec_test_secret";
static const char host_body[] = "{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\"\n}";
static const char host_header[] =
    "t=1700000000,v1=4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150";

static int verify(const char *secret, const char *body, const char *header, int64_t now,
                  int *reason)
{
    constra_webhook_params p = CONSTRA_WEBHOOK_PARAMS_INIT;
    p.scheme = CONSTRA_WEBHOOK_T_V1;
    p.secret = secret;
    p.body = (const uint8_t *)body;
    p.body_len = strlen(body);
    p.signature = header;
    p.now = now;
    p.tolerance_s = 300;
    return constra_webhook_verify(&p, reason, NULL);
}

int main(void)
{
    constra_result_info info = CONSTRA_RESULT_INFO_INIT;
    int rc = constra_mpesa_result_lookup("1032", CONSTRA_MPESA_CODE_NTS, CONSTRA_MPESA_API_STK,
                                         NULL, &info, NULL);
    check(rc == CONSTRA_OK && info.known && info.outcome == CONSTRA_OUTCOME_REQUIRES_RECOVERY &&
              strcmp(info.recommended_action, "retry") == 0,
          "decode 1032: requires_recovery, retry");
    constra_result_info by_int = CONSTRA_RESULT_INFO_INIT;
    rc = constra_mpesa_result_lookup_int(1032, CONSTRA_MPESA_API_STK, NULL, &by_int, NULL);
    check(rc == CONSTRA_OK && by_int.outcome == info.outcome, "decode 1032 as a JSON number");

    char msisdn[16];
    rc = constra_msisdn_normalize("0712345678", CONSTRA_MPESA_CODE_NTS, msisdn, sizeof(msisdn),
                                  NULL);
    check(rc == CONSTRA_OK && strcmp(msisdn, "254712345678") == 0, "0712345678 -> 254712345678");

    int reason = -1;
    rc = verify(host_secret, host_body, host_header, 1700000000, &reason);
    check(rc == CONSTRA_OK && reason == CONSTRA_WEBHOOK_OK, "host-made t_v1 signature verifies");
    char tampered[sizeof(host_body)];
    memcpy(tampered, host_body, sizeof(host_body));
    tampered[10] ^= 1;
    rc = verify(host_secret, tampered, host_header, 1700000000, &reason);
    check(rc == CONSTRA_E_SIGNATURE && reason == CONSTRA_WEBHOOK_MISMATCH,
          "tampered body: signature_mismatch");

    /* Made here, for the host to verify (check_firmware.py reads this line). */
    constra_webhook_params s = CONSTRA_WEBHOOK_PARAMS_INIT;
    s.scheme = CONSTRA_WEBHOOK_T_V1;
    s.secret = "whsec_target_made";
    static const char target_body[] = "{\"amount\":1250,\"currency\":\"KES\"}";
    s.body = (const uint8_t *)target_body;
    s.body_len = strlen(target_body);
    s.timestamp = 1765432100;
    char sig[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    rc = constra_webhook_sign(&s, sig, sizeof(sig), NULL);
    check(rc == CONSTRA_OK && strncmp(sig, "t=1765432100,v1=", 16) == 0,
          "sign t_v1: the timestamp printed without printf");
    fw_printf("# target-signature secret=%s timestamp=1765432100 body=%s header=%s", s.secret,
              target_body, sig);
    rc = verify(s.secret, target_body, sig, 1765432100, &reason);
    check(rc == CONSTRA_OK, "the target's signature verifies on the target");

    int same = 1;
    for (size_t i = 0; i < sizeof(intfmt_i64_vectors) / sizeof(intfmt_i64_vectors[0]); i++) {
        char out[CONSTRA__INT_TEXT_MAX];
        constra__fmt_i64(out, intfmt_i64_vectors[i].v);
        same &= strcmp(out, intfmt_i64_vectors[i].text) == 0;
        fw_printf("# intfmt %s", out);
    }
    for (size_t i = 0; i < sizeof(intfmt_u64_vectors) / sizeof(intfmt_u64_vectors[0]); i++) {
        char out[CONSTRA__INT_TEXT_MAX];
        constra__fmt_u64_pad(out, intfmt_u64_vectors[i].v, intfmt_u64_vectors[i].width);
        same &= strcmp(out, intfmt_u64_vectors[i].text) == 0;
    }
    check(same, "integer text: the host's bytes (intfmt_vectors.h)");

    char money[32], kes[32];
    rc = constra_money_format(-9007199254740993, "USD", money, sizeof(money), NULL);
    int rc2 = constra_money_format(1250, "KES", kes, sizeof(kes), NULL);
    check(rc == CONSTRA_OK && strcmp(money, "-90071992547409.93") == 0 && rc2 == CONSTRA_OK &&
              strcmp(kes, "1250") == 0,
          "money text: -90071992547409.93 USD, 1250 KES");

    fw_printf("# stack %u B", (unsigned)fw_stack_used());
    fw_printf("1..%d", n_test);
    return failed ? 1 : 0;
}
