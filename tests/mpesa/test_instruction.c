/* The typed-instruction parser (constra/instruction.h): a table of
 * accepted phrasings with the fields each must give, a table of
 * instructions that must be refused or flagged, bad arguments, and junk
 * that must never crash nor break the result's invariants. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <constra.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- invariants every successful parse keeps -------------------------- */

static int only_chars(const char *s, const char *extra)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (extra && c != 0 && strchr(extra, c)))) {
            return 0;
        }
    }
    return 1;
}

#define TERMINATED(field) (memchr((field), 0, sizeof(field)) != NULL)

static void check_invariants(const constra_instruction *in)
{
    assert_int_equal(in->struct_size, sizeof(*in));
    assert_true(TERMINATED(in->currency));
    assert_true(TERMINATED(in->phone_number));
    assert_true(TERMINATED(in->customer_name));
    assert_true(TERMINATED(in->reference));
    assert_true(TERMINATED(in->description));
    assert_true(TERMINATED(in->not_understood));
    assert_true(TERMINATED(in->refusal));
    assert_true(TERMINATED(in->transaction_desc));

    assert_true(in->refused == 0 || in->refused == 1);
    assert_int_equal(in->refused, in->refusal[0] != '\0');
    if (in->found & CONSTRA_INSTRUCTION_HAS_AMOUNT) {
        assert_true(in->amount >= 1 && in->amount <= CONSTRA_INSTRUCTION_AMOUNT_MAX);
        assert_string_equal(in->currency, "KES");
    } else {
        assert_int_equal(in->amount, 0);
    }
    if (in->found & CONSTRA_INSTRUCTION_HAS_PHONE) {
        assert_int_equal(strlen(in->phone_number), 12);
        assert_memory_equal(in->phone_number, "254", 3);
        assert_true(in->phone_number[3] == '7' || in->phone_number[3] == '1');
        assert_true(only_chars(in->phone_number, NULL));
    } else {
        assert_string_equal(in->phone_number, "");
    }
    assert_int_equal(!!(in->found & CONSTRA_INSTRUCTION_HAS_REFERENCE), in->reference[0] != 0);
    assert_int_equal(!!(in->found & CONSTRA_INSTRUCTION_HAS_NAME), in->customer_name[0] != 0);
    assert_int_equal(!!(in->found & CONSTRA_INSTRUCTION_HAS_DESCRIPTION),
                     in->description[0] != 0);
    assert_true(only_chars(in->reference, " -"));
    assert_true(only_chars(in->description, " -"));
    assert_true(only_chars(in->transaction_desc, " -"));
    assert_true(strlen(in->transaction_desc) <= 13);
    assert_memory_equal(in->transaction_desc, in->description, strlen(in->transaction_desc));
    assert_int_equal(in->description[0] != 0, in->transaction_desc[0] != 0);
    assert_int_equal(in->found & ~0x3Fu, 0);
    /* Echoed user text is printable ASCII. */
    for (const char *s = in->not_understood; *s; s++) {
        assert_true(*s >= 0x20 && *s < 0x7F);
    }
    for (const char *s = in->refusal; *s; s++) {
        assert_true(*s >= 0x20 && *s < 0x7F);
    }
}

/* Prints the text under test as one TAP comment line (escaped). */
static void show(const char *text)
{
    char buf[600];
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && k + 5 < sizeof(buf); p++) {
        if (*p >= 0x20 && *p < 0x7F) {
            buf[k++] = (char)*p;
        } else {
            k += (size_t)snprintf(buf + k, sizeof(buf) - k, "\\x%02X", *p);
        }
    }
    buf[k] = '\0';
    print_message("# %s\n", buf);
}

static int parse(const char *text, constra_instruction *in)
{
    constra_instruction fresh = CONSTRA_INSTRUCTION_INIT;
    *in = fresh;
    constra_error err = CONSTRA_ERROR_INIT;
    int rc = constra_instruction_parse(text, strlen(text) + 1, in, &err);
    if (rc == CONSTRA_OK) {
        check_invariants(in);
    }
    return rc;
}

