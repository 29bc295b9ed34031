/* Daraja parsers on the samples of doc/DARAJA.md (tests/vectors/daraja/) and
 * on the real-world variants it lists: numbers as strings and strings as
 * numbers, both STK-query pending shapes, valueless items, absent
 * CallbackMetadata, masked/hashed C2B MSISDNs, B2C lists as objects. */
#include "daraja_test.h"

static int cb(const char *json, constra_daraja_stk_callback *r, constra_error *err)
{
    constra_daraja_stk_callback init = CONSTRA_DARAJA_STK_CALLBACK_INIT;
    *r = init;
    return constra_daraja_parse_stk_callback(json, strlen(json), r, err);
}

/* An STK callback whose Item list is `items`. */
static int cb_items(const char *items, constra_daraja_stk_callback *r, constra_error *err)
{
    static char buf[8192];
    snprintf(buf, sizeof(buf),
             "{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"29115-34620561-1\","
             "\"CheckoutRequestID\":\"ws_CO_191220191020363925\",\"ResultCode\":0,"
             "\"ResultDesc\":\"ok\",\"CallbackMetadata\":{\"Item\":[%s]}}}}",
             items);
    return cb(buf, r, err);
}

static void test_stk_callback_success(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_daraja_stk_callback r = CONSTRA_DARAJA_STK_CALLBACK_INIT;
    size_t len;
    const char *body = vector("stk_callback_success.json", &len);
    assert_ok(constra_daraja_parse_stk_callback(body, len, &r, &err), err);
    assert_int_equal(r.struct_size, sizeof(r));
    assert_string_equal(r.merchant_request_id, "29115-34620561-1");
    assert_string_equal(r.checkout_request_id, "ws_CO_191220191020363925");
    assert_string_equal(r.result_code, "0");
    assert_string_equal(r.result_desc, "The service request is processed successfully.");
    assert_true(r.has_metadata);
    assert_true(r.has_amount);
    assert_int_equal(r.amount, 1);
    assert_true(r.has_receipt);
    assert_string_equal(r.mpesa_receipt_number, "NLJ7RT61SV");
    assert_true(r.has_transaction_date);
    assert_string_equal(r.transaction_date, "20191219102115");
    assert_true(r.has_transaction_unix);
    assert_int_equal(r.transaction_unix, 1576740075); /* 2019-12-19 07:21:15 UTC */
    assert_true(r.has_phone_number);
    assert_string_equal(r.phone_number, "254708374149");
}

static void test_stk_callback_cancelled(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_daraja_stk_callback r = CONSTRA_DARAJA_STK_CALLBACK_INIT;
    size_t len;
    const char *body = vector("stk_callback_cancelled.json", &len);
    assert_ok(constra_daraja_parse_stk_callback(body, len, &r, &err), err);
    assert_string_equal(r.merchant_request_id, "f1e2-4b95-a71d-b30d3cdbb7a7942864");
    assert_string_equal(r.checkout_request_id, "ws_CO_21072024125243250722943992");
    assert_string_equal(r.result_code, "1032");
    assert_string_equal(r.result_desc, "Request cancelled by user");
    assert_false(r.has_metadata);
    assert_false(r.has_amount);
    assert_false(r.has_receipt);
    assert_false(r.has_transaction_date);
    assert_false(r.has_phone_number);
    assert_int_equal(r.amount, 0);
}

