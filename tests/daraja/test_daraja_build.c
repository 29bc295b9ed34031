/* Daraja request builders: OAuth header, timestamp, password (known
 * answers from doc/DARAJA.md, recomputed independently with python3's base64
 * and datetime), STK push and STK query bodies, and their validation. */
#include "daraja_test.h"

#include <cjson/cJSON.h>

#define PASSKEY "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
/* base64("174379" PASSKEY "20160216165627") — the classic sample. */
#define PW_2016                                                                                \
    "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQy" \
    "YzkxOTIwMTYwMjE2MTY1NjI3"
/* base64("174379" PASSKEY "20210628092408") — the DOC-STK sample. */
#define PW_2021                                                                                \
    "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQy" \
    "YzkxOTIwMjEwNjI4MDkyNDA4"
/* 2021-06-28 09:24:08 EAT = 06:24:08 UTC. */
#define NOW_2021 INT64_C(1624861448)

static void test_timestamp(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    char ts[CONSTRA_DARAJA_TIMESTAMP_SIZE];
    assert_ok(constra_daraja_timestamp(NOW_2021, ts, sizeof(ts), &err), err);
    assert_string_equal(ts, "20210628092408");
    assert_ok(constra_daraja_timestamp(0, ts, sizeof(ts), &err), err);
    assert_string_equal(ts, "19700101030000");
    /* 2024-02-29 23:59:59 UTC is already 1 March in Nairobi. */
    assert_ok(constra_daraja_timestamp(INT64_C(1709251199), ts, sizeof(ts), &err), err);
    assert_string_equal(ts, "20240301025959");
    assert_ok(constra_daraja_timestamp(INT64_C(253402289999), ts, sizeof(ts), &err), err);
    assert_string_equal(ts, "99991231235959");

    assert_fails(constra_daraja_timestamp(-1, ts, sizeof(ts), &err), err,
                 CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "now_unix");
    assert_fails(constra_daraja_timestamp(INT64_C(253402290000), ts, sizeof(ts), &err), err,
                 CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "now_unix");
    assert_fails(constra_daraja_timestamp(INT64_MAX, ts, sizeof(ts), &err), err,
                 CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "now_unix");
    assert_fails(constra_daraja_timestamp(NOW_2021, NULL, 15, &err), err,
                 CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "out");
    assert_fails(constra_daraja_timestamp(NOW_2021, ts, 14, &err), err,
                 CONSTRA_E_BUFFER_TOO_SMALL, "buffer_too_small", "out");
    assert_int_equal(constra_daraja_timestamp(NOW_2021, ts, sizeof(ts), NULL), CONSTRA_OK);
}

static void test_password_known_answers(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    char pw[CONSTRA_DARAJA_PASSWORD_SIZE];
    size_t n = 0;
    assert_ok(constra_daraja_password("174379", PASSKEY, "20160216165627", pw, sizeof(pw), &n,
                                      &err),
              err);
    assert_string_equal(pw, PW_2016);
    assert_int_equal(n, strlen(PW_2016));
    assert_ok(constra_daraja_password("174379", PASSKEY, "20210628092408", pw, sizeof(pw), NULL,
                                      &err),
              err);
    assert_string_equal(pw, PW_2021);

    /* The DOC-STK sample body carries the same password and timestamp. */
    size_t len;
    const char *sample = vector("stk_push_request.json", &len);
    cJSON *j = cJSON_ParseWithLength(sample, len);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "Password")->valuestring, pw);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "Timestamp")->valuestring,
                        "20210628092408");
    cJSON_Delete(j);

    /* Too small: the needed size is reported, out untouched. */
    memset(pw, 'X', sizeof(pw));
    assert_fails(constra_daraja_password("174379", PASSKEY, "20210628092408", pw, 10, &n, &err),
                 err, CONSTRA_E_BUFFER_TOO_SMALL, "buffer_too_small", "out");
    assert_int_equal(n, strlen(PW_2021) + 1);
    assert_int_equal(pw[0], 'X');
    assert_non_null(strstr(err.message, "113"));
    assert_ok(constra_daraja_password("174379", PASSKEY, "20210628092408", pw, n, NULL, &err),
              err);
}