/* ---- accepted phrasings ----------------------------------------------- */

typedef struct accept_row {
    const char *text;
    int64_t amount;
    const char *phone;
    const char *reference;
    const char *description;
    const char *name;  /* "" = no name */
    int currency_said; /* the currency was stated */
} accept_row;

#define P712 "254712345678"

static const accept_row accepted[] = {
    {"charge 0712 345 678 KES 1,250 for order 7429 solar kit deposit", 1250, P712,
     "order 7429", "Solar kit deposit", "", 1},
    {"Collect Ksh 500 from +254 712-345-678 ref INV22", 500, P712, "INV22", "", "", 1},
    {"request 1250/= from 0712345678", 1250, P712, "", "", "", 1},
    {"stk 254712345678 100", 100, P712, "", "", "", 0},
    {"bill Amina 0110 123 456 KES 2,000 for rent March", 2000, "254110123456", "",
     "Rent March", "Amina", 1},
    /* other word orders, case, punctuation */
    {"KES 1,250 charge 0712 345 678, for order #7429: solar kit deposit.", 1250, P712,
     "order 7429", "Solar kit deposit", "", 1},
    {"for order 7429 solar kit deposit charge KES 1,250 to 0712345678!", 1250, P712,
     "order 7429", "Solar kit deposit", "", 1},
    {"CHARGE 0712345678 KSH 750 FOR WATER BILL", 750, P712, "", "WATER BILL", "", 1},
    {"charge amina njeri 0722 000 000 ksh1,500/= for school fees", 1500, "254722000000", "",
     "School fees", "amina njeri", 1},
    {"Please collect 2k from 0799-123-456 for invoice 22", 2000, "254799123456", "invoice 22",
     "", "", 0},
    {"send a prompt to 0712345678 for 300 shillings, order no. 88", 300, P712, "order 88", "",
     "", 1},
    {"send an STK push to 254 712 345 678 for KES 450 ref ABC-12", 450, P712, "ABC-12", "", "",
     1},
    {"ask Amina to pay 1.25k on 0712.345.678", 1250, P712, "", "", "Amina", 0},
    {"request payment of Kshs. 3,000 from Otieno 0101 234 567 for account 12345", 3000,
     "254101234567", "12345", "", "Otieno", 1},
    {"0712345678 500", 500, P712, "", "", "", 0},
    {"500 bob from 0712345678 for lunch", 500, P712, "", "Lunch", "", 1},
    {"charge (0712) 345678 KES 99 for airtime top-up", 99, P712, "", "Airtime top-up", "", 1},
    {"collect KES 250,000 from 0712345678", 250000, P712, "", "", "", 1},
    {"collect 1 KES from 0712345678", 1, P712, "", "", "", 1},
    {"charge 00254712345678 KES 10", 10, P712, "", "", "", 1},
    {"charge 000254712345678 Ksh.20", 20, P712, "", "", "", 1},
    {"charge 712 345 678 KES 60", 60, P712, "", "", "", 1},
    {"bill 0140 123 456 1,250.00 for order 7429", 1250, "254140123456", "order 7429", "", "",
     0},
    {"Charge Wanjiru Kamau, 0745 678 901, KES 4,500 - order #1234 - delivery", 4500,
     "254745678901", "order 1234", "Delivery", "Wanjiru Kamau", 1},
    {"request KES 700 from 254 712 345 678 for the solar kit deposit please", 700, P712, "",
     "Solar kit deposit", "", 1},
    {"charge 0712345678 KES 5,000 for 2 bags of cement", 5000, P712, "", "2 bags of cement", "",
     1},
    {"charge 0712345678 KES 5000 for rent March 2024", 5000, P712, "", "Rent March 2024", "", 1},
    {"Bill +254110123456 KSh 1,000 for Caf\xC3\xA9 supplies", 1000, "254110123456", "",
     "Cafe supplies", "", 1},
    {"charge 0712345678 KES 300 for order 7429 and order #7429", 300, P712, "order 7429", "",
     "", 1},
    {"charge 0712345678 KES 300, KES 300", 300, P712, "", "", "", 1},
    {"charge 0712345678 or 0712 345 678 KES 300", 300, P712, "", "", "", 1},
    {"collect 1,250 from 0712345678 for order 7429", 1250, P712, "order 7429", "", "", 0},
    {"remind Amina to pay KES 800 on 0712345678", 800, P712, "", "", "Amina", 1},
    {"charge 0712345678 ksh 1500 for order: 42", 1500, P712, "order 42", "", "", 1},
    {"collect KES 600 from 0712345678 order#7429", 600, P712, "order 7429", "", "", 1},
    {"collect KES 600 from 0712345678 invoice INV-22 for water", 600, P712, "INV-22", "Water",
     "", 1},
    {"charge 0712345678 KES 100 #7429", 100, P712, "7429", "", "", 1},
    {"charge 0712345678 1250KES for the deposit", 1250, P712, "", "Deposit", "", 1},
    {"charge 0712345678 KES 100 ref: AB/12", 100, P712, "AB-12", "", "", 1},
    {"Charge KES 2,500 to 0712 345 678 for booking 4411.", 2500, P712, "booking 4411", "", "",
     1},
    {"prompt 0712345678 for 50", 50, P712, "", "", "", 0},
    {"charge 0712345678 KES 100 for invoice 1234567", 100, P712, "1234567", "", "", 1},
    {"collect 500 from Amina Njeri on 0712 345 678 for the order", 500, P712, "", "Order",
     "Amina Njeri", 0},
    {"charge Am\xC3\xA9lie 0712345678 KES 100", 100, P712, "", "", "Am\xC3\xA9lie", 1},
    {"\xE2\x80\x9C" "charge 0712345678 KES 100 for rent" "\xE2\x80\x9D", 100, P712, "", "Rent",
     "", 1},
    {"Lipa na M-Pesa: charge 0712345678 Ksh 1,250/- for kit", 1250, P712, "", "Kit", "", 1},
    {"charge 0712345678 Kenyan shillings 200 for gas refill", 200, P712, "", "Gas refill", "",
     1},
    {"charge customer Jane 0757 123 456 KES 900 for a/c 5566", 900, "254757123456", "5566", "",
     "Jane", 1},
    {"charge 0712345678 KES 1000 for payment request of rent and water", 1000, P712, "",
     "Rent and water", "", 1},
    {"charge Bob 0712345678 500", 500, P712, "", "", "Bob", 0},
    {"charge KES 500 712 345 678", 500, P712, "", "", "", 1},
    {"collect KES 150 from 0112 345 678 for a very long description of several words here "
     "that goes on and on past the limit of the field",
     150, "254112345678", "", "Very long description of several words here that goes on and on",
     "", 1},
};