static void test_stk_callback_result_codes(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_daraja_stk_callback r;
    struct {
        const char *json_code;
        const char *want;
    } cases[] = {
        {"0", "0"},           {"\"0\"", "0"},        {"1032", "1032"},
        {"\"1032\"", "1032"}, {"\"SFC_IC0003\"", "SFC_IC0003"},
        {"0.0", "0"},         {"1.00e3", "1000"},    {"\"E3008\"", "E3008"},
        {"-1", "-1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[512];
        snprintf(buf, sizeof(buf),
                 "{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"m\","
                 "\"CheckoutRequestID\":\"c\",\"ResultCode\":%s,\"ResultDesc\":\"x\"}}}",
                 cases[i].json_code);
        assert_ok(cb(buf, &r, &err), err);
        assert_string_equal(r.result_code, cases[i].want);
    }
    /* ResultDesc is optional; old prefixes are kept verbatim. */
    assert_ok(cb("{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":"
                 "\"c\",\"ResultCode\":1037}}}",
                 &r, &err),
              err);
    assert_string_equal(r.result_desc, "");
    assert_ok(cb("{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":"
                 "\"c\",\"ResultCode\":1032,\"ResultDesc\":\"[STK_CB - ]Request cancelled by "
                 "user\"}}}",
                 &r, &err),
              err);
    assert_string_equal(r.result_desc, "[STK_CB - ]Request cancelled by user");
}

static void test_stk_callback_item_variants(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_daraja_stk_callback r;

    /* Amount as 1.00, 1, "1.00", "1", 10500.00, 1e2, 1.000e1 */
    struct {
        const char *value;
        int64_t want;
    } amounts[] = {{"1.00", 1},       {"1", 1},     {"\"1.00\"", 1}, {"\"1\"", 1},
                   {"10500.00", 10500}, {"1e2", 100}, {"1.000e1", 10}, {"250000", 250000},
                   {"0", 0},           {"-0.00", 0}};
    for (size_t i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
        char items[128];
        snprintf(items, sizeof(items), "{\"Name\":\"Amount\",\"Value\":%s}", amounts[i].value);
        assert_ok(cb_items(items, &r, &err), err);
        assert_true(r.has_amount);
        assert_int_equal(r.amount, amounts[i].want);
    }

    /* TransactionDate and PhoneNumber as strings; order does not matter;
     * unknown items and valueless items are ignored. */
    assert_ok(cb_items("{\"Name\":\"PhoneNumber\",\"Value\":\"254708374149\"},"
                       "{\"Name\":\"Balance\",\"Value\":12.34},"
                       "{\"Name\":\"SomethingNew\",\"Value\":{\"deep\":[1,2,3]}},"
                       "{\"Name\":\"TransactionDate\",\"Value\":\"20240229235959\"},"
                       "{\"Name\":\"Balance\"},"
                       "{\"Name\":\"MpesaReceiptNumber\",\"Value\":\"SG722NMVXQ\"},"
                       "{\"Name\":\"Amount\",\"Value\":10}",
                       &r, &err),
              err);
    assert_string_equal(r.phone_number, "254708374149");
    assert_string_equal(r.transaction_date, "20240229235959");
    assert_int_equal(r.transaction_unix, 1709240399);
    assert_string_equal(r.mpesa_receipt_number, "SG722NMVXQ");
    assert_int_equal(r.amount, 10);

    /* Missing or null Value: the item counts as absent. */
    assert_ok(cb_items("{\"Name\":\"Amount\"},{\"Name\":\"MpesaReceiptNumber\",\"Value\":null},"
                       "{\"Name\":\"PhoneNumber\"},{\"Name\":\"TransactionDate\"}",
                       &r, &err),
              err);
    assert_true(r.has_metadata);
    assert_false(r.has_amount);
    assert_false(r.has_receipt);
    assert_false(r.has_phone_number);
    assert_false(r.has_transaction_date);

    /* An empty Item list is metadata with nothing in it. */
    assert_ok(cb_items("", &r, &err), err);
    assert_true(r.has_metadata);
    assert_false(r.has_amount);

    /* A 14-digit date that is not a real time: kept as text, no unix. */
    assert_ok(cb_items("{\"Name\":\"TransactionDate\",\"Value\":20191319102115}", &r, &err),
              err);
    assert_true(r.has_transaction_date);
    assert_string_equal(r.transaction_date, "20191319102115");
    assert_false(r.has_transaction_unix);
    assert_int_equal(r.transaction_unix, 0);

    /* A masked phone string is kept as sent. */
    assert_ok(cb_items("{\"Name\":\"PhoneNumber\",\"Value\":\"2547******149\"}", &r, &err), err);
    assert_string_equal(r.phone_number, "2547******149");

    /* Duplicate keys the parser does not read are ignored. */
    assert_ok(cb("{\"x\":1,\"x\":2,\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"m\","
                 "\"CheckoutRequestID\":\"c\",\"ResultCode\":0,\"y\":1,\"y\":[]}}}",
                 &r, &err),
              err);

    /* Whitespace, a byte order mark, UTF-8 in descriptions. */
    const char bom[] = "\xEF\xBB\xBF {\n\t\"Body\" : {\"stkCallback\":{\"MerchantRequestID\":\"m\","
                       "\"CheckoutRequestID\":\"c\",\"ResultCode\":0,\"ResultDesc\":"
                       "\"Imefanikiwa \\u00e9 \xc3\xa9 \xe2\x82\xac\"}}}\r\n";
    constra_daraja_stk_callback init = CONSTRA_DARAJA_STK_CALLBACK_INIT;
    r = init;
    assert_ok(constra_daraja_parse_stk_callback(bom, sizeof(bom) - 1, &r, &err), err);
    assert_string_equal(r.result_desc, "Imefanikiwa \xc3\xa9 \xc3\xa9 \xe2\x82\xac");

    /* A surrogate pair is one character; a 63-digit number in a field the
     * parser does not read is fine. */
    assert_ok(cb("{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":"
                 "\"c\",\"ResultCode\":0,\"ResultDesc\":\"ok \\ud83d\\ude00\",\"Big\":"
                 "123456789012345678901234567890123456789012345678901234567890123}}}",
                 &r, &err),
              err);
    assert_string_equal(r.result_desc, "ok \xf0\x9f\x98\x80");
}

static void test_stk_push_response(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_daraja_stk_push_response r = CONSTRA_DARAJA_STK_PUSH_RESPONSE_INIT;
    size_t len;
    const char *body = vector("stk_push_response.json", &len);
    assert_ok(constra_daraja_parse_stk_push_response(body, len, 200, &r, &err), err);
    assert_int_equal(r.outcome, CONSTRA_DARAJA_PUSH_ACCEPTED);
    assert_int_equal(r.http_status, 200);
    assert_string_equal(r.merchant_request_id, "2654-4b64-97ff-b827b542881d3130");
    assert_string_equal(r.checkout_request_id, "ws_CO_1007202409152617172396192");
    assert_string_equal(r.response_code, "0");
    assert_string_equal(r.response_description, "Success. Request accepted for processing");
    assert_string_equal(r.customer_message, "Success. Request accepted for processing");
    assert_string_equal(r.error_code, "");

    /* A numeric ResponseCode 0 is the same thing. */
    const char *num = "{\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":\"c\",\"ResponseCode\":0}";
    assert_ok(constra_daraja_parse_stk_push_response(num, strlen(num), 201, &r, &err), err);
    assert_int_equal(r.outcome, CONSTRA_DARAJA_PUSH_ACCEPTED);

    /* Non-zero ResponseCode with HTTP 200: rejected, ids optional. */
    const char *rej = "{\"ResponseCode\":\"1\",\"ResponseDescription\":\"Unable to lock "
                      "subscriber, a transaction is already in process for the current "
                      "subscriber\"}";
    assert_ok(constra_daraja_parse_stk_push_response(rej, strlen(rej), 200, &r, &err), err);
    assert_int_equal(r.outcome, CONSTRA_DARAJA_PUSH_REJECTED);
    assert_string_equal(r.response_code, "1");
    assert_string_equal(r.checkout_request_id, "");

    /* The error envelope, at any status. */
    body = vector("error_envelope.json", &len);
    assert_ok(constra_daraja_parse_stk_push_response(body, len, 400, &r, &err), err);
    assert_int_equal(r.outcome, CONSTRA_DARAJA_PUSH_ERROR);
    assert_int_equal(r.http_status, 400);
    assert_string_equal(r.error_request_id, "1c5b-4ba8-815c-ac45c57a3db01495926");
    assert_string_equal(r.error_code, "400.002.02");
    assert_string_equal(r.error_message, "Bad Request - Invalid BusinessShortCode");
    assert_string_equal(r.response_code, "");
    const char *tok = "{\"requestId\":\"11728-2929992-1\",\"errorCode\":\"404.001.03\","
                      "\"errorMessage\":\"Invalid Access Token\"}";
    assert_ok(constra_daraja_parse_stk_push_response(tok, strlen(tok), 404, &r, &err), err);
    assert_int_equal(r.outcome, CONSTRA_DARAJA_PUSH_ERROR);
    assert_string_equal(r.error_code, "404.001.03");
    assert_ok(constra_daraja_parse_stk_push_response(tok, strlen(tok), 200, &r, &err), err);
    assert_int_equal(r.outcome, CONSTRA_DARAJA_PUSH_ERROR);
}

static void test_error_envelope(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_daraja_error_envelope r = CONSTRA_DARAJA_ERROR_ENVELOPE_INIT;
    size_t len;
    const char *body = vector("error_envelope.json", &len);
    assert_ok(constra_daraja_parse_error_envelope(body, len, 400, &r, &err), err);
    assert_int_equal(r.http_status, 400);
    assert_string_equal(r.request_id, "1c5b-4ba8-815c-ac45c57a3db01495926");
    assert_string_equal(r.error_code, "400.002.02");
    assert_string_equal(r.error_message, "Bad Request - Invalid BusinessShortCode");
    /* requestId and errorMessage are optional; odd codes are kept. */
    const char *odd = "{\"errorCode\":\"00.002.1001\"}";
    assert_ok(constra_daraja_parse_error_envelope(odd, strlen(odd), 503, &r, &err), err);
    assert_string_equal(r.error_code, "00.002.1001");
    assert_string_equal(r.request_id, "");
    assert_string_equal(r.error_message, "");
    const char *num = "{\"errorCode\":500,\"errorMessage\":\"x\"}";
    assert_ok(constra_daraja_parse_error_envelope(num, strlen(num), 500, &r, &err), err);
    assert_string_equal(r.error_code, "500");
}

static void test_stk_query_response(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_daraja_stk_query_response r = CONSTRA_DARAJA_STK_QUERY_RESPONSE_INIT;
    size_t len;

    const char *body = vector("stk_query_response_final.json", &len);
    assert_ok(constra_daraja_parse_stk_query_response(body, len, 200, &r, &err), err);
    assert_int_equal(r.state, CONSTRA_DARAJA_QUERY_FINAL);
    assert_string_equal(r.result_code, "0");
    assert_string_equal(r.result_desc, "The service request is processed successfully.");
    assert_string_equal(r.response_code, "0");
    assert_string_equal(r.response_description,
                        "The service request has been accepted successfully");
    assert_string_equal(r.merchant_request_id, "22205-34066-1");
    assert_string_equal(r.checkout_request_id, "ws_CO_13012021093521236557");

    /* Pending, classic shape: HTTP 500 + 500.001.1001 "being processed". */
    body = vector("stk_query_pending_500.json", &len);
    assert_ok(constra_daraja_parse_stk_query_response(body, len, 500, &r, &err), err);
    assert_int_equal(r.state, CONSTRA_DARAJA_QUERY_PENDING);
    assert_string_equal(r.error_code, "500.001.1001");
    assert_string_equal(r.error_message, "The transaction is being processed");
    assert_string_equal(r.error_request_id, "ws_CO_20022018230142206");
    assert_string_equal(r.result_code, "");

    /* Pending, newer shape: HTTP 200 + ResultCode 4999 (ids optional). */
    body = vector("stk_query_pending_4999.json", &len);
    assert_ok(constra_daraja_parse_stk_query_response(body, len, 200, &r, &err), err);
    assert_int_equal(r.state, CONSTRA_DARAJA_QUERY_PENDING);
    assert_string_equal(r.result_code, "4999");
    assert_string_equal(r.result_desc, "The transaction is still under processing");
    const char *p4999 = "{\"ResponseCode\":\"0\",\"ResponseDescription\":\"ok\","
                        "\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":\"c\","
                        "\"ResultCode\":4999,\"ResultDesc\":\"The transaction is still under "
                        "processing\"}";
    assert_ok(constra_daraja_parse_stk_query_response(p4999, strlen(p4999), 200, &r, &err), err);
    assert_int_equal(r.state, CONSTRA_DARAJA_QUERY_PENDING);
    assert_string_equal(r.checkout_request_id, "c");

    /* The same errorCode with other messages is an error, not pending. */
    const char *others[] = {"Merchant does not exist", "[MerchantValidate] - Wrong credentials",
                            ("Unable to lock subscriber, a transaction is already in process for "
                             "the current subscriber"),
                            "Internal Server Error"};
    for (size_t i = 0; i < 4; i++) {
        char buf[512];
        snprintf(buf, sizeof(buf),
                 "{\"requestId\":\"r\",\"errorCode\":\"500.001.1001\",\"errorMessage\":\"%s\"}",
                 others[i]);
        assert_ok(constra_daraja_parse_stk_query_response(buf, strlen(buf), 500, &r, &err), err);
        assert_int_equal(r.state, CONSTRA_DARAJA_QUERY_ERROR);
    }
    /* "being processed" under another code is an error too. */
    const char *other_code = "{\"errorCode\":\"500.003.02\",\"errorMessage\":\"The transaction "
                             "is being processed\"}";
    assert_ok(constra_daraja_parse_stk_query_response(other_code, strlen(other_code), 500, &r,
                                                      &err),
              err);
    assert_int_equal(r.state, CONSTRA_DARAJA_QUERY_ERROR);
    /* Case does not matter in the message. */
    const char *upper = "{\"errorCode\":\"500.001.1001\",\"errorMessage\":\"THE TRANSACTION IS "
                        "BEING PROCESSED\"}";
    assert_ok(constra_daraja_parse_stk_query_response(upper, strlen(upper), 500, &r, &err), err);
    assert_int_equal(r.state, CONSTRA_DARAJA_QUERY_PENDING);

    /* Final failures, codes as strings or numbers. */
    const char *cancelled = "{\"ResponseCode\":\"0\",\"MerchantRequestID\":\"m\","
                            "\"CheckoutRequestID\":\"c\",\"ResultCode\":\"1032\","
                            "\"ResultDesc\":\"[STK_CB - ]Request cancelled by user\"}";
    assert_ok(constra_daraja_parse_stk_query_response(cancelled, strlen(cancelled), 200, &r,
                                                      &err),
              err);
    assert_int_equal(r.state, CONSTRA_DARAJA_QUERY_FINAL);
    assert_string_equal(r.result_code, "1032");
    const char *num = "{\"CheckoutRequestID\":\"c\",\"ResultCode\":1037}";
    assert_ok(constra_daraja_parse_stk_query_response(num, strlen(num), 200, &r, &err), err);
    assert_int_equal(r.state, CONSTRA_DARAJA_QUERY_FINAL);
    assert_string_equal(r.result_code, "1037");
}

static void test_c2b(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_daraja_c2b r = CONSTRA_DARAJA_C2B_INIT;
    size_t len;
    const char *body = vector("c2b_confirmation.json", &len);
    assert_ok(constra_daraja_parse_c2b(body, len, &r, &err), err);
    assert_string_equal(r.transaction_type, "Pay Bill");
    assert_string_equal(r.trans_id, "RKL51ZDR4F");
    assert_string_equal(r.trans_time, "20231121121325");
    assert_true(r.has_trans_unix);
    assert_int_equal(r.trans_unix, 1700558005);
    assert_int_equal(r.trans_amount, 5);
    assert_string_equal(r.business_short_code, "600966");
    assert_string_equal(r.bill_ref_number, "Sample Transaction");
    assert_string_equal(r.invoice_number, "");
    assert_true(r.has_org_account_balance);
    assert_int_equal(r.org_account_balance_cents, 2500);
    assert_string_equal(r.third_party_trans_id, "");
    assert_string_equal(r.msisdn, "2547 ***** 126");
    assert_int_equal(r.msisdn_form, CONSTRA_DARAJA_MSISDN_MASKED);
    assert_string_equal(r.first_name, "NICHOLAS");
    assert_string_equal(r.middle_name, "");
    assert_string_equal(r.last_name, "");

    /* Validation request: blank balance; numbers for the numeric fields;
     * plain MSISDN; Buy Goods without BillRefNumber. */
    const char *v = "{\"TransactionType\":\"Buy Goods\",\"TransID\":\"SG722NMVXQ\","
                    "\"TransTime\":20240707120000,\"TransAmount\":1500,"
                    "\"BusinessShortCode\":600984,\"OrgAccountBalance\":\"\","
                    "\"MSISDN\":254708374149,\"FirstName\":\"John\"}";
    assert_ok(constra_daraja_parse_c2b(v, strlen(v), &r, &err), err);
    assert_false(r.has_org_account_balance);
    assert_int_equal(r.trans_amount, 1500);
    assert_string_equal(r.business_short_code, "600984");
    assert_string_equal(r.msisdn, "254708374149");
    assert_int_equal(r.msisdn_form, CONSTRA_DARAJA_MSISDN_PLAIN);
    assert_string_equal(r.bill_ref_number, "");

    /* Hashed MSISDN (C2B v1), other forms, absent. */
    const char *h = "{\"TransactionType\":\"Pay Bill\",\"TransID\":\"X\",\"TransTime\":"
                    "\"20231121121325\",\"TransAmount\":\"10\",\"BusinessShortCode\":\"600966\","
                    "\"MSISDN\":\"2a0f47b1d1b2f8c4e1b5b9c7c2d1f0e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3\","
                    "\"OrgAccountBalance\":-12.5}";
    assert_ok(constra_daraja_parse_c2b(h, strlen(h), &r, &err), err);
    assert_int_equal(r.msisdn_form, CONSTRA_DARAJA_MSISDN_HASHED);
    assert_int_equal(r.org_account_balance_cents, -1250);
    const char *o = "{\"TransactionType\":\"Pay Bill\",\"TransID\":\"X\",\"TransTime\":"
                    "\"20231121121325\",\"TransAmount\":\"10\",\"BusinessShortCode\":\"600966\","
                    "\"MSISDN\":\"+254 708 374149\"}";
    assert_ok(constra_daraja_parse_c2b(o, strlen(o), &r, &err), err);
    assert_int_equal(r.msisdn_form, CONSTRA_DARAJA_MSISDN_OTHER);
    const char *a = "{\"TransactionType\":\"Pay Bill\",\"TransID\":\"X\",\"TransTime\":"
                    "\"20231121121325\",\"TransAmount\":\"10\",\"BusinessShortCode\":\"600966\"}";
    assert_ok(constra_daraja_parse_c2b(a, strlen(a), &r, &err), err);
    assert_int_equal(r.msisdn_form, CONSTRA_DARAJA_MSISDN_ABSENT);
    assert_false(r.has_org_account_balance);
}

static void test_b2c_result(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_daraja_b2c_result r = CONSTRA_DARAJA_B2C_RESULT_INIT;
    size_t len;
    const char *body = vector("b2c_result.json", &len);
    assert_ok(constra_daraja_parse_b2c_result(body, len, &r, &err), err);
    assert_int_equal(r.result_type, 0);
    assert_string_equal(r.result_code, "0");
    assert_string_equal(r.result_desc, "The service request is processed successfully.");
    assert_string_equal(r.originator_conversation_id, "600997_Test_32et3241ed8yu");
    assert_string_equal(r.conversation_id, "AG_20240706_2010364430d9bbdaf872");
    assert_string_equal(r.transaction_id, "SG632NMUAB");
    assert_true(r.has_parameters);
    assert_true(r.has_transaction_amount);
    assert_int_equal(r.transaction_amount, 10);
    assert_string_equal(r.transaction_receipt, "SG632NMUAB");
    assert_string_equal(r.receiver_party_public_name, "254705912645 - NICHOLAS JOHN SONGOK");
    assert_string_equal(r.transaction_completed_datetime, "06.07.2024 22:48:52");
    assert_true(r.has_transaction_completed_unix);
    assert_int_equal(r.transaction_completed_unix, 1720295332);
    assert_true(r.has_utility_account_funds);
    assert_int_equal(r.utility_account_funds_cents, 895926960);
    assert_true(r.has_working_account_funds);
    assert_int_equal(r.working_account_funds_cents, 119937100);
    assert_true(r.has_charges_paid_account_funds);
    assert_int_equal(r.charges_paid_account_funds_cents, -198000);
    assert_string_equal(r.recipient_is_registered_customer, "Y");
    assert_string_equal(r.queue_timeout_url,
                        "https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit");

    /* A failure: no ResultParameters; ReferenceItem as an array; codes
     * and ResultType as strings (Account Balance style). */
    const char *fail = "{\"Result\":{\"ResultType\":\"0\",\"ResultCode\":\"2001\","
                       "\"ResultDesc\":\"The initiator information is invalid.\","
                       "\"OriginatorConversationID\":\"29112-34801843-1\","
                       "\"ConversationID\":\"AG_20191219_00006c6fddb15123addf\","
                       "\"TransactionID\":\"NLJ0000000\",\"ReferenceData\":{\"ReferenceItem\":["
                       "{\"Key\":\"Other\",\"Value\":1},{\"Key\":\"QueueTimeoutURL\","
                       "\"Value\":\"https://x.example/q\"}]}}}";
    assert_ok(constra_daraja_parse_b2c_result(fail, strlen(fail), &r, &err), err);
    assert_string_equal(r.result_code, "2001");
    assert_false(r.has_parameters);
    assert_false(r.has_transaction_amount);
    assert_false(r.has_utility_account_funds);
    assert_string_equal(r.queue_timeout_url, "https://x.example/q");

    /* A single ResultParameter object; unknown keys ignored; an odd date. */
    const char *single = "{\"Result\":{\"ResultType\":1,\"ResultCode\":0,"
                         "\"OriginatorConversationID\":\"o\",\"ConversationID\":\"c\","
                         "\"ResultParameters\":{\"ResultParameter\":{\"Key\":"
                         "\"TransactionCompletedDateTime\",\"Value\":\"31.02.2024 10:00:00\"}}}}";
    assert_ok(constra_daraja_parse_b2c_result(single, strlen(single), &r, &err), err);
    assert_int_equal(r.result_type, 1);
    assert_string_equal(r.transaction_completed_datetime, "31.02.2024 10:00:00");
    assert_false(r.has_transaction_completed_unix);
    assert_string_equal(r.transaction_id, "");
}

static void test_oauth_response(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_daraja_oauth_response r = CONSTRA_DARAJA_OAUTH_RESPONSE_INIT;
    size_t len;
    const char *body = vector("oauth_response.json", &len);
    assert_ok(constra_daraja_parse_oauth_response(body, len, 200, &r, &err), err);
    assert_false(r.is_error);
    assert_string_equal(r.access_token, "c9SQxWWhmdVRlyh0zh8gZDTkubVF");
    assert_int_equal(r.expires_in, 3599);
    const char *s = "{\"access_token\":\"abc\",\"expires_in\":\"3599\"}";
    assert_ok(constra_daraja_parse_oauth_response(s, strlen(s), 200, &r, &err), err);
    assert_int_equal(r.expires_in, 3599);
    const char *e = "{\"requestId\":\"\",\"errorCode\":\"400.008.02\",\"errorMessage\":"
                    "\"Invalid grant type passed\"}";
    assert_ok(constra_daraja_parse_oauth_response(e, strlen(e), 400, &r, &err), err);
    assert_true(r.is_error);
    assert_string_equal(r.error_code, "400.008.02");
    assert_string_equal(r.access_token, "");
    /* Production's HTTP 400 with an empty body. */
    assert_fails(constra_daraja_parse_oauth_response("", 0, 400, &r, &err), err, CONSTRA_E_PARSE,
                 "body_empty", "body");
    assert_fails(constra_daraja_parse_oauth_response(body, len, 400, &r, &err), err,
                 CONSTRA_E_PARSE, "response_unexpected", "body");
    const char *zero = "{\"access_token\":\"abc\",\"expires_in\":0}";
    assert_fails(constra_daraja_parse_oauth_response(zero, strlen(zero), 200, &r, &err), err,
                 CONSTRA_E_PARSE, "field_invalid", "expires_in");
    const char *sp = "{\"access_token\":\"ab c\",\"expires_in\":1}";
    assert_fails(constra_daraja_parse_oauth_response(sp, strlen(sp), 200, &r, &err), err,
                 CONSTRA_E_PARSE, "field_invalid", "access_token");
    assert_null(strstr(err.message, "ab c"));
}

static void test_result_structs(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    /* init functions agree with the macros */
    /* (Padding of a macro-initialised struct is unspecified, so the macro
     * is checked for its size field and the function for all bytes.) */
    static const unsigned char zeros[4096];
#define SAME_INIT(type, macro, fn)                                   \
    do {                                                             \
        type a__ = macro, b__;                                       \
        assert_int_equal(a__.struct_size, sizeof(type));             \
        memset(&b__, 0x5A, sizeof(b__));                             \
        assert_int_equal(fn(&b__, sizeof(b__)), CONSTRA_OK);         \
        assert_int_equal(b__.struct_size, sizeof(type));             \
        assert_memory_equal((const char *)&b__ + sizeof(size_t), zeros, \
                            sizeof(b__) - sizeof(size_t));           \
        assert_int_equal(fn(NULL, sizeof(b__)), CONSTRA_E_INVALID_ARGUMENT); \
        assert_int_equal(fn(&b__, sizeof(b__) - 1), CONSTRA_E_ABI);  \
        assert_int_equal(fn(&b__, 1u << 20), CONSTRA_E_ABI);         \
    } while (0)
    SAME_INIT(constra_daraja_error_envelope, CONSTRA_DARAJA_ERROR_ENVELOPE_INIT,
              constra_daraja_error_envelope_init);
    SAME_INIT(constra_daraja_stk_push_response, CONSTRA_DARAJA_STK_PUSH_RESPONSE_INIT,
              constra_daraja_stk_push_response_init);
    SAME_INIT(constra_daraja_stk_query_response, CONSTRA_DARAJA_STK_QUERY_RESPONSE_INIT,
              constra_daraja_stk_query_response_init);
    SAME_INIT(constra_daraja_stk_callback, CONSTRA_DARAJA_STK_CALLBACK_INIT,
              constra_daraja_stk_callback_init);
    SAME_INIT(constra_daraja_c2b, CONSTRA_DARAJA_C2B_INIT, constra_daraja_c2b_init);
    SAME_INIT(constra_daraja_b2c_result, CONSTRA_DARAJA_B2C_RESULT_INIT,
              constra_daraja_b2c_result_init);
    SAME_INIT(constra_daraja_oauth_response, CONSTRA_DARAJA_OAUTH_RESPONSE_INIT,
              constra_daraja_oauth_response_init);
    /* Every struct fits the library's struct-size ceiling. */
    assert_true(sizeof(constra_daraja_stk_query_response) < 4096);
    assert_true(sizeof(constra_daraja_b2c_result) < 4096);
    assert_true(sizeof(constra_daraja_c2b) < 4096);

    /* A caller from newer headers (bigger struct, zero tail) is served
     * and its tail left alone. */
    struct {
        constra_daraja_stk_callback r;
        unsigned char tail[32];
    } big;
    memset(&big, 0, sizeof(big));
    big.r.struct_size = sizeof(big);
    size_t len;
    const char *body = vector("stk_callback_success.json", &len);
    assert_ok(constra_daraja_parse_stk_callback(body, len, &big.r, &err), err);
    assert_int_equal(big.r.struct_size, sizeof(big));
    assert_int_equal(big.r.amount, 1);
    for (size_t i = 0; i < sizeof(big.tail); i++) {
        assert_int_equal(big.tail[i], 0);
    }
    /* err may be NULL. */
    assert_int_equal(constra_daraja_parse_stk_callback(body, len, &big.r, NULL), CONSTRA_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stk_callback_success),
        cmocka_unit_test(test_stk_callback_cancelled),
        cmocka_unit_test(test_stk_callback_result_codes),
        cmocka_unit_test(test_stk_callback_item_variants),
        cmocka_unit_test(test_stk_push_response),
        cmocka_unit_test(test_error_envelope),
        cmocka_unit_test(test_stk_query_response),
        cmocka_unit_test(test_c2b),
        cmocka_unit_test(test_b2c_result),
        cmocka_unit_test(test_oauth_response),
        cmocka_unit_test(test_result_structs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
