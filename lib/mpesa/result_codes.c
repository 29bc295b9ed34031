/*
 * The catalogue of M-Pesa result and error codes, per API context, and
 * its lookup. Facts from doc/DARAJA.md section 6
 * (Safaricom's Daraja 3.0 tables, the generic G2 table, and the community
 * observations it marks UNCERTAIN); the descriptions and notes are ours.
 */
#include "constra_config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/intfmt.h"
#include "constra/result_codes.h"
#include "mpesa/ascii.h"
#include "util/check.h"
#include "util/ascii.h"

/* Recommended actions (doc/DESIGN.md section 5, recovery summary). */
enum { ACT_NONE, ACT_RETRY, ACT_RETRY_LATER, ACT_CONTACT_CUSTOMER, ACT_OPERATOR_REVIEW };

static const char *const action_names[] = {
    "none", "retry", "retry_later", "contact_customer", "operator_review",
};

/* Short names for the table. */
#define STK CONSTRA_MPESA_API_STK
#define B2C CONSTRA_MPESA_API_B2C
#define C2B CONSTRA_MPESA_API_C2B
#define SYN CONSTRA_MPESA_API_SYNC
#define S CONSTRA_OUTCOME_SUCCEEDED
#define P CONSTRA_OUTCOME_PENDING
#define R CONSTRA_OUTCOME_REQUIRES_RECOVERY
#define RL CONSTRA_OUTCOME_RETRY_LATER
#define T CONSTRA_OUTCOME_FAILED
#define C CONSTRA_OUTCOME_FAILED_CONFIGURATION
#define V CONSTRA_OUTCOME_REVIEW_REQUIRED

/* The B2C gateway ApiResponse codes 100000000..100000011 share entries
 * under this key; lookups of a code in the range are redirected to it. */
#define GATEWAY_RANGE_KEY "100000000-100000011"
#define GATEWAY_RANGE_LO 100000000L
#define GATEWAY_RANGE_HI 100000011L

/* The descriptions and notes (about 18 KB of text) can be left out of a
 * build for small parts (-Dresult_descriptions=false): codes, outcome
 * classes, actions and message matches stay, lookups then give one shared
 * text instead. */
#if CONSTRA_RESULT_DESCRIPTIONS
#define TEXT(s) s
#else
#define TEXT(s) NULL
#endif
static const char *const omitted_text =
    "(description not built in: -Dresult_descriptions=false)";

typedef struct rc_entry {
    const char *code;
    unsigned char api;
    unsigned char outcome;
    unsigned char action;
    /* NULL: the entry for this (code, api) when no message matched (every
     * code has exactly one). Otherwise a lower-case text that must occur
     * in the message (case-insensitively); the first match in table order
     * wins. */
    const char *match;
    const char *description;
    const char *note;
} rc_entry;