static void test_accepted(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        const accept_row *r = &accepted[i];
        constra_instruction in;
        show(r->text);
        assert_int_equal(parse(r->text, &in), CONSTRA_OK);
        if (in.refused || in.not_understood[0]) {
            print_message("#   refused=%d '%s' / '%s'\n", in.refused, in.refusal,
                          in.not_understood);
        }
        assert_int_equal(in.refused, 0);
        assert_string_equal(in.not_understood, "");
        assert_int_equal(in.amount, r->amount);
        assert_string_equal(in.currency, "KES");
        assert_string_equal(in.phone_number, r->phone);
        assert_string_equal(in.reference, r->reference);
        assert_string_equal(in.description, r->description);
        assert_string_equal(in.customer_name, r->name);
        assert_true(in.found & CONSTRA_INSTRUCTION_HAS_AMOUNT);
        assert_true(in.found & CONSTRA_INSTRUCTION_HAS_PHONE);
        assert_int_equal(!!(in.found & CONSTRA_INSTRUCTION_HAS_CURRENCY), r->currency_said);
    }
}

static void test_transaction_desc(void **state)
{
    (void)state;
    constra_instruction in;
    assert_int_equal(parse(accepted[0].text, &in), CONSTRA_OK);
    assert_string_equal(in.transaction_desc, "Solar kit");
    assert_int_equal(parse("charge 0712345678 KES 5 for Rent March", &in), CONSTRA_OK);
    assert_string_equal(in.transaction_desc, "Rent March");
    assert_int_equal(parse("charge 0712345678 KES 5 for supercalifragilistic", &in),
                     CONSTRA_OK);
    assert_string_equal(in.transaction_desc, "Supercalifrag");
    assert_int_equal(parse("charge 0712345678 KES 5", &in), CONSTRA_OK);
    assert_string_equal(in.transaction_desc, "");
}

