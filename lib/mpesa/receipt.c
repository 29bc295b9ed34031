#include "mpesa/receipt.h"

#include "platform/platform.h"
#include "util/civil.h"

#define EAT_OFFSET_S 10800 /* receipts date payments in Nairobi time */

static const char receipt_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

static void date_letters(int64_t now_ms, char out[3])
{
    constra__civil c;
    constra__civil_from_ms(now_ms, EAT_OFFSET_S, &c);
    int year_index = c.year - 2006; /* L = 2017 */
    out[0] = (char)('A' + (year_index % 26 + 26) % 26);
    out[1] = (char)('A' + c.month - 1);
    out[2] = c.day <= 9 ? (char)('0' + c.day) : (char)('A' + c.day - 10);
}

int constra__mpesa_receipt_random(const constra_platform *platform, int64_t now_ms,
                                  char out[CONSTRA__RECEIPT_LEN + 1])
{
    uint8_t r[7];
    if (constra__random(platform, r, sizeof(r)) != 0) {
        return -1;
    }
    date_letters(now_ms, out);
    for (int i = 0; i < 7; i++) {
        out[3 + i] = receipt_chars[r[i] % (sizeof(receipt_chars) - 1)];
    }
    out[CONSTRA__RECEIPT_LEN] = '\0';
    return 0;
}

void constra__mpesa_receipt_derived(const char *seed, int64_t now_ms,
                                    char out[CONSTRA__RECEIPT_LEN + 1])
{
    /* FNV-1a: spreads the seed over the 7 characters; uniqueness, not
     * secrecy, is what a derived receipt needs. */
    uint64_t h = UINT64_C(14695981039346656037);
    for (const char *p = seed; *p; p++) {
        h = (h ^ (uint8_t)*p) * UINT64_C(1099511628211);
    }
    date_letters(now_ms, out);
    for (int i = 0; i < 7; i++) {
        out[3 + i] = receipt_chars[h % (sizeof(receipt_chars) - 1)];
        h /= sizeof(receipt_chars) - 1;
    }
    out[CONSTRA__RECEIPT_LEN] = '\0';
}
