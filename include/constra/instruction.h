/*
 * libconstra — the typed-instruction parser: turns a typed (or
 * speech-recognised) sentence such as
 *
 *     "charge 0712 345 678 KES 1,250 for order 7429 solar kit deposit"
 *
 * into the fields of a DRAFT payment intent, plus a plain-words list of
 * what could not be understood. It never moves money and never calls
 * anything: the engine turns an accepted result into a `draft` intent that
 * an operator must confirm (doc/DESIGN.md section 5, "Recovery and agents").
 *
 * Pure: no handle, no allocation, no global state. Thread-safe and
 * reentrant (touches only its arguments).
 *
 * What the parser understands (case-insensitive, any word order):
 *
 *   Verbs     charge, collect, request, bill, invoice, ask (... to pay),
 *             prompt, stk / stk push, "send a prompt / an STK push /
 *             a request to". A verb is optional: "0712345678 500" is read.
 *   Amounts   1250, 1,250, 1,250.00, 1.25k, 2K, 1250/=, 1250/-, with a
 *             currency before or after, separate or attached: "KES 1,250",
 *             "KSh 1250", "Ksh1,250/=", "Kshs. 500", "sh 500",
 *             "1250 shillings", "500 bob", "1250KES". A space is not a
 *             thousands separator ("KES 1 250" is refused, never read as
 *             1). Numbers in words ("five hundred") are not read: the note
 *             says so. When one number is marked as money (currency or
 *             "/=") other plain numbers stay in the description ("KES 500
 *             for 2 bags"); when none is marked, a single plain number is
 *             the amount.
 *   Currency  KES only: M-Pesa collects Kenyan shillings. An amount in any
 *             other currency (USD, "$20", "20 euros", an upper-case ISO
 *             code such as "UGX 5000", "Ugandan shillings") is refused.
 *             `currency` is "KES" whenever an amount was found, stated or
 *             not; the CONSTRA_INSTRUCTION_HAS_CURRENCY flag says it was
 *             stated.
 *   Phone     every form of the Daraja reference section 8: 07XXXXXXXX,
 *             01XXXXXXXX, 7XXXXXXXX, 254..., +254..., 00254..., 000254...,
 *             with spaces, dashes, dots or brackets, spread over several
 *             words ("0712 345 678", "+254 712-345-678", "(0712) 345678").
 *             Validity is constra_msisdn_normalize()'s (mpesa_fields.h):
 *             Kenyan mobile ranges only; normalised to "2547XXXXXXXX" /
 *             "2541XXXXXXXX".
 *   Reference after a label: order, invoice, inv, ref, reference,
 *             account, acc, acct, a/c, receipt, booking; with optional
 *             "no.", "number", "#", ":" ("order #7429", "order no. 7429",
 *             "ref: ABC-12", "order#7429", "for account 12345"), or a
 *             lone "#7429". A digits-only value after a descriptive label
 *             keeps the label, "order 7429", "invoice 22", when that fits
 *             in 12 characters (else the value alone); a value with
 *             letters is kept alone ("INV-22", "ABC-12"); ref/account
 *             labels give the value alone ("12345"). The result uses only
 *             [A-Za-z0-9 -] ('/', '_' and '.' become '-'), which Daraja's
 *             AccountReference accepts; longer than 12 characters is not
 *             understood.
 *   Name      up to 3 words right after the verb, after "from", "to" or
 *             "customer": "charge Amina Njeri 0712...", "collect 500 from
 *             Amina", "ask Amina to pay 500". Kept as typed (UTF-8 Latin
 *             letters allowed).
 *   Description the words left over, with filler words ("for", "the",
 *             "please", ...) trimmed from the edges of each stretch,
 *             reduced to [A-Za-z0-9 -] (accented Latin letters lose their
 *             accent), first letter upper-cased: "Solar kit deposit".
 *             `transaction_desc` is the same cut at a word boundary to
 *             13 characters (Daraja's TransactionDesc limit).
 *
 * Refused (refused = 1, `refusal` says why; fields still show what was
 * read, for display only; the engine must not make a draft):
 *   - anything that is not a collection: refund, reverse/reversal,
 *     chargeback, reimburse, payout / pay out, "pay 0712... 500" (pay not
 *     after a collection verb, "to", "should", ...), send (unless a
 *     prompt, STK push, request or bill is sent), transfer, withdraw,
 *     disburse, remit, give, b2c, cash out; cancel/void; negations (do
 *     not, don't, never). These words refuse wherever they appear: the
 *     parser errs on the side of refusing;
 *   - two different phone numbers, or two different amounts (the same one
 *     repeated is fine), or digits where the amount and the phone number
 *     run together ("100 110 123 456"), or an amount split by a space;
 *   - a currency other than KES; a negative amount; an amount with
 *     non-zero cents; below 1 or above CONSTRA_INSTRUCTION_AMOUNT_MAX
 *     (250000, the M-Pesa per-transaction maximum; the engine applies its
 *     own configured amount_max on top);
 *   - nothing to collect: neither an amount nor a phone number was
 *     understood (empty text, only spaces, junk);
 *   - more than CONSTRA_INSTRUCTION_MAX_WORDS words.
 *
 * Not understood (listed in `not_understood`, "; "-separated, not a
 * refusal by itself): a missing amount or phone number, a phone number
 * that is incomplete or not a Kenyan mobile number, a malformed number, a
 * currency without an amount, a second reference, a reference too long,
 * words that could not be read (binary, emoji). What the user typed is
 * echoed there only shortened and reduced to printable ASCII.
 */