/* ---- refused or flagged ----------------------------------------------- */

typedef struct flag_row {
    const char *text;
    int refused;
    const char *in_refusal;       /* substring of refusal, or NULL */
    const char *in_not_understood; /* substring of not_understood, or NULL */
} flag_row;

static const flag_row flagged[] = {
    {"send 500 to 0712345678", 1, "sending money", NULL},
    {"Send KES 500 to 0712 345 678 now", 1, "sending money", NULL},
    {"refund 0712345678 KES 500", 1, "refunds", NULL},
    {"please reverse the payment of 500 from 0712345678", 1, "reversals", NULL},
    {"pay out 1000 to 0712345678", 1, "payouts", NULL},
    {"payout KES 1000 to 0712345678", 1, "payouts", NULL},
    {"transfer KES 500 to 0712345678", 1, "payouts", NULL},
    {"pay 0712345678 500", 1, "paying out", NULL},
    {"withdraw 500 for 0712345678", 1, "payouts", NULL},
    {"give 0712345678 KES 200", 1, "payouts", NULL},
    {"cancel the charge to 0712345678", 1, "operator action", NULL},
    {"don't charge 0712345678 KES 500", 1, "negated", NULL},
    {"do not charge 0712345678 KES 500", 1, "negated", NULL},
    {"charge 0712345678 KES 500 and 0722000000", 1, "two different phone numbers", NULL},
    {"charge 0712345678 KES 500 KES 700", 1, "two different amounts", NULL},
    {"charge 0712345678 500 for 2 bags", 1, "two different amounts", NULL},
    {"charge 0712345678 KES -500", 1, "negative", NULL},
    {"charge 0712345678 -500 shillings", 1, "negative", NULL},
    {"charge 0712345678 KES 1,250.50", 1, "cents", NULL},
    {"charge 0712345678 1.5 bob", 1, "cents", NULL},
    {"charge 0712345678 KES 250,001", 1, "above 250000", NULL},
    {"charge 0712345678 KES 99999999999999999999999", 1, "above 250000", NULL},
    {"charge 0712345678 KES 0", 1, "below 1", NULL},
    {"charge 0712345678 USD 20", 1, "KES only: USD", NULL},
    {"charge 0712345678 $20", 1, "KES only: USD", NULL},
    {"charge 0712345678 20 euros", 1, "KES only: EUR", NULL},
    {"charge 0712345678 \xE2\x82\xAC" "20", 1, "KES only: EUR", NULL},
    {"charge 0712345678 UGX 5000", 1, "KES only: UGX", NULL},
    {"charge 0712345678 5000 Ugandan shillings", 1, "KES only: UGX", NULL},
    {"charge 100 110 123 456", 1, "cannot tell the amount", NULL},
    {"charge 0712345678 KES 1 250", 1, "amount '1 250' has a space inside", NULL},
    {"charge 0712345678 1 250 bob", 1, "has a space inside", NULL},
    {"", 1, "nothing to collect", "amount missing; phone number missing"},
    {"      ", 1, "nothing to collect", "amount missing"},
    {"\t\r\n\x01\x02\x7f", 1, "nothing to collect", NULL},
    {"hello there", 1, "nothing to collect", NULL},
    {"charge 0712 345", 1, "nothing to collect",
     "amount missing; phone number '0712 345' is incomplete"},
    /* flagged, not refused */
    {"charge 0712 345 KES 500", 0, NULL, "phone number '0712 345' is incomplete"},
    {"charge 0712345678 for rent", 0, NULL, "amount missing"},
    {"collect five hundred from 0712345678", 0, NULL, "amounts in words are not read"},
    {"charge KES 500 for rent", 0, NULL, "phone number missing"},
    {"charge 0812 345 678 KES 500", 0, NULL, "'0812 345 678' is not a Kenyan mobile number"},
    {"charge 0201234567 KES 500", 0, NULL, "not a Kenyan mobile number"},
    {"charge +2540712345678 KES 500", 0, NULL, "not a Kenyan mobile number"},
    {"charge 0712345678 KES 1,25", 0, NULL, "'1,25' is not a valid amount"},
    {"charge 0712345678 KES 500 \xF0\x9F\x98\x80 \xF0\x9F\x8E\x89", 0, NULL,
     "2 words could not be read"},
    {"charge 0712345678 KES 500 for order 1234567890123", 0, NULL, "longer than 12"},
    {"charge 0712345678 KES 500 order 11 order 12", 0, NULL, "second reference 'order 12'"},
    {"charge 0712345678 KES 500 ref", 0, NULL, "no reference after 'ref'"},
};