static const rc_entry catalogue[] = {
    /* ---- STK push: callback and STK query ResultCode (doc/DARAJA.md 6.2) -- */
    {"0", STK, S, ACT_NONE, NULL,
     TEXT("The service request is processed successfully: the customer paid."),
     TEXT("Payment confirmed. Check the amount and phone number against the intent and record the "
     "receipt; a success for an intent that was already closed needs review.")},
    {"1", STK, R, ACT_CONTACT_CUSTOMER, NULL,
     TEXT("The balance is insufficient for the transaction (including Fuliza)."),
     TEXT("Customer does not have enough money in M-Pesa. Ask them to top up, then retry.")},
    {"2", STK, T, ACT_NONE, NULL,
     TEXT("Declined due to limit rule: the amount is below the M-Pesa minimum (Ksh 1)."),
     TEXT("The amount is below the minimum. Fix the amount; retrying unchanged will fail again.")},
    {"3", STK, T, ACT_CONTACT_CUSTOMER, NULL,
     TEXT("Declined due to limit rule: greater than the maximum transaction amount."),
     TEXT("The amount is above the per-transaction maximum. Agree a smaller amount or another "
     "payment method with the customer.")},
    {"4", STK, R, ACT_RETRY_LATER, NULL,
     TEXT("The payment would exceed the customer's daily transfer limit (Ksh 500,000)."),
     TEXT("Customer reached their daily M-Pesa limit. Retry tomorrow or offer another payment "
     "method.")},
    {"8", STK, T, ACT_OPERATOR_REVIEW, NULL,
     TEXT("The payment would exceed the maximum balance of the paybill or till."),
     TEXT("The merchant account is at its balance limit. Move funds out of the paybill/till before "
     "taking new payments.")},
    {"17", STK, RL, ACT_RETRY_LATER, NULL,
     TEXT("Rule limited: the same amount was requested from the same customer within 2 minutes."),
     TEXT("Check whether the earlier request for the same amount was paid; if not, wait at least 2 "
     "minutes before retrying.")},
    {"26", STK, RL, ACT_RETRY_LATER, NULL,
     TEXT("System busy: traffic blocking condition in place."),
     TEXT("M-Pesa is overloaded. Retry after a back-off of about 30 seconds.")},
    {"1001", STK, RL, ACT_RETRY_LATER, NULL,
     TEXT("Unable to lock subscriber: a transaction is already in process for this customer."),
     TEXT("The customer has another M-Pesa session open. Wait 1 to 3 minutes, check the earlier "
     "request, then retry.")},
    {"1019", STK, R, ACT_RETRY, NULL,
     TEXT("Transaction has expired: the customer did not act on the prompt in time."),
     TEXT("The prompt expired. Offer to send a new prompt when the customer is ready.")},
    {"1025", STK, R, ACT_RETRY, NULL,
     TEXT("An error occurred while sending the push request (prompt text too long, over 182 "
     "characters)."),
     TEXT("Retry once. If it repeats with the same request, shorten AccountReference and "
     "TransactionDesc.")},
    {"1031", STK, R, ACT_RETRY, NULL,
     TEXT("Request cancelled by user (rare code, community source; treated like 1032)."),
     TEXT("Customer cancelled the prompt. Offer retry or alternate payment timing.")},
    {"1032", STK, R, ACT_RETRY, NULL, TEXT("Request cancelled by user: the prompt was cancelled or "
     "dismissed."),
     TEXT("Customer cancelled the prompt. Offer retry or alternate payment timing.")},
    {"1036", STK, R, ACT_RETRY, NULL,
     TEXT("SMSC ACK timeout: the prompt reached the phone but the answer did not come back in "
     "time."),
     TEXT("The customer's answer was lost. Query the request first; if unpaid, retry.")},
    {"1037", STK, R, ACT_RETRY, NULL,
     TEXT("DS timeout, user cannot be reached (phone off, busy, or no response from user)."),
     TEXT("The customer's phone could not be reached. Query the request before sending a new "
     "prompt; if it keeps failing, the SIM may need an update (*234*1*6#).")},
    {"1050", STK, V, ACT_OPERATOR_REVIEW, NULL,
     TEXT("Maximum number of retries reached (community source; meaning uncertain)."),
     TEXT("Meaning not confirmed by Safaricom. Query the request and decide by hand before "
     "retrying.")},
    {"1101", STK, T, ACT_NONE, NULL,
     TEXT("Invalid input: the prompt message prefix must be shorter than 94 characters."),
     TEXT("The request's prompt text is too long. Shorten AccountReference/TransactionDesc; do not "
     "retry unchanged.")},
    {"1102", STK, T, ACT_NONE, NULL,
     TEXT("Invalid input: authentication message plus prompt prefix must be shorter than 93 "
     "characters."),
     TEXT("The request's prompt text is too long. Shorten AccountReference/TransactionDesc; do not "
     "retry unchanged.")},
    {"2001", STK, R, ACT_RETRY, NULL,
     TEXT("The initiator information is invalid: in STK, the customer entered a wrong M-Pesa PIN."),
     TEXT("Customer entered a wrong PIN. They may retry; M-Pesa limits PIN attempts.")},
    {"2026", STK, R, ACT_RETRY, NULL, TEXT("The channel session ID has expired."),
     TEXT("The customer's session expired. Send a new prompt.")},
    {"2028", STK, C, ACT_OPERATOR_REVIEW, NULL,
     TEXT("The request is not permitted according to product assignment (wrong TransactionType or "
     "PartyB, or shortcode not enabled for STK)."),
     TEXT("Configuration error. For a till use the HO/store number as BusinessShortCode, the till as "
     "PartyB and CustomerBuyGoodsOnline; for a paybill use CustomerPayBillOnline.")},
    {"2029", STK, V, ACT_OPERATOR_REVIEW, NULL,
     TEXT("Failed due to an unresolved reason type (meaning uncertain)."),
     TEXT("Meaning not confirmed by Safaricom. Query the request and decide by hand.")},
    {"4999", STK, P, ACT_NONE, NULL,
     TEXT("The transaction is still under processing (STK query)."),
     TEXT("Still being processed. Wait for the callback or query again later; do not send a new "
     "prompt.")},
    {"8006", STK, T, ACT_CONTACT_CUSTOMER, NULL,
     TEXT("The security credential is locked: the customer's M-Pesa PIN is locked."),
     TEXT("Customer's M-Pesa PIN is locked. They must call Safaricom (100 or 200) to unlock it "
     "before paying.")},
    {"9999", STK, R, ACT_RETRY, NULL,
     TEXT("Error while sending the push request (internal error)."),
     TEXT("Retry once. If it repeats, check the request's field lengths.")},
    {"SFC_IC0003", STK, C, ACT_OPERATOR_REVIEW, NULL,
     TEXT("The operator does not exist: TransactionType or PartyB does not fit the shortcode (till "
     "vs paybill)."),
     TEXT("Configuration error. Check TransactionType, BusinessShortCode and PartyB (till vs "
     "paybill); do not retry.")},
    {"E3008", STK, T, ACT_NONE, NULL,
     TEXT("Error, the user has a bad debt contract (seen in the sandbox for non-test numbers)."),
     TEXT("In the sandbox, use the test number 254708374149. In production this code is not "
     "expected: review.")},

    /* ---- Async results: B2C, B2B, reversal, transaction status, account
     * balance (doc/DARAJA.md 6.3; generic G2 codes marked G2). ------------- */
    {"0", B2C, S, ACT_NONE, NULL, TEXT("The service request is processed successfully."),
     TEXT("Completed. Record the transaction id and the result parameters.")},
    {"1", B2C, RL, ACT_RETRY_LATER, NULL,
     TEXT("The balance is insufficient: the B2C utility account (or the shortcode, for a reversal) "
     "lacks funds."),
     TEXT("The business account is short of funds. Top up the utility account, then retry.")},
    {"2", B2C, T, ACT_NONE, NULL, TEXT("Less than the minimum transaction value."),
     TEXT("The amount is below the minimum (Ksh 10 for B2C). Fix the amount.")},
    {"3", B2C, T, ACT_NONE, NULL, TEXT("More than the maximum transaction value."),
     TEXT("The amount is above the per-transaction maximum. Fix the amount or split it.")},
    {"4", B2C, R, ACT_RETRY_LATER, NULL,
     TEXT("Would exceed the recipient's daily transfer limit."),
     TEXT("The recipient reached their daily limit. Retry tomorrow.")},
    {"5", B2C, RL, ACT_RETRY_LATER, NULL, TEXT("Would exceed the minimum balance (G2)."),
     TEXT("The debit account would fall below its minimum balance. Top it up, then retry.")},
    {"6", B2C, C, ACT_OPERATOR_REVIEW, NULL, TEXT("Unresolved primary party (G2)."),
     TEXT("The shortcode was not recognised. Check PartyA and the environment.")},
    {"7", B2C, T, ACT_CONTACT_CUSTOMER, NULL, TEXT("Unresolved receiver party (G2)."),
     TEXT("The recipient was not recognised. Confirm the recipient's number.")},
    {"8", B2C, R, ACT_CONTACT_CUSTOMER, NULL,
     TEXT("Would exceed the recipient's maximum M-Pesa balance (Ksh 500,000)."),
     TEXT("The recipient's wallet is full. Ask them to reduce their balance, then retry.")},
    {"11", B2C, C, ACT_OPERATOR_REVIEW, NULL,
     TEXT("The debit party is in an invalid state (shortcode inactive)."),
     TEXT("The shortcode is not active. Contact Safaricom to activate it; do not retry.")},
    {"12", B2C, T, ACT_CONTACT_CUSTOMER, NULL, TEXT("Credit account invalid (G2)."),
     TEXT("The recipient's account cannot receive this. Confirm the recipient.")},
    {"13", B2C, C, ACT_OPERATOR_REVIEW, NULL, TEXT("Unresolved debit account (G2)."),
     TEXT("The debit account was not found. Check the shortcode setup.")},
    {"14", B2C, T, ACT_CONTACT_CUSTOMER, NULL, TEXT("Unresolved credit account (G2)."),
     TEXT("The recipient's account was not found. Confirm the recipient.")},
    {"15", B2C, V, ACT_OPERATOR_REVIEW, NULL,
     TEXT("Duplicate detected: this OriginatorConversationID was already used."),
     TEXT("The first request may have succeeded. Query the transaction status before doing "
     "anything else; never resend blindly.")},
    {"17", B2C, RL, ACT_RETRY_LATER, NULL, TEXT("Internal failure."),
     TEXT("Safaricom internal failure. Query the transaction status, then retry later if nothing "
     "was paid.")},
    {"18", B2C, C, ACT_OPERATOR_REVIEW, NULL, TEXT("Initiator credential check failure."),
     TEXT("The initiator's security credential was rejected. Re-encrypt the initiator password "
     "with the right certificate.")},
    {"20", B2C, C, ACT_OPERATOR_REVIEW, NULL, TEXT("Unresolved initiator."),
     TEXT("The initiator name is not known for this shortcode. Check the initiator setup.")},
    {"21", B2C, C, ACT_OPERATOR_REVIEW, NULL,
     TEXT("The initiator is not allowed to initiate this request (missing API role)."),
     TEXT("Give the initiator the needed role (e.g. ORG B2C API initiator) on the M-Pesa org "
     "portal.")},
    {"22", B2C, C, ACT_OPERATOR_REVIEW, NULL,
     TEXT("Initiator to receiver permission failure (initiator inactive)."),
     TEXT("The initiator is inactive or lacks permission. Fix it on the M-Pesa org portal.")},
    {"24", B2C, T, ACT_NONE, NULL, TEXT("Missing mandatory fields."),
     TEXT("The request lacks a required field. Fix the request.")},
    {"25", B2C, T, ACT_NONE, NULL, TEXT("Invalid request parameters."),
     TEXT("A request parameter is invalid. Fix the request.")},
    {"26", B2C, RL, ACT_RETRY_LATER, NULL, TEXT("Traffic blocking condition in place: system too busy."),
     TEXT("M-Pesa is overloaded. Retry after a back-off.")},
    {"29", B2C, T, ACT_NONE, NULL, TEXT("Invalid command."),
     TEXT("The CommandID is not valid for this API. Fix the request.")},
    {"2001", B2C, C, ACT_OPERATOR_REVIEW, NULL,
     TEXT("The initiator information is invalid: wrong API user name, password or certificate (not "
     "a customer PIN)."),
     TEXT("Fix the initiator name and SecurityCredential (password encrypted with the right "
     "environment's certificate). Repeated failures lock the credential (8006).")},
    {"2006", B2C, C, ACT_OPERATOR_REVIEW, NULL,
     TEXT("The account status does not allow this transaction."),
     TEXT("The account is restricted. Contact Safaricom; do not retry.")},
    {"2007", B2C, T, ACT_NONE, NULL, TEXT("External validation failed for the C2B transaction."),
     TEXT("The merchant's validation rejected the payment. No retry.")},
    {"2028", B2C, C, ACT_OPERATOR_REVIEW, NULL,
     TEXT("The request is not permitted according to product assignment."),
     TEXT("The shortcode lacks this product. Ask Safaricom to enable it.")},
    {"2033", B2C, V, ACT_OPERATOR_REVIEW, NULL,
     TEXT("The transaction receipt cannot be found by the given OriginatorConversationID or "
     "ConversationID."),
     TEXT("The referenced transaction was not found. Check the ids and query again; review by "
     "hand.")},
    {"2040", B2C, T, ACT_CONTACT_CUSTOMER, NULL,
     TEXT("The credit party customer type is not supported (unregistered recipient)."),
     TEXT("The recipient is not a registered M-Pesa customer. Ask them to register or pay another "
     "way.")},
    {"2043", B2C, C, ACT_OPERATOR_REVIEW, NULL,
     TEXT("The organization is not a child organization of the initiator."),
     TEXT("The initiator cannot act for this shortcode. Fix the initiator/shortcode pairing.")},
    {"8006", B2C, C, ACT_OPERATOR_REVIEW, NULL,
     TEXT("The API user's security credential is locked."),
     TEXT("The initiator is locked after failed attempts. A business administrator must unlock it "
     "on the M-Pesa org portal.")},
    {"SFC_IC0003", B2C, T, ACT_CONTACT_CUSTOMER, NULL,
     TEXT("The recipient's phone number is invalid or not on M-Pesa."),
     TEXT("Confirm the recipient's phone number; do not retry unchanged.")},
    {"R000001", B2C, T, ACT_NONE, NULL, TEXT("The transaction has already been reversed."),
     TEXT("Nothing to do: the reversal already happened. Do not reverse again.")},
    {"R000002", B2C, T, ACT_NONE, NULL, TEXT("The OriginalTransactionID is invalid."),
     TEXT("Check the M-Pesa receipt number being reversed.")},
    {GATEWAY_RANGE_KEY, B2C, RL, ACT_RETRY_LATER, "throttl",
     TEXT("Gateway response: throttling."), TEXT("Requests are being throttled. Back off, then retry.")},
    {GATEWAY_RANGE_KEY, B2C, RL, ACT_RETRY_LATER, "overload",
     TEXT("Gateway response: system overload."), TEXT("The gateway is overloaded. Back off, then retry.")},
    {GATEWAY_RANGE_KEY, B2C, T, ACT_NONE, "invalid input",
     TEXT("Gateway response: invalid input."), TEXT("A request field is invalid. Fix the request.")},
    {GATEWAY_RANGE_KEY, B2C, C, ACT_OPERATOR_REVIEW, "permission",
     TEXT("Gateway response: insufficient permissions."),
     TEXT("The API user lacks permission for this request. Fix its roles.")},
    {GATEWAY_RANGE_KEY, B2C, V, ACT_OPERATOR_REVIEW, NULL,
     TEXT("Gateway response code (100000000 to 100000011): cached/resend, overload, throttling, "
     "internal error, invalid input, service abnormal, permissions or rate exceeded."),
     TEXT("The message did not say which. Query the transaction status and decide by hand.")},
    {"100000100", B2C, RL, ACT_RETRY_LATER, NULL,
     TEXT("Saving object to storage failed (Safaricom B2C internal error)."),
     TEXT("Safaricom internal error. Query the transaction status, then retry later if nothing "
     "was paid.")},

    /* ---- C2B validation response codes (doc/DARAJA.md 6.4) ---------------- */
    {"0", C2B, S, ACT_NONE, NULL, TEXT("Accepted: the merchant accepted the payment."),
     TEXT("The payment was accepted; expect its confirmation.")},
    {"C2B00011", C2B, T, ACT_CONTACT_CUSTOMER, NULL, TEXT("Rejected: invalid MSISDN."),
     TEXT("The payment was rejected for the payer's phone number.")},
    {"C2B00012", C2B, T, ACT_CONTACT_CUSTOMER, NULL, TEXT("Rejected: invalid account number."),
     TEXT("The payment was rejected for its account number (BillRefNumber). Ask the customer to "
     "pay with the right account number.")},
    {"C2B00013", C2B, T, ACT_CONTACT_CUSTOMER, NULL, TEXT("Rejected: invalid amount."),
     TEXT("The payment was rejected for its amount.")},
    {"C2B00014", C2B, T, ACT_CONTACT_CUSTOMER, NULL, TEXT("Rejected: invalid KYC details."),
     TEXT("The payment was rejected for the payer's KYC details.")},
    {"C2B00015", C2B, T, ACT_OPERATOR_REVIEW, NULL, TEXT("Rejected: invalid shortcode."),
     TEXT("The payment was rejected for its shortcode. Check the C2B setup.")},
    {"C2B00016", C2B, T, ACT_OPERATOR_REVIEW, NULL, TEXT("Rejected: other error."),
     TEXT("The payment was rejected by validation. See the merchant's validation logs.")},

    /* ---- Synchronous answers of any API (doc/DARAJA.md 6.5, 3.3) ---------- */
    {"0", SYN, P, ACT_NONE, NULL,
     TEXT("Request accepted for processing (ResponseCode 0): not yet paid or completed."),
     TEXT("Accepted only. Wait for the callback or result, or query later; do not send the request "
     "again.")},
    {"400.002.02", SYN, T, ACT_NONE, NULL,
     TEXT("Bad Request - Invalid <field>: the errorMessage names the rejected field."),
     TEXT("Fix the field named in errorMessage (e.g. PhoneNumber, Amount, CallBackURL, Timestamp); "
     "do not retry unchanged. A missing Content-Type also gives this code.")},
    {"400.002.05", SYN, T, ACT_NONE, NULL, TEXT("Invalid request payload."),
     TEXT("The request body is malformed. Fix the request.")},
    {"400.003.02", SYN, T, ACT_NONE, NULL, TEXT("Bad request."), TEXT("Fix the request.")},
    {"400.008.01", SYN, C, ACT_OPERATOR_REVIEW, NULL,
     TEXT("OAuth: invalid authentication type (not HTTP Basic)."),
     TEXT("The token request must use HTTP Basic auth with the consumer key and secret.")},
    {"400.008.02", SYN, C, ACT_OPERATOR_REVIEW, NULL, TEXT("OAuth: invalid grant type."),
     TEXT("The token request must pass grant_type=client_credentials (check the URL for stray "
     "spaces).")},
    {"400.003.01", SYN, RL, ACT_RETRY, NULL,
     TEXT("Invalid access token (C2B, transaction status). The request was not processed."),
     TEXT("Refresh the OAuth token once and replay the request. If it repeats, check the keys, the "
     "environment and the app's products.")},
    {"401.002.01", SYN, RL, ACT_RETRY, NULL,
     TEXT("Invalid access token (account balance). The request was not processed."),
     TEXT("Refresh the OAuth token once and replay the request. If it repeats, check the keys, the "
     "environment and the app's products.")},
    {"404.001.01", SYN, C, ACT_OPERATOR_REVIEW, NULL, TEXT("Resource not found: wrong URL."),
     TEXT("Fix the API URL (path and environment).")},
    {"404.001.03", SYN, RL, ACT_RETRY, NULL,
     TEXT("Invalid access token (STK, reversal). The request was not processed."),
     TEXT("Refresh the OAuth token once and replay the request. If it repeats, check the keys, the "
     "environment and the app's products.")},
    {"404.001.04", SYN, C, ACT_OPERATOR_REVIEW, NULL, TEXT("Invalid authentication header."),
     TEXT("Send 'Authorization: Bearer <token>' on API calls.")},
    {"404.002.01", SYN, C, ACT_OPERATOR_REVIEW, NULL, TEXT("Resource not found."),
     TEXT("Fix the API URL (path and environment).")},
    {"404.003.01", SYN, C, ACT_OPERATOR_REVIEW, NULL, TEXT("Resource not found."),
     TEXT("Fix the API URL (path and environment).")},
    {"405.001", SYN, C, ACT_OPERATOR_REVIEW, NULL, TEXT("Method not allowed."),
     TEXT("Use POST for M-Pesa APIs (GET only for OAuth).")},
    {"500.001.1001", SYN, P, ACT_NONE, "being processed",
     TEXT("The transaction is being processed (STK query asked too early)."),
     TEXT("Still in flight. Query again later; do not send a new prompt.")},
    {"500.001.1001", SYN, P, ACT_NONE, "under processing",
     TEXT("The transaction is still under processing."),
     TEXT("Still in flight. Query again later; do not send a new prompt.")},
    {"500.001.1001", SYN, C, ACT_OPERATOR_REVIEW, "merchant does not exist",
     TEXT("Merchant does not exist: the shortcode is not live in this environment."),
     TEXT("Configuration error. Check the shortcode and that it is live in this environment "
     "(sandbox vs production).")},
    {"500.001.1001", SYN, C, ACT_OPERATOR_REVIEW, "wrong credentials",
     TEXT("Wrong credentials: the STK Password does not verify."),
     TEXT("Configuration error. Check the passkey, and that the Timestamp and shortcode inside "
     "Password equal those in the request.")},
    {"500.001.1001", SYN, RL, ACT_RETRY_LATER, "unable to lock subscriber",
     TEXT("Unable to lock subscriber: a transaction is already in process for this customer."),
     TEXT("The customer has another M-Pesa session open. Wait at least 1 minute, check the earlier "
     "request, then retry.")},
    {"500.001.1001", SYN, V, ACT_OPERATOR_REVIEW, "internal server error",
     TEXT("Internal server error (reversal)."),
     TEXT("Outcome unclear. Query the transaction status before doing anything else.")},
    {"500.001.1001", SYN, V, ACT_OPERATOR_REVIEW, NULL,
     TEXT("Code with several meanings (merchant unknown, wrong credentials, subscriber locked, "
     "still processing); the message did not say which."),
     TEXT("Read errorMessage and query the request's status; decide by hand.")},
    {"500.002.1001", SYN, V, ACT_OPERATOR_REVIEW, NULL,
     TEXT("Duplicate OriginatorConversationID (B2C, account balance)."),
     TEXT("A request with this id was already received and may have been paid. Query the "
     "transaction status; never resend with a new id blindly.")},
    {"500.003.02", SYN, RL, ACT_RETRY_LATER, NULL,
     TEXT("System is busy, or spike arrest violation (too many requests per second)."),
     TEXT("Back off, then retry.")},
    {"500.003.03", SYN, RL, ACT_RETRY_LATER, NULL, TEXT("Quota violation: request quota exceeded."),
     TEXT("Back off, then retry later.")},
    {"500.003.1001", SYN, C, ACT_OPERATOR_REVIEW, "already registered",
     TEXT("C2B register: URLs are already registered."),
     TEXT("Production C2B URLs register once. Delete them in the portal's URL management, then "
     "register again.")},
    {"500.003.1001", SYN, C, ACT_OPERATOR_REVIEW, "duplicate notification",
     TEXT("C2B register: duplicate notification info."),
     TEXT("These URLs are already registered for the shortcode. Review the C2B registration.")},
    {"500.003.1001", SYN, RL, ACT_RETRY_LATER, NULL, TEXT("Internal server error."),
     TEXT("Safaricom-side error. Retry later with care: an STK prompt may still have been sent, so "
     "watch for a late callback before pushing again.")},
    {"00.002.1001", SYN, RL, ACT_RETRY_LATER, NULL, TEXT("Service is currently under maintenance."),
     TEXT("Retry after the maintenance window.")},
};

