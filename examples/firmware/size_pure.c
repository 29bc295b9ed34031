/*
 * The "pure" image of the size table (scripts/firmware.sh): only what a
 * terminal that decodes result codes, normalises phone numbers and
 * verifies webhook signatures links: no handle, no engine, no allocation.
 */
#include <string.h>

#include <constra.h>

#include "board.h"

int main(void)
{
    constra_result_info info = CONSTRA_RESULT_INFO_INIT;
    int ok = constra_mpesa_result_lookup("1032", CONSTRA_MPESA_CODE_NTS, CONSTRA_MPESA_API_STK,
                                         NULL, &info, NULL) == CONSTRA_OK;
    char msisdn[16];
    ok &= constra_msisdn_normalize("0712345678", CONSTRA_MPESA_CODE_NTS, msisdn, sizeof(msisdn),
                                   NULL) == CONSTRA_OK;
    static const char body[] = "{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\"\n}";
    constra_webhook_params p = CONSTRA_WEBHOOK_PARAMS_INIT;
    p.scheme = CONSTRA_WEBHOOK_T_V1;
    p.secret = "whsec_test_secret";
    p.body = (const uint8_t *)body;
    p.body_len = strlen(body);
    p.signature =
        "t=1700000000,v1=4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150";
    p.now = 1700000000;
    ok &= constra_webhook_verify(&p, NULL, NULL) == CONSTRA_OK;
    fw_printf("%s 1 - pure: decode %s, msisdn %s, t_v1 verified", ok ? "ok" : "not ok",
              constra_outcome_name(info.outcome), msisdn);
    fw_printf("# stack %u B", (unsigned)fw_stack_used());
    fw_puts("1..1");
    return ok ? 0 : 1;
}