static void test_flagged(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(flagged) / sizeof(flagged[0]); i++) {
        const flag_row *r = &flagged[i];
        constra_instruction in;
        show(r->text);
        assert_int_equal(parse(r->text, &in), CONSTRA_OK);
        if (in.refused != r->refused ||
            (r->in_refusal && !strstr(in.refusal, r->in_refusal)) ||
            (r->in_not_understood && !strstr(in.not_understood, r->in_not_understood))) {
            print_message("#   got refused=%d '%s' / '%s'\n", in.refused, in.refusal,
                          in.not_understood);
        }
        assert_int_equal(in.refused, r->refused);
        if (r->in_refusal) {
            assert_non_null(strstr(in.refusal, r->in_refusal));
        }
        if (r->in_not_understood) {
            assert_non_null(strstr(in.not_understood, r->in_not_understood));
        }
        if (!r->refused) {
            assert_true(in.not_understood[0] != '\0');
        }
    }
}

static void test_refused_keeps_fields_for_display(void **state)
{
    (void)state;
    constra_instruction in;
    assert_int_equal(parse("refund 0712345678 KES 500 for order 7429", &in), CONSTRA_OK);
    assert_int_equal(in.refused, 1);
    assert_string_equal(in.phone_number, P712);
    assert_string_equal(in.reference, "order 7429");
    /* A refused amount is not reported as an amount. */
    assert_int_equal(parse("charge 0712345678 USD 20", &in), CONSTRA_OK);
    assert_int_equal(in.amount, 0);
    assert_false(in.found & CONSTRA_INSTRUCTION_HAS_AMOUNT);
    assert_string_equal(in.currency, "USD");
    assert_true(in.found & CONSTRA_INSTRUCTION_HAS_CURRENCY);
    /* No currency stated: KES implied, flag not set. */
    assert_int_equal(parse("charge 0712345678 500", &in), CONSTRA_OK);
    assert_string_equal(in.currency, "KES");
    assert_false(in.found & CONSTRA_INSTRUCTION_HAS_CURRENCY);
    assert_int_equal(in.found, CONSTRA_INSTRUCTION_HAS_AMOUNT | CONSTRA_INSTRUCTION_HAS_PHONE);
}