#undef STK
#undef B2C
#undef C2B
#undef SYN
#undef S
#undef P
#undef R
#undef RL
#undef T
#undef C
#undef V

static const char *const unknown_description = "Unknown code: not in libconstra's catalogue.";
static const char *const unknown_note =
    "Unknown result code. Do not treat it as success or failure: check the payment by query or "
    "statement and resolve it by hand.";

/* The first version of constra_result_info ends after `code`. */
#define RESULT_INFO_V1_SIZE (offsetof(constra_result_info, code) + CONSTRA_MPESA_CODE_MAX + 1)

int constra_result_info_init(constra_result_info *info, size_t struct_size)
{
    return constra__init_struct(info, struct_size, RESULT_INFO_V1_SIZE, sizeof(*info), NULL);
}

const char *constra_outcome_name(int outcome)
{
    static const char *const names[] = {
        "none", "succeeded", "pending", "requires_recovery", "retry_later", "failed",
        "failed_configuration", "review_required",
    };
    if (outcome < 0 || (size_t)outcome >= CONSTRA__ARRAY_LEN(names)) {
        return "unknown";
    }
    return names[outcome];
}

static const char *const api_names[] = {"auto", "stk", "b2c", "c2b", "sync"};

const char *constra_mpesa_api_name(int api)
{
    if (api < 0 || (size_t)api >= CONSTRA__ARRAY_LEN(api_names)) {
        return "unknown";
    }
    return api_names[api];
}