#ifndef CONSTRA_INSTRUCTION_H
#define CONSTRA_INSTRUCTION_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"

CONSTRA_BEGIN_DECLS

/** Bits of constra_instruction.found. */
#define CONSTRA_INSTRUCTION_HAS_AMOUNT 0x01u
#define CONSTRA_INSTRUCTION_HAS_PHONE 0x02u
/** The currency was stated (else "KES" is implied). */
#define CONSTRA_INSTRUCTION_HAS_CURRENCY 0x04u
#define CONSTRA_INSTRUCTION_HAS_REFERENCE 0x08u
#define CONSTRA_INSTRUCTION_HAS_DESCRIPTION 0x10u
#define CONSTRA_INSTRUCTION_HAS_NAME 0x20u

/** Longest instruction text, in bytes without the NUL. */
#define CONSTRA_INSTRUCTION_MAX_TEXT 4096
/** Most words (whitespace-separated) an instruction may have. */
#define CONSTRA_INSTRUCTION_MAX_WORDS 256
/** Largest amount (KES) the parser accepts: the M-Pesa per-transaction
 *  maximum. */
#define CONSTRA_INSTRUCTION_AMOUNT_MAX 250000

/**
 * The result of parsing one instruction. Caller-owned, fixed size, no
 * pointers. Initialise with CONSTRA_INSTRUCTION_INIT or
 * constra_instruction_init(); fields are appended over time, never
 * reordered. Every text field is NUL-terminated ("" when absent).
 */
typedef struct constra_instruction {
    /** sizeof(constra_instruction) as the caller compiled it. */
    size_t struct_size;
    /** Amount in settlement units (whole KES), 1 to 250000; 0 when none
     *  was found or the one found was refused. */
    int64_t amount;
    /** "KES" when an amount or KES was found; another ISO code when the
     *  instruction was refused for that currency; "" otherwise. */
    char currency[4];
    /** Normalised MSISDN "2547XXXXXXXX" / "2541XXXXXXXX", or "". */
    char phone_number[16];
    /** Customer name as typed (UTF-8), or "". */
    char customer_name[64];
    /** Account reference, at most 12 characters of [A-Za-z0-9 -], e.g.
     *  "order 7429", "INV-22", or "". */
    char reference[13];
    /** Free words left, [A-Za-z0-9 -], e.g. "Solar kit deposit", or "". */
    char description[64];
    /** CONSTRA_INSTRUCTION_HAS_* bits of what was understood. */
    unsigned found;
    /** What could not be understood, in plain words, "; "-separated, e.g.
     *  "amount missing; phone number '0712 345' is incomplete"; "" when
     *  everything was understood. */
    char not_understood[256];
    /** 1 when the instruction must not become a draft at all. */
    int refused;
    /** Why it was refused, e.g. "refunds and reversals are not supported:
     *  only collections", or "". */
    char refusal[128];
    /** `description` cut at a word boundary to at most 13 characters, for
     *  Daraja's TransactionDesc, e.g. "Solar kit", or "". */
    char transaction_desc[14];
    /* New fields are appended here. */
} constra_instruction;

/** Static initialiser: `constra_instruction in = CONSTRA_INSTRUCTION_INIT;` */
#define CONSTRA_INSTRUCTION_INIT \
    { sizeof(constra_instruction), 0, "", "", "", "", "", 0u, "", 0, "", "" }

/**
 * Run-time initialiser for languages without C macros: zeroes `out` and
 * sets its struct_size to `struct_size` (pass sizeof(constra_instruction)
 * as the caller sees it).
 * Returns CONSTRA_OK, CONSTRA_E_INVALID_ARGUMENT if `out` is NULL, or
 * CONSTRA_E_ABI if `struct_size` is not a size this library accepts.
 * Thread-safe (touches only `out`).
 */
CONSTRA_API int constra_instruction_init(constra_instruction *out, size_t struct_size);

/**
 * Parses the instruction `text` (UTF-8; any bytes are tolerated) into
 * `*out`, which must have been initialised (struct_size set).
 *
 * At most `max_len` bytes of `text` are read and its NUL must be among
 * them: pass the size of the buffer holding it (or strlen + 1). The text
 * ends at its first NUL and may be at most CONSTRA_INSTRUCTION_MAX_TEXT
 * bytes long.
 *
 * Returns CONSTRA_OK when the text was read, even if fields are missing
 * (they are listed in out->not_understood) or the instruction is refused
 * (out->refused = 1, out->refusal says why): the caller must check
 * `refused` before making a draft. All of *out past struct_size is
 * overwritten on success.
 *
 * Errors (*out untouched; `err` may be NULL):
 *   CONSTRA_E_INVALID_ARGUMENT: `text` or `out` NULL, `text` not
 *     terminated within max_len bytes, or longer than
 *     CONSTRA_INSTRUCTION_MAX_TEXT (param "text" / "out");
 *   CONSTRA_E_ABI: out->struct_size is 0 (not initialised) or not a size
 *     this library accepts (param "out").
 *
 * Thread-safe; no allocation.
 */
CONSTRA_API int constra_instruction_parse(const char *text, size_t max_len,
                                          constra_instruction *out, constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_INSTRUCTION_H */