/* Every phone form of the Daraja reference, section 8. */
static void test_phone_forms(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } forms[] = {
        {"0712345678", P712},           {"0110123456", "254110123456"},
        {"712345678", P712},            {"110123456", "254110123456"},
        {"254712345678", P712},         {"+254712345678", P712},
        {"00254712345678", P712},       {"000254712345678", P712},
        {"0712 345 678", P712},         {"0712-345-678", P712},
        {"0712.345.678", P712},         {"(0712) 345 678", P712},
        {"+254 712 345 678", P712},     {"+254-712-345-678", P712},
        {"(+254) 712345678", P712},     {"254 712 345678", P712},
        {"0 712 345 678", P712},        {"0708374149", "254708374149"},
        {"0100 123 456", "254100123456"}, {"0180123456", "254180123456"},
        {"0124123456", "254124123456"}, {"0130123456", "254130123456"},
        {"0145123456", "254145123456"},
    };
    static const char *const invalid[] = {
        "0812345678", "0201234567", "0109123456", "0122123456", "0146123456",
        "07123456789", "2540712345678", "+0712345678", "071234567",
    };
    char text[128];
    constra_instruction in;
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        snprintf(text, sizeof(text), "charge %s KES 10", forms[i].in);
        show(text);
        assert_int_equal(parse(text, &in), CONSTRA_OK);
        assert_string_equal(in.phone_number, forms[i].out);
        assert_int_equal(in.amount, 10);
        assert_int_equal(in.refused, 0);
    }
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        snprintf(text, sizeof(text), "charge %s KES 10", invalid[i]);
        show(text);
        assert_int_equal(parse(text, &in), CONSTRA_OK);
        assert_string_equal(in.phone_number, "");
        assert_true(in.not_understood[0] != '\0');
    }
}

static void test_amount_forms(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t out;
    } forms[] = {
        {"KES 1,250", 1250},  {"KSh 1250", 1250},     {"Ksh1,250/=", 1250},
        {"1250 shillings", 1250}, {"1.25k", 1250},    {"1,250.00", 1250},
        {"1250/-", 1250},     {"kes1250", 1250},      {"1250kes", 1250},
        {"Kshs.1,250", 1250}, {"sh 1250", 1250},      {"1250 sh", 1250},
        {"1250 bob", 1250},   {"2K", 2000},           {"1,000,000", 0},
        {"250000", 250000},   {"1", 1},               {"KES 10.0", 10},
        {"2.5k/=", 2500},     {"KES 1,250.", 1250},   {"KES.500", 500},
    };
    char text[128];
    constra_instruction in;
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        snprintf(text, sizeof(text), "charge 0712345678 %s", forms[i].in);
        show(text);
        assert_int_equal(parse(text, &in), CONSTRA_OK);
        assert_int_equal(in.amount, forms[i].out);
        assert_int_equal(in.refused, forms[i].out == 0);
    }
}

/* ---- bad arguments ---------------------------------------------------- */