int constra_mpesa_api_parse(const char *name, int *api, constra_error *err)
{
    if (api == NULL) {
        return constra__fail_null(err, "api");
    }
    size_t len;
    int rc = constra__check_str(name, 16, 0, "name", &len, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(api_names); i++) {
        if (strcmp(api_names[i], name) == 0) {
            *api = (int)i;
            return CONSTRA_OK;
        }
    }
    return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "name",
                         "unknown M-Pesa API context (expected auto, stk, b2c, c2b or sync)");
}

/* Non-empty and only ASCII digits. */
static int all_digits(const char *s)
{
    if (*s == '\0') {
        return 0;
    }
    for (; *s; s++) {
        if (!mpesa_is_digit((unsigned char)*s)) {
            return 0;
        }
    }
    return 1;
}

/* Checks and trims a caller's code into `key` (NUL-terminated). */
static int normalize_code(const char *code, size_t code_len, char key[CONSTRA_MPESA_CODE_MAX + 1],
                          constra_error *err)
{
    if (code == NULL) {
        return constra__fail_null(err, "code");
    }
    size_t n = code_len;
    if (code_len == CONSTRA_MPESA_CODE_NTS) {
        n = constra__strnlen(code, CONSTRA_MPESA_CODE_MAX + 1);
    }
    if (n > CONSTRA_MPESA_CODE_MAX) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "code",
                             "code is longer than %d bytes or not terminated",
                             CONSTRA_MPESA_CODE_MAX);
    }
    if (code_len != CONSTRA_MPESA_CODE_NTS && memchr(code, '\0', n) != NULL) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "code",
                             "code contains a NUL byte within code_len");
    }
    const unsigned char *s = (const unsigned char *)code;
    size_t start = 0;
    size_t end = n;
    mpesa_trim(s, &start, &end);
    if (start == end) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid_empty", "code",
                             "code must not be empty or only whitespace");
    }
    for (size_t i = start; i < end; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e) {
            const char *kind = mpesa_is_space(s[i]) ? "a whitespace" : "a non-printable";
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "code",
                                 "code has %s byte 0x%02x at offset %zu", kind, s[i], i);
        }
    }
    memcpy(key, s + start, end - start);
    key[end - start] = '\0';
    return CONSTRA_OK;
}