static void test_password_bad_input(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    char pw[CONSTRA_DARAJA_PASSWORD_SIZE];
    const char *bad_codes[] = {"", "1743", "17437900", "17437a", " 174379", "174379 "};
    for (size_t i = 0; i < sizeof(bad_codes) / sizeof(bad_codes[0]); i++) {
        int rc = constra_daraja_password(bad_codes[i], PASSKEY, "20210628092408", pw, sizeof(pw),
                                         NULL, &err);
        assert_int_equal(rc, CONSTRA_E_INVALID_ARGUMENT);
        assert_string_equal(err.param, "shortcode");
    }
    assert_fails(constra_daraja_password(NULL, PASSKEY, "20210628092408", pw, sizeof(pw), NULL,
                                         &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "shortcode");
    assert_fails(constra_daraja_password("174379", "", "20210628092408", pw, sizeof(pw), NULL,
                                         &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid_empty", "passkey");
    assert_fails(constra_daraja_password("174379", "bfb2 79f9", "20210628092408", pw, sizeof(pw),
                                         NULL, &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "passkey");
    /* The passkey never shows up in a message. */
    assert_null(strstr(err.message, "bfb2"));
    char long_key[CONSTRA_DARAJA_CREDENTIAL_MAX + 2];
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    assert_fails(constra_daraja_password("174379", long_key, "20210628092408", pw, sizeof(pw),
                                         NULL, &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "passkey");
    long_key[CONSTRA_DARAJA_CREDENTIAL_MAX] = '\0'; /* exactly the maximum: fine */
    assert_ok(constra_daraja_password("1743790", long_key, "20210628092408", pw, sizeof(pw), NULL,
                                      &err),
              err);
    const char *bad_ts[] = {"2021062809240",  "202106280924080", "2021062809240x",
                            "20211328092408", "20210230092408",  "20210628242408",
                            "20210628096008", "20210628092460",  "20210600092408",
                            "19691231235959", ""};
    for (size_t i = 0; i < sizeof(bad_ts) / sizeof(bad_ts[0]); i++) {
        int rc = constra_daraja_password("174379", PASSKEY, bad_ts[i], pw, sizeof(pw), NULL,
                                         &err);
        assert_int_equal(rc, CONSTRA_E_INVALID_ARGUMENT);
        assert_string_equal(err.param, "timestamp");
    }
    /* 29 February exists in leap years only. */
    assert_ok(constra_daraja_password("174379", PASSKEY, "20240229120000", pw, sizeof(pw), NULL,
                                      &err),
              err);
    assert_int_equal(constra_daraja_password("174379", PASSKEY, "20230229120000", pw, sizeof(pw),
                                             NULL, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_fails(constra_daraja_password("174379", PASSKEY, "20210628092408", NULL, 0, NULL,
                                         &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "out");
}

static void test_oauth(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    char hdr[CONSTRA_DARAJA_AUTH_HEADER_SIZE];
    const char *method = NULL, *path = NULL;
    size_t n = 0;
    /* python3: base64.b64encode(b'consumerKey123:consumer:Secret456') */
    assert_ok(constra_daraja_oauth_request("consumerKey123", "consumer:Secret456", &method, &path,
                                           hdr, sizeof(hdr), &n, &err),
              err);
    assert_string_equal(hdr, "Basic Y29uc3VtZXJLZXkxMjM6Y29uc3VtZXI6U2VjcmV0NDU2");
    assert_int_equal(n, strlen(hdr));
    assert_string_equal(method, "GET");
    assert_string_equal(path, "/oauth/v1/generate?grant_type=client_credentials");
    assert_ok(constra_daraja_oauth_request("k", "s", NULL, NULL, hdr, sizeof(hdr), NULL, &err),
              err);
    assert_string_equal(hdr, "Basic azpz");

    /* Longest credentials fit in CONSTRA_DARAJA_AUTH_HEADER_SIZE. */
    char key[CONSTRA_DARAJA_CREDENTIAL_MAX + 1], sec[CONSTRA_DARAJA_CREDENTIAL_MAX + 1];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    memset(sec, 's', sizeof(sec) - 1);
    sec[sizeof(sec) - 1] = '\0';
    assert_ok(constra_daraja_oauth_request(key, sec, NULL, NULL, hdr, sizeof(hdr), &n, &err),
              err);
    assert_true(n < sizeof(hdr));

    assert_fails(constra_daraja_oauth_request("key:x", "s", NULL, NULL, hdr, sizeof(hdr), NULL,
                                              &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "consumer_key");
    assert_fails(constra_daraja_oauth_request("key ", "s", NULL, NULL, hdr, sizeof(hdr), NULL,
                                              &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "consumer_key");
    assert_fails(constra_daraja_oauth_request("key", "TopSecret\n", NULL, NULL, hdr, sizeof(hdr),
                                              NULL, &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "consumer_secret");
    assert_null(strstr(err.message, "TopSecret"));
    assert_fails(constra_daraja_oauth_request("", "s", NULL, NULL, hdr, sizeof(hdr), NULL, &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid_empty", "consumer_key");
    assert_fails(constra_daraja_oauth_request("k", NULL, NULL, NULL, hdr, sizeof(hdr), NULL,
                                              &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "consumer_secret");
    char longer[CONSTRA_DARAJA_CREDENTIAL_MAX + 2];
    memset(longer, 's', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    assert_fails(constra_daraja_oauth_request("k", longer, NULL, NULL, hdr, sizeof(hdr), NULL,
                                              &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "consumer_secret");
    assert_fails(constra_daraja_oauth_request("k", "s", NULL, NULL, NULL, 10, NULL, &err), err,
                 CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "out");
    memset(hdr, 'X', sizeof(hdr));
    assert_fails(constra_daraja_oauth_request("consumerKey123", "consumer:Secret456", NULL, NULL,
                                              hdr, 50, &n, &err),
                 err, CONSTRA_E_BUFFER_TOO_SMALL, "buffer_too_small", "out");
    assert_int_equal(n, 51);
    assert_int_equal(hdr[0], 'X');
    assert_ok(constra_daraja_oauth_request("consumerKey123", "consumer:Secret456", NULL, NULL,
                                           hdr, 51, &n, &err),
              err);
    assert_int_equal(n, 50);
}

static constra_daraja_stk_push_params paybill(void)
{
    constra_daraja_stk_push_params p = CONSTRA_DARAJA_STK_PUSH_INIT;
    p.transaction_type = CONSTRA_DARAJA_STK_PAYBILL;
    p.business_shortcode = "174379";
    p.passkey = PASSKEY;
    p.amount = 1;
    p.phone_number = "254722000000";
    p.callback_url = "https://mydomain.com/path";
    p.account_reference = "accountref";
    p.transaction_desc = "txndesc";
    return p;
}

static const char *str_of(cJSON *j, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    assert_non_null(v);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static void test_stk_push_paybill(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_daraja_stk_push_params p = paybill();
    char out[2048], ts[CONSTRA_DARAJA_TIMESTAMP_SIZE], pw[CONSTRA_DARAJA_PASSWORD_SIZE];
    size_t n = 0;
    assert_ok(constra_daraja_stk_push_body(&p, NOW_2021, out, sizeof(out), &n, ts, sizeof(ts), pw,
                                           sizeof(pw), &err),
              err);
    assert_int_equal(n, strlen(out));
    assert_string_equal(ts, "20210628092408");
    assert_string_equal(pw, PW_2021);
    assert_string_equal(
        out, "{\"BusinessShortCode\":\"174379\",\"Password\":\"" PW_2021 "\","
             "\"Timestamp\":\"20210628092408\",\"TransactionType\":\"CustomerPayBillOnline\","
             "\"Amount\":\"1\",\"PartyA\":\"254722000000\",\"PartyB\":\"174379\","
             "\"PhoneNumber\":\"254722000000\",\"CallBackURL\":\"https://mydomain.com/path\","
             "\"AccountReference\":\"accountref\",\"TransactionDesc\":\"txndesc\"}");

    /* Field by field against the DOC-STK sample (which prompts a second
     * phone; the builder uses one MSISDN for PartyA and PhoneNumber). */
    size_t len;
    const char *sample = vector("stk_push_request.json", &len);
    cJSON *want = cJSON_ParseWithLength(sample, len);
    cJSON *got = cJSON_Parse(out);
    assert_non_null(want);
    assert_non_null(got);
    const char *keys[] = {"Password",   "Timestamp",  "TransactionType",  "Amount",
                          "PartyA",     "PartyB",     "CallBackURL",      "AccountReference",
                          "TransactionDesc"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        assert_string_equal(str_of(got, keys[i]), str_of(want, keys[i]));
    }
    assert_int_equal(atoi(str_of(got, "BusinessShortCode")),
                     cJSON_GetObjectItemCaseSensitive(want, "BusinessShortCode")->valueint);
    assert_string_equal(str_of(got, "PhoneNumber"), str_of(got, "PartyA"));
    assert_int_equal(cJSON_GetArraySize(got), 11);
    cJSON_Delete(want);
    cJSON_Delete(got);

    /* Optional outputs may be NULL; err may be NULL. */
    assert_int_equal(constra_daraja_stk_push_body(&p, NOW_2021, out, sizeof(out), &n, NULL, 0,
                                                  NULL, 0, NULL),
                     CONSTRA_OK);
}

static void test_stk_push_till(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_daraja_stk_push_params p = paybill();
    p.transaction_type = CONSTRA_DARAJA_STK_TILL;
    p.till_number = "5123456";
    p.amount = 250000;
    p.phone_number = "254110123456";
    char out[2048];
    size_t n;
    assert_ok(constra_daraja_stk_push_body(&p, NOW_2021, out, sizeof(out), &n, NULL, 0, NULL, 0,
                                           &err),
              err);
    cJSON *got = cJSON_Parse(out);
    assert_non_null(got);
    assert_string_equal(str_of(got, "TransactionType"), "CustomerBuyGoodsOnline");
    assert_string_equal(str_of(got, "BusinessShortCode"), "174379");
    assert_string_equal(str_of(got, "PartyB"), "5123456");
    assert_string_equal(str_of(got, "Amount"), "250000");
    assert_string_equal(str_of(got, "PartyA"), "254110123456");
    /* The password is always made of BusinessShortCode, not the till. */
    assert_string_equal(str_of(got, "Password"), PW_2021);
    cJSON_Delete(got);

    /* Mixing the recipes up is refused. */
    p.till_number = NULL;
    assert_fails(constra_daraja_stk_push_body(&p, NOW_2021, out, sizeof(out), &n, NULL, 0, NULL,
                                              0, &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "params.till_number");
    p = paybill();
    p.till_number = "5123456";
    assert_fails(constra_daraja_stk_push_body(&p, NOW_2021, out, sizeof(out), &n, NULL, 0, NULL,
                                              0, &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "params.till_number");
    p = paybill();
    p.transaction_type = CONSTRA_DARAJA_STK_TILL;
    p.till_number = "51234x";
    assert_fails(constra_daraja_stk_push_body(&p, NOW_2021, out, sizeof(out), &n, NULL, 0, NULL,
                                              0, &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "params.till_number");
    const int types[] = {0, 3, -1};
    for (size_t i = 0; i < 3; i++) {
        p = paybill();
        p.transaction_type = types[i];
        assert_fails(constra_daraja_stk_push_body(&p, NOW_2021, out, sizeof(out), &n, NULL, 0,
                                                  NULL, 0, &err),
                     err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                     "params.transaction_type");
    }
}

/* Runs the push builder with one field changed and expects a refusal. */
static void push_refused(const constra_daraja_stk_push_params *p, const char *param)
{
    constra_error err = CONSTRA_ERROR_INIT;
    char out[2048];
    size_t n = 0;
    int rc = constra_daraja_stk_push_body(p, NOW_2021, out, sizeof(out), &n, NULL, 0, NULL, 0,
                                          &err);
    if (rc != CONSTRA_E_INVALID_ARGUMENT || strcmp(err.param, param) != 0) {
        fail_msg("want INVALID_ARGUMENT on %s, got %d on '%s' (%s)", param, rc, err.param,
                 err.message);
    }
    assert_null(strstr(err.message, PASSKEY));
}

static void push_accepted(const constra_daraja_stk_push_params *p)
{
    constra_error err = CONSTRA_ERROR_INIT;
    char out[2048];
    size_t n = 0;
    assert_ok(constra_daraja_stk_push_body(p, NOW_2021, out, sizeof(out), &n, NULL, 0, NULL, 0,
                                           &err),
              err);
}

static void test_stk_push_fields(void **state)
{
    (void)state;
    constra_daraja_stk_push_params p;

    /* amount: whole KES 1..max (default 250,000, configurable) */
    const int64_t bad_amounts[] = {0, -1, 250001, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < 5; i++) {
        p = paybill();
        p.amount = bad_amounts[i];
        push_refused(&p, "params.amount");
    }
    p = paybill();
    p.amount_max = 70000;
    p.amount = 70001;
    push_refused(&p, "params.amount");
    p.amount = 70000;
    push_accepted(&p);
    p.amount_max = -5;
    push_refused(&p, "params.amount_max");

    /* shortcode: 5..7 digits */
    const char *bad_codes[] = {"1743", "17437900", "17437a", "", "174 379"};
    for (size_t i = 0; i < 5; i++) {
        p = paybill();
        p.business_shortcode = bad_codes[i];
        push_refused(&p, "params.business_shortcode");
    }
    p = paybill();
    p.business_shortcode = NULL;
    push_refused(&p, "params.business_shortcode");
    p = paybill();
    p.passkey = "";
    push_refused(&p, "params.passkey");
    p.passkey = NULL;
    push_refused(&p, "params.passkey");

    /* phone: already normalised 2547/2541 + 8 digits */
    const char *bad_phones[] = {"0712345678",    "+254712345678", "254012345678", "25471234567",
                                "2547123456789", "254812345678",  "254 12345678", "",
                                "25471234567a",  "712345678"};
    for (size_t i = 0; i < sizeof(bad_phones) / sizeof(bad_phones[0]); i++) {
        p = paybill();
        p.phone_number = bad_phones[i];
        push_refused(&p, "params.phone_number");
    }
    p = paybill();
    p.phone_number = "254112345678";
    push_accepted(&p);
    p.phone_number = NULL;
    push_refused(&p, "params.phone_number");

    /* callback URL: https://, http:// only when allowed (sandbox) */
    const char *bad_urls[] = {"http://example.com/cb", "ftp://example.com", "https://",
                              "https:///path",         "example.com/cb",    "https://ex ample.com",
                              "https://example.com/cb ", " https://example.com/cb",
                              "https://{{callback_url}}", "https://example.com/<id>",
                              "https://example.com/\"x\"", "https://example.com/a\\b",
                              "https://ex\xc3\xa4mple.com/", ""};
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        p = paybill();
        p.callback_url = bad_urls[i];
        push_refused(&p, "params.callback_url");
    }
    p = paybill();
    p.callback_url = "http://example.com/cb";
    p.allow_insecure_callback = 1;
    push_accepted(&p);
    p.callback_url = "HTTPS://Example.COM:8443/mpesa/cb?secret=abc123&x=%20";
    p.allow_insecure_callback = 0;
    push_accepted(&p);
    char url[CONSTRA_DARAJA_URL_MAX + 2];
    memcpy(url, "https://e.co/", 13);
    memset(url + 13, 'a', sizeof(url) - 14);
    url[sizeof(url) - 1] = '\0'; /* 512 bytes: one too many */
    p.callback_url = url;
    push_refused(&p, "params.callback_url");
    url[sizeof(url) - 2] = '\0'; /* 511: the maximum */
    push_accepted(&p);

    /* AccountReference <= 12, TransactionDesc <= 13, [A-Za-z0-9 -], both required */
    p = paybill();
    p.account_reference = "ABCDEFGHIJKL";
    p.transaction_desc = "Order 1234-56";
    push_accepted(&p);
    p.account_reference = "ABCDEFGHIJKLM";
    push_refused(&p, "params.account_reference");
    p.account_reference = "INV#1";
    push_refused(&p, "params.account_reference");
    p.account_reference = "a&b";
    push_refused(&p, "params.account_reference");
    p.account_reference = "";
    push_refused(&p, "params.account_reference");
    p.account_reference = NULL;
    push_refused(&p, "params.account_reference");
    p = paybill();
    p.transaction_desc = "Order 1234-567";
    push_refused(&p, "params.transaction_desc");
    p.transaction_desc = "pay@shop";
    push_refused(&p, "params.transaction_desc");
    p.transaction_desc = "";
    push_refused(&p, "params.transaction_desc");
    p.transaction_desc = NULL;
    push_refused(&p, "params.transaction_desc");
}

static void test_stk_push_outputs(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_daraja_stk_push_params p = paybill();
    char out[2048], ts[CONSTRA_DARAJA_TIMESTAMP_SIZE], pw[CONSTRA_DARAJA_PASSWORD_SIZE];
    size_t n = 0, need = 0;
    assert_ok(constra_daraja_stk_push_body(&p, NOW_2021, out, sizeof(out), &need, NULL, 0, NULL,
                                           0, &err),
              err);
    need += 1;

    /* One byte short: BUFFER_TOO_SMALL, *out_len = needed, nothing written. */
    memset(out, 'X', sizeof(out));
    memset(ts, 'X', sizeof(ts));
    assert_fails(constra_daraja_stk_push_body(&p, NOW_2021, out, need - 1, &n, ts, sizeof(ts),
                                              NULL, 0, &err),
                 err, CONSTRA_E_BUFFER_TOO_SMALL, "buffer_too_small", "out");
    assert_int_equal(n, need);
    assert_int_equal(out[0], 'X');
    assert_int_equal(ts[0], 'X');
    char needed[32];
    snprintf(needed, sizeof(needed), "%zu", need);
    assert_non_null(strstr(err.message, needed));
    assert_fails(constra_daraja_stk_push_body(&p, NOW_2021, out, 0, &n, NULL, 0, NULL, 0, &err),
                 err, CONSTRA_E_BUFFER_TOO_SMALL, "buffer_too_small", "out");
    assert_ok(constra_daraja_stk_push_body(&p, NOW_2021, out, need, &n, NULL, 0, NULL, 0, &err),
              err);
    assert_int_equal(n, need - 1);
    assert_int_equal(out[n], '\0');

    /* Small timestamp / password buffers: refused, nothing written. */
    memset(out, 'X', sizeof(out));
    assert_fails(constra_daraja_stk_push_body(&p, NOW_2021, out, sizeof(out), &n, ts, 14, NULL, 0,
                                              &err),
                 err, CONSTRA_E_BUFFER_TOO_SMALL, "buffer_too_small", "timestamp");
    assert_fails(constra_daraja_stk_push_body(&p, NOW_2021, out, sizeof(out), &n, NULL, 0, pw,
                                              strlen(PW_2021), &err),
                 err, CONSTRA_E_BUFFER_TOO_SMALL, "buffer_too_small", "password");
    assert_int_equal(out[0], 'X');

    /* NULL outputs and bad time. */
    assert_fails(constra_daraja_stk_push_body(&p, NOW_2021, NULL, 100, &n, NULL, 0, NULL, 0,
                                              &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "out");
    assert_fails(constra_daraja_stk_push_body(&p, NOW_2021, out, sizeof(out), NULL, NULL, 0, NULL,
                                              0, &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "out_len");
    assert_fails(constra_daraja_stk_push_body(&p, -1, out, sizeof(out), &n, NULL, 0, NULL, 0,
                                              &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "now_unix");
}

static void test_params_struct(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    char out[2048];
    size_t n;
    constra_daraja_stk_push_params p = paybill();

    assert_fails(constra_daraja_stk_push_body(NULL, NOW_2021, out, sizeof(out), &n, NULL, 0, NULL,
                                              0, &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "params");
    p.struct_size = 0;
    assert_fails(constra_daraja_stk_push_body(&p, NOW_2021, out, sizeof(out), &n, NULL, 0, NULL,
                                              0, &err),
                 err, CONSTRA_E_ABI, "abi_mismatch", "params");
    p.struct_size = sizeof(p) - 1;
    assert_int_equal(constra_daraja_stk_push_body(&p, NOW_2021, out, sizeof(out), &n, NULL, 0,
                                                  NULL, 0, &err),
                     CONSTRA_E_ABI);

    /* A caller built against newer headers: accepted while the tail is 0. */
    struct {
        constra_daraja_stk_push_params p;
        char tail[16];
    } big;
    memset(&big, 0, sizeof(big));
    big.p = paybill();
    big.p.struct_size = sizeof(big);
    assert_ok(constra_daraja_stk_push_body(&big.p, NOW_2021, out, sizeof(out), &n, NULL, 0, NULL,
                                           0, &err),
              err);
    big.tail[3] = 1;
    assert_int_equal(constra_daraja_stk_push_body(&big.p, NOW_2021, out, sizeof(out), &n, NULL, 0,
                                                  NULL, 0, &err),
                     CONSTRA_E_ABI);

    /* The init functions (for FFI callers) match the macros. */
    constra_daraja_stk_push_params a = CONSTRA_DARAJA_STK_PUSH_INIT, b;
    memset(&b, 0xAB, sizeof(b));
    assert_int_equal(constra_daraja_stk_push_params_init(&b, sizeof(b)), CONSTRA_OK);
    assert_int_equal(a.struct_size, sizeof(a));
    assert_int_equal(b.struct_size, sizeof(b));
    assert_int_equal(b.transaction_type, 0);
    assert_null(b.business_shortcode);
    assert_null(b.till_number);
    assert_null(b.passkey);
    assert_int_equal(b.amount, 0);
    assert_int_equal(b.amount_max, 0);
    assert_null(b.phone_number);
    assert_null(b.callback_url);
    assert_null(b.account_reference);
    assert_null(b.transaction_desc);
    assert_int_equal(b.allow_insecure_callback, 0);
    assert_int_equal(constra_daraja_stk_push_params_init(NULL, sizeof(b)),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_daraja_stk_push_params_init(&b, 8), CONSTRA_E_ABI);
    constra_daraja_stk_query_params qa = CONSTRA_DARAJA_STK_QUERY_INIT, qb;
    memset(&qb, 0xAB, sizeof(qb));
    assert_int_equal(constra_daraja_stk_query_params_init(&qb, sizeof(qb)), CONSTRA_OK);
    assert_int_equal(qa.struct_size, sizeof(qa));
    assert_int_equal(qb.struct_size, sizeof(qb));
    assert_null(qb.business_shortcode);
    assert_null(qb.passkey);
    assert_null(qb.checkout_request_id);
    assert_int_equal(constra_daraja_stk_query_params_init(&qb, 0), CONSTRA_E_ABI);
}

static void test_stk_query(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_daraja_stk_query_params q = CONSTRA_DARAJA_STK_QUERY_INIT;
    q.business_shortcode = "174379";
    q.passkey = PASSKEY;
    q.checkout_request_id = "ws_CO_260520211133524545";
    char out[1024], ts[CONSTRA_DARAJA_TIMESTAMP_SIZE], pw[CONSTRA_DARAJA_PASSWORD_SIZE];
    size_t n;
    /* 2016-02-16 16:56:27 EAT */
    assert_ok(constra_daraja_stk_query_body(&q, INT64_C(1455630987), out, sizeof(out), &n, ts,
                                            sizeof(ts), pw, sizeof(pw), &err),
              err);
    assert_string_equal(ts, "20160216165627");
    assert_string_equal(pw, PW_2016);
    assert_string_equal(out, "{\"BusinessShortCode\":\"174379\",\"Password\":\"" PW_2016 "\","
                             "\"Timestamp\":\"20160216165627\","
                             "\"CheckoutRequestID\":\"ws_CO_260520211133524545\"}");
    assert_int_equal(n, strlen(out));

    const char *bad_ids[] = {"", "ws CO", "ws_CO\n1", "ws_CO_\xc3\xa4"};
    for (size_t i = 0; i < 4; i++) {
        q.checkout_request_id = bad_ids[i];
        int rc = constra_daraja_stk_query_body(&q, INT64_C(1455630987), out, sizeof(out), &n,
                                               NULL, 0, NULL, 0, &err);
        assert_int_equal(rc, CONSTRA_E_INVALID_ARGUMENT);
        assert_string_equal(err.param, "params.checkout_request_id");
    }
    char id[CONSTRA_DARAJA_ID_SIZE + 1];
    memset(id, 'w', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    q.checkout_request_id = id; /* 128 bytes: too long */
    assert_fails(constra_daraja_stk_query_body(&q, 1, out, sizeof(out), &n, NULL, 0, NULL, 0,
                                               &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "params.checkout_request_id");
    id[CONSTRA_DARAJA_ID_SIZE - 1] = '\0'; /* 127: fine */
    assert_ok(constra_daraja_stk_query_body(&q, 1, out, sizeof(out), &n, NULL, 0, NULL, 0, &err),
              err);
    q.checkout_request_id = NULL;
    assert_fails(constra_daraja_stk_query_body(&q, 1, out, sizeof(out), &n, NULL, 0, NULL, 0,
                                               &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "params.checkout_request_id");
    q.checkout_request_id = "ws_CO_1";
    q.business_shortcode = "1234";
    assert_fails(constra_daraja_stk_query_body(&q, 1, out, sizeof(out), &n, NULL, 0, NULL, 0,
                                               &err),
                 err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "params.business_shortcode");
    q.business_shortcode = "174379";
    q.struct_size = 0;
    assert_fails(constra_daraja_stk_query_body(&q, 1, out, sizeof(out), &n, NULL, 0, NULL, 0,
                                               &err),
                 err, CONSTRA_E_ABI, "abi_mismatch", "params");
    q.struct_size = sizeof(q);
    assert_fails(constra_daraja_stk_query_body(&q, 1, out, 10, &n, NULL, 0, NULL, 0, &err), err,
                 CONSTRA_E_BUFFER_TOO_SMALL, "buffer_too_small", "out");
    assert_int_equal(n, strlen("{\"BusinessShortCode\":\"174379\",\"Password\":\"\","
                               "\"Timestamp\":\"19700101030001\",\"CheckoutRequestID\":"
                               "\"ws_CO_1\"}") +
                            strlen(PW_2016) + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_password_known_answers),
        cmocka_unit_test(test_password_bad_input),
        cmocka_unit_test(test_oauth),
        cmocka_unit_test(test_stk_push_paybill),
        cmocka_unit_test(test_stk_push_till),
        cmocka_unit_test(test_stk_push_fields),
        cmocka_unit_test(test_stk_push_outputs),
        cmocka_unit_test(test_params_struct),
        cmocka_unit_test(test_stk_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