static void test_bad_arguments(void **state)
{
    (void)state;
    constra_instruction in = CONSTRA_INSTRUCTION_INIT;
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_instruction_parse(NULL, 10, &in, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "text");
    assert_int_equal(constra_instruction_parse("charge", 7, NULL, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "out");
    assert_int_equal(constra_instruction_parse("charge", 7, NULL, NULL),
                     CONSTRA_E_INVALID_ARGUMENT);

    /* Unterminated within max_len: nothing past max_len is read (ASan
     * would catch it) and *out is untouched. */
    char *buf = malloc(16);
    assert_non_null(buf);
    memcpy(buf, "charge 07123456", 16); /* 15 chars + NUL at [15] */
    constra_instruction before = in;
    assert_int_equal(constra_instruction_parse(buf, 15, &in, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "text");
    assert_memory_equal(&in, &before, sizeof(in));
    memset(buf, 'a', 16);
    assert_int_equal(constra_instruction_parse(buf, 16, &in, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_instruction_parse(buf, 0, &in, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    free(buf);

    /* max_len larger than the text is fine: reading stops at the NUL. */
    char small[] = "charge 0712345678 KES 5";
    assert_int_equal(constra_instruction_parse(small, (size_t)-1, &in, &err), CONSTRA_OK);
    assert_int_equal(in.amount, 5);

    /* NUL within max_len ends the text. */
    static const char with_nul[] = "charge 0712345678\0 KES 500";
    assert_int_equal(constra_instruction_parse(with_nul, sizeof(with_nul), &in, &err),
                     CONSTRA_OK);
    assert_int_equal(in.amount, 0);
    assert_string_equal(in.phone_number, P712);
    assert_string_equal(in.not_understood, "amount missing");
}

static void test_huge_text(void **state)
{
    (void)state;
    constra_instruction in = CONSTRA_INSTRUCTION_INIT;
    constra_error err = CONSTRA_ERROR_INIT;
    size_t n = CONSTRA_INSTRUCTION_MAX_TEXT;
    char *big = malloc(n + 2);
    assert_non_null(big);

    /* 4 KiB of digits: read, never a phone or an amount. */
    memset(big, '7', n);
    big[n] = '\0';
    assert_int_equal(constra_instruction_parse(big, n + 1, &in, &err), CONSTRA_OK);
    check_invariants(&in);
    assert_int_equal(in.refused, 1);
    assert_non_null(strstr(in.not_understood, "not a Kenyan mobile number"));

    /* One byte more than the limit. */
    memset(big, '7', n + 1);
    big[n + 1] = '\0';
    assert_int_equal(constra_instruction_parse(big, n + 2, &in, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "longer than 4096"));

    /* 2048 words: too many. */
    for (size_t i = 0; i < n; i += 2) {
        big[i] = '1';
        big[i + 1] = ' ';
    }
    big[n] = '\0';
    assert_int_equal(constra_instruction_parse(big, n + 1, &in, &err), CONSTRA_OK);
    assert_int_equal(in.refused, 1);
    assert_non_null(strstr(in.refusal, "more than 256 words"));

    /* A long sentence padded with words at the limit. */
    size_t len = 0;
    len += (size_t)snprintf(big, n + 1, "charge 0712345678 KES 500 for");
    while (len + 6 < n) {
        memcpy(big + len, " word", 5);
        len += 5;
    }
    big[len] = '\0';
    assert_int_equal(constra_instruction_parse(big, n + 1, &in, &err), CONSTRA_OK);
    check_invariants(&in);
    assert_int_equal(in.refused, 1); /* 800+ words */

    /* Spaces only, at the limit. */
    memset(big, ' ', n);
    big[n] = '\0';
    assert_int_equal(constra_instruction_parse(big, n + 1, &in, &err), CONSTRA_OK);
    assert_int_equal(in.refused, 1);
    free(big);
}

static void test_struct_not_initialised(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_instruction in;
    memset(&in, 0, sizeof(in));
    assert_int_equal(constra_instruction_parse("charge 0712345678 5", 20, &in, &err),
                     CONSTRA_E_ABI);
    assert_string_equal(err.param, "out");
    in.struct_size = 3;
    assert_int_equal(constra_instruction_parse("charge 0712345678 5", 20, &in, &err),
                     CONSTRA_E_ABI);
    memset(&in, 0xA5, sizeof(in)); /* garbage */
    assert_int_equal(constra_instruction_parse("charge 0712345678 5", 20, &in, &err),
                     CONSTRA_E_ABI);

    /* A caller built against newer headers: larger struct, zero tail. */
    unsigned char bigger[sizeof(constra_instruction) + 32];
    memset(bigger, 0, sizeof(bigger));
    size_t sz = sizeof(bigger);
    memcpy(bigger, &sz, sizeof(sz));
    assert_int_equal(constra_instruction_parse("charge 0712345678 5", 20,
                                               (constra_instruction *)(void *)bigger, &err),
                     CONSTRA_OK);
    for (size_t i = sizeof(constra_instruction); i < sizeof(bigger); i++) {
        assert_int_equal(bigger[i], 0);
    }
    bigger[sizeof(bigger) - 1] = 1;
    assert_int_equal(constra_instruction_parse("charge 0712345678 5", 20,
                                               (constra_instruction *)(void *)bigger, &err),
                     CONSTRA_E_ABI);

    /* The run-time initialiser. */
    assert_int_equal(constra_instruction_init(NULL, sizeof(in)), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_instruction_init(&in, 0), CONSTRA_E_ABI);
    assert_int_equal(constra_instruction_init(&in, sizeof(size_t)), CONSTRA_E_ABI);
    assert_int_equal(constra_instruction_init(&in, sizeof(in)), CONSTRA_OK);
    assert_int_equal(in.struct_size, sizeof(in));
    assert_int_equal(in.amount, 0);
    assert_int_equal(in.found, 0);
    assert_int_equal(constra_instruction_parse("charge 0712345678 5", 20, &in, NULL),
                     CONSTRA_OK);
    assert_int_equal(in.amount, 5);
}

/* ---- junk never crashes ----------------------------------------------- */

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void test_junk(void **state)
{
    (void)state;
    constra_instruction in = CONSTRA_INSTRUCTION_INIT;
    char buf[512];
    /* Every byte value. */
    for (int i = 0; i < 255; i++) {
        buf[i] = (char)(i + 1);
    }
    buf[255] = '\0';
    assert_int_equal(constra_instruction_parse(buf, sizeof(buf), &in, NULL), CONSTRA_OK);
    check_invariants(&in);

    /* Random bytes, and random picks from an alphabet of the parser's own
     * tokens (so that the passes meet each other's leftovers). */
    static const char *const pieces[] = {
        "charge ", "KES ", "Ksh", "1,250", "/=", "0712 ", "345 ", "678 ", "+254", "(", ")",
        "-", ".", "order ", "#", "ref ", "no. ", "for ", "from ", "Amina ", "k ", "2k ", "500 ",
        "send ", "pay ", "to ", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xff", "\x01",
        ", ", "bob ", "USD ", "ask ", "stk ", "0", "1", "7", "254", ":", "'", "\"", "a/c ",
        "invoice ", "INV-22 ", "shillings ", "Ugandan ", " ", "99999999999999999999",
    };
    uint32_t seed = 12345;
    for (int round = 0; round < 4000; round++) {
        size_t len = 0;
        size_t target = lcg(&seed) % (sizeof(buf) - 40);
        if (round % 2 == 0) {
            while (len < target) {
                char c = (char)(lcg(&seed) & 0xFF);
                buf[len++] = c == 0 ? 'x' : c;
            }
        } else {
            while (len < target) {
                const char *p = pieces[lcg(&seed) % (sizeof(pieces) / sizeof(pieces[0]))];
                size_t pn = strlen(p);
                if (len + pn >= sizeof(buf) - 1) {
                    break;
                }
                memcpy(buf + len, p, pn);
                len += pn;
            }
        }
        buf[len] = '\0';
        constra_instruction fresh = CONSTRA_INSTRUCTION_INIT;
        in = fresh;
        assert_int_equal(constra_instruction_parse(buf, len + 1, &in, NULL), CONSTRA_OK);
        check_invariants(&in);
    }

    /* Every prefix of a full sentence. */
    const char *s = "Charge Amina Njeri +254 (712) 345-678 Ksh1,250.00/= for order no. 7429 "
                    "solar kit deposit \xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80!";
    size_t sl = strlen(s);
    for (size_t i = 0; i <= sl; i++) {
        memcpy(buf, s, i);
        buf[i] = '\0';
        constra_instruction fresh = CONSTRA_INSTRUCTION_INIT;
        in = fresh;
        assert_int_equal(constra_instruction_parse(buf, i + 1, &in, NULL), CONSTRA_OK);
        check_invariants(&in);
    }
    assert_int_equal(in.amount, 1250);
    assert_string_equal(in.customer_name, "Amina Njeri");
    assert_string_equal(in.reference, "order 7429");
    assert_string_equal(in.description, "Solar kit deposit ete");
    assert_string_equal(in.not_understood, "1 word could not be read");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_transaction_desc),
        cmocka_unit_test(test_flagged),
        cmocka_unit_test(test_refused_keeps_fields_for_display),
        cmocka_unit_test(test_phone_forms),
        cmocka_unit_test(test_amount_forms),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_huge_text),
        cmocka_unit_test(test_struct_not_initialised),
        cmocka_unit_test(test_junk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