/* The context a code is read in: dotted codes are always synchronous;
 * AUTO guesses from the shape (see constra_mpesa_api). */
static int resolve_api(const char *key, int api)
{
    if (strchr(key, '.') != NULL) {
        return CONSTRA_MPESA_API_SYNC;
    }
    if (api != CONSTRA_MPESA_API_AUTO) {
        return api;
    }
    if (strncmp(key, "C2B", 3) == 0) {
        return CONSTRA_MPESA_API_C2B;
    }
    if ((key[0] == 'R' && all_digits(key + 1)) || (all_digits(key) && strlen(key) >= 9)) {
        return CONSTRA_MPESA_API_B2C;
    }
    return CONSTRA_MPESA_API_STK;
}

/* Catalogue key for a code: the B2C gateway range shares one key, which
 * is not itself a code (as input it matches nothing). */
static const char *catalogue_key(const char *key, int api)
{
    if (strcmp(key, GATEWAY_RANGE_KEY) == 0) {
        return "";
    }
    if (api != CONSTRA_MPESA_API_B2C || strlen(key) != 9 || !all_digits(key)) {
        return key;
    }
    long v = 0;
    for (size_t i = 0; i < 9; i++) {
        v = v * 10 + (key[i] - '0');
    }
    return (v >= GATEWAY_RANGE_LO && v <= GATEWAY_RANGE_HI) ? GATEWAY_RANGE_KEY : key;
}

/* Whether lower-case `needle` occurs in hay[0..hay_len) ignoring ASCII case. */
static int contains_nocase(const char *hay, size_t hay_len, const char *needle)
{
    size_t m = strlen(needle);
    if (m == 0 || m > hay_len) {
        return 0;
    }
    for (size_t i = 0; i + m <= hay_len; i++) {
        size_t j = 0;
        while (j < m && constra__ascii_lower((unsigned char)hay[i + j]) ==
                            (unsigned char)needle[j]) {
            j++;
        }
        if (j == m) {
            return 1;
        }
    }
    return 0;
}

static const rc_entry *find_entry(const char *key, int api, const char *message)
{
    size_t msg_len = message ? constra__strnlen(message, CONSTRA_MPESA_MESSAGE_SCAN_MAX) : 0;
    const rc_entry *fallback = NULL;
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(catalogue); i++) {
        const rc_entry *e = &catalogue[i];
        if (e->api != api || strcmp(e->code, key) != 0) {
            continue;
        }
        if (e->match == NULL) {
            if (fallback == NULL) {
                fallback = e;
            }
        } else if (message != NULL && contains_nocase(message, msg_len, e->match)) {
            return e;
        }
    }
    return fallback;
}

/* A zeroed result, padding included, so that what is copied out is
 * deterministic. */
static void info_clear(constra_result_info *info)
{
    memset(info, 0, sizeof(*info));
    info->struct_size = sizeof(*info);
}

/* Writes `info` into the caller's `out`, honouring out->struct_size. */
static void store_info(constra_result_info *out, constra_result_info *info)
{
    size_t size = out->struct_size;
    info->struct_size = size;
    memcpy(out, info, size < sizeof(*info) ? size : sizeof(*info));
}

static void fill_from_entry(constra_result_info *info, const rc_entry *e)
{
    info->api = e->api;
    info->outcome = e->outcome;
    info->known = 1;
    info->retry_allowed = e->outcome == CONSTRA_OUTCOME_REQUIRES_RECOVERY ||
                          e->outcome == CONSTRA_OUTCOME_RETRY_LATER;
    info->description = e->description ? e->description : omitted_text;
    info->recovery_note = e->note ? e->note : omitted_text;
    info->recommended_action = action_names[e->action];
    info->message_match = e->match ? e->match : "";
}

static int check_out(constra_result_info *out, constra_error *err)
{
    return constra__check_struct(out, RESULT_INFO_V1_SIZE, sizeof(*out), "out", err);
}

int constra_mpesa_result_lookup(const char *code, size_t code_len, int api, const char *message,
                                constra_result_info *out, constra_error *err)
{
    int rc = check_out(out, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (api < CONSTRA_MPESA_API_AUTO || api > CONSTRA_MPESA_API_SYNC) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "api",
                             "api %d is not a constra_mpesa_api value", api);
    }
    constra_result_info info;
    info_clear(&info);
    rc = normalize_code(code, code_len, info.code, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    int ctx = resolve_api(info.code, api);
    const rc_entry *e = find_entry(catalogue_key(info.code, ctx), ctx, message);
    if (e != NULL) {
        fill_from_entry(&info, e);
    } else {
        info.api = ctx;
        info.outcome = CONSTRA_OUTCOME_REVIEW_REQUIRED;
        info.known = 0;
        info.retry_allowed = 0;
        info.description = unknown_description;
        info.recovery_note = unknown_note;
        info.recommended_action = action_names[ACT_OPERATOR_REVIEW];
        info.message_match = "";
    }
    store_info(out, &info);
    return CONSTRA_OK;
}

int constra_mpesa_result_lookup_int(int64_t code, int api, const char *message,
                                    constra_result_info *out, constra_error *err)
{
    char text[CONSTRA__INT_TEXT_MAX];
    constra__fmt_i64(text, code);
    return constra_mpesa_result_lookup(text, CONSTRA_MPESA_CODE_NTS, api, message, out, err);
}

size_t constra_mpesa_result_count(void)
{
    return CONSTRA__ARRAY_LEN(catalogue);
}

int constra_mpesa_result_at(size_t index, constra_result_info *out, constra_error *err)
{
    int rc = check_out(out, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (index >= CONSTRA__ARRAY_LEN(catalogue)) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "index",
                             "index %zu is past the catalogue's %zu entries", index,
                             CONSTRA__ARRAY_LEN(catalogue));
    }
    constra_result_info info;
    info_clear(&info);
    fill_from_entry(&info, &catalogue[index]);
    constra__strlcpy(info.code, catalogue[index].code, sizeof(info.code));
    store_info(out, &info);
    return CONSTRA_OK;
}
