/*
 * The typed-instruction parser (include/constra/instruction.h): a typed or
 * spoken sentence -> the fields of a DRAFT payment intent. Pure: no
 * handle, no allocation, all state on the stack (about 3.5 KiB).
 *
 * The text is cut into words (tokens); passes then claim tokens in a fixed
 * order, each claimed token being out of reach of the later passes:
 *
 *   1. refusal words (refund, payout, send money, negation ...): scanned
 *      on every token, claim nothing;
 *   2. references ("order 7429", "ref ABC-12", "#7429");
 *   3. the verb (the first collection verb);
 *   4. amounts marked as money: a currency word before ("KES 500"), then
 *      after ("500 bob"), or attached ("Ksh1,250/=");
 *   5. phone numbers, possibly spread over several tokens;
 *   6. plain numbers, as the amount when no marked amount was found;
 *   7. the customer name (after the verb, "from", "to", "customer");
 *   8. the description: what is left, filler words trimmed.
 */
#include "constra/instruction.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "constra/money.h"
#include "constra/mpesa_fields.h"
#include "util/check.h"
#include "util/ascii.h"

#define INSTRUCTION_V1_SIZE sizeof(constra_instruction)
#define MAX_TOKENS ((size_t)CONSTRA_INSTRUCTION_MAX_WORDS)
#define NO_TOKEN ((size_t)-1)
#define ECHO_MAX 24 /* characters of user text echoed in a note */

/* What a token was claimed as. */
enum {
    USE_FREE = 0,
    USE_VERB,
    USE_PHONE,
    USE_AMOUNT,
    USE_CURRENCY,
    USE_REF,
    USE_NAME,
    USE_BAD
};

typedef struct tok {
    uint16_t s, e;   /* raw bytes [s, e) of the text */
    uint16_t cs, ce; /* core: surrounding quotes/brackets/punctuation off */
    uint8_t use;
} tok;

/* An amount read from one token. */
typedef struct amt {
    int kind;      /* 0 not a number, 1 an amount, 2 a malformed number */
    int neg;       /* a minus sign */
    int cents;     /* a non-zero fraction of the unit */
    int big;       /* does not fit / far too many digits */
    int64_t value; /* whole units (fraction dropped) */
    char cur[4];   /* attached currency code, or "" */
    int marked;    /* attached currency, "/=" or "/-" */
} amt;

typedef struct parser {
    const char *text;
    size_t len;
    tok t[MAX_TOKENS];
    size_t n;
    size_t verb;          /* token index of the verb, or NO_TOKEN */
    size_t send_verb;     /* "send" that sends a prompt, or NO_TOKEN */
    int currency_stated;  /* a KES word was seen */
    int bad_phone;        /* a phone-looking number was not valid */
    int amount_refused;   /* the amount found was refused */
    size_t split_amount;  /* "KES 1 250": first token of a spaced amount */
    char notes[CONSTRA_ERROR_MESSAGE_SIZE];
    size_t notes_len;
    constra_instruction r;
} parser;

/* ---- characters ------------------------------------------------------- */

/* Decodes one UTF-8 sequence of s[0..n): its length, or 0 when invalid
 * (overlong, surrogate, beyond U+10FFFF, truncated). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1Fu, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0Fu, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0u) != 0x80u) {
            return 0;
        }
        v = (v << 6) | (s[k] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        return 0;
    }
    *cp = v;
    return len;
}

/* ASCII letter for a Latin-1 letter U+00C0..U+00FF (accent dropped), or 0. */
static char latin1_ascii(uint32_t cp)
{
    static const char map[] = "AAAAAAACEEEEIIIIDNOOOOO\0OUUUUYTsaaaaaaaceeeeiiiidnooooo\0ouuuuyty";
    if (cp < 0xC0 || cp > 0xFF) {
        return 0;
    }
    return map[cp - 0xC0];
}

/* Case-insensitive equality of s[0..n) with the lower-case word w. */
static int ieq(const char *s, size_t n, const char *w)
{
    size_t k = 0;
    for (; k < n; k++) {
        if (w[k] == '\0' || constra__ascii_lower((unsigned char)s[k]) != (unsigned char)w[k]) {
            return 0;
        }
    }
    return w[k] == '\0';
}

static int in_list(const char *s, size_t n, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (ieq(s, n, list[i])) {
            return 1;
        }
    }
    return 0;
}

/* ---- word lists ------------------------------------------------------- */

static const char *const VERBS[] = {
    "charge", "collect", "request", "bill", "invoice", "ask", "prompt", "stk", "remind", NULL,
};

/* Words trimmed from the edges of the description and never a name. */
static const char *const FILLERS[] = {
    "for", "the", "a", "an", "of", "to", "from", "on", "at", "via", "with", "by", "and", "in",
    "please", "pls", "plz", "kindly", "thanks", "thank", "thx", "now", "asap", "hi", "hello",
    "hey", "can", "could", "would", "will", "you", "u", "me", "i", "we", "want", "need", "like",
    "pay", "payment", "money", "cash", "stk", "push", "prompt", "mpesa", "m-pesa", "lipa", "na",
    "express", "mobile", "phone", "number", "no", "tel", "customer", "client", "amount", "is",
    "it", "this", "that", "his", "her", "their", "my", "our", "using", "send", "ask", "sum",
    "be", "should", "must", "kenyan", "request", "as", "or", "ya", "paybill", "till", "sms", "notification",
    "reminder", "link", "them", "him", "us", "there", "total", "of", NULL,
};

/* Words that make the instruction something other than a collection. */
static const char *const REFUND_WORDS[] = {
    "refund", "refunds", "refunded", "refunding", "reimburse", "reimbursement", "reverse",
    "reversal", "reversed", "chargeback", NULL,
};
static const char *const PAYOUT_WORDS[] = {
    "payout", "payouts", "pay-out", "disburse", "disbursement", "withdraw", "withdrawal",
    "transfer", "transfers", "remit", "remittance", "give", "b2c", "cashout", "cash-out", NULL,
};
static const char *const NEGATIONS[] = {
    "don't", "dont", "don\xE2\x80\x99t", "never", "doesn't", "doesnt", NULL,
};
/* After "send", one of these within a few words: a prompt, not money. */
static const char *const SEND_OBJECTS[] = {
    "prompt", "stk", "push", "request", "bill", "invoice", "reminder", "notification", "link",
    NULL,
};
/* Words right before "pay" that make it the customer who pays. */
static const char *const PAY_OK_BEFORE[] = {
    "to", "should", "must", "will", "shall", "can", NULL,
};
/* Numbers in words are not read; seeing one explains a missing amount. */
static const char *const NUMBER_WORDS[] = {
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "fifteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty",
    "ninety", "hundred", "thousand", "million", "mia", "elfu", NULL,
};
static const char *const REF_SKIP[] = {
    "#", "no", "number", "num", "nr", "nbr", ":", "-", "id", NULL,
};

typedef struct ref_label {
    const char *word;
    const char *canon; /* kept before a digits-only value, or NULL */
    int need_digit;    /* the value must contain a digit */
} ref_label;

static const ref_label REF_LABELS[] = {
    {"order", "order", 1},     {"invoice", "invoice", 1}, {"inv", "invoice", 1},
    {"receipt", "receipt", 1}, {"booking", "booking", 1}, {"ref", NULL, 0},
    {"reference", NULL, 0},    {"account", NULL, 1},      {"acc", NULL, 1},
    {"acct", NULL, 1},         {"a/c", NULL, 1},
};

#define CUR_PRE 1u   /* may come before the number */
#define CUR_POST 2u  /* may come after the number */
#define CUR_ALONE 4u /* states a currency even with no number next to it */

typedef struct cur_word {
    const char *word;
    char code[4];
    unsigned flags;
} cur_word;

static const cur_word CURRENCY_WORDS[] = {
    {"kes", "KES", CUR_PRE | CUR_POST | CUR_ALONE},
    {"ksh", "KES", CUR_PRE | CUR_POST | CUR_ALONE},
    {"kshs", "KES", CUR_PRE | CUR_POST | CUR_ALONE},
    {"sh", "KES", CUR_PRE | CUR_POST},
    {"shs", "KES", CUR_PRE | CUR_POST},
    {"shilling", "KES", CUR_PRE | CUR_POST},
    {"shillings", "KES", CUR_PRE | CUR_POST},
    {"bob", "KES", CUR_POST},
    {"usd", "USD", CUR_PRE | CUR_POST | CUR_ALONE},
    {"us$", "USD", CUR_PRE | CUR_POST | CUR_ALONE},
    {"$", "USD", CUR_PRE | CUR_POST | CUR_ALONE},
    {"dollar", "USD", CUR_POST},
    {"dollars", "USD", CUR_POST},
    {"eur", "EUR", CUR_PRE | CUR_POST | CUR_ALONE},
    {"\xE2\x82\xAC", "EUR", CUR_PRE | CUR_POST | CUR_ALONE},
    {"euro", "EUR", CUR_POST},
    {"euros", "EUR", CUR_POST},
    {"gbp", "GBP", CUR_PRE | CUR_POST | CUR_ALONE},
    {"\xC2\xA3", "GBP", CUR_PRE | CUR_POST | CUR_ALONE},
    {"pound", "GBP", CUR_POST},
    {"pounds", "GBP", CUR_POST},
    {"ugx", "UGX", CUR_PRE | CUR_POST | CUR_ALONE},
    {"tzs", "TZS", CUR_PRE | CUR_POST | CUR_ALONE},
    {"rwf", "RWF", CUR_PRE | CUR_POST | CUR_ALONE},
};

/* Is s[0..n) a currency word? Also any ISO code of the money table
 * written in upper case ("NGN"); lower-case three-letter words ("all",
 * "mad") are not codes. */
static int currency_of(const char *s, size_t n, unsigned *flags, char code[4])
{
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(CURRENCY_WORDS); i++) {
        if (ieq(s, n, CURRENCY_WORDS[i].word)) {
            *flags = CURRENCY_WORDS[i].flags;
            memcpy(code, CURRENCY_WORDS[i].code, 4);
            return 1;
        }
    }
    if (n == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' &&
        s[2] <= 'Z') {
        char c[4] = {s[0], s[1], s[2], '\0'};
        int exponent;
        if (constra_currency_lookup(c, &exponent, NULL, NULL) == CONSTRA_OK) {
            *flags = CUR_PRE | CUR_POST | CUR_ALONE;
            memcpy(code, c, 4);
            return 1;
        }
    }
    return 0;
}

/* ---- tokens ----------------------------------------------------------- */

static const char *core(const parser *p, size_t i)
{
    return p->text + p->t[i].cs;
}

static size_t core_len(const parser *p, size_t i)
{
    return (size_t)(p->t[i].ce - p->t[i].cs);
}

static int word_is(const parser *p, size_t i, const char *w)
{
    return i < p->n && ieq(core(p, i), core_len(p, i), w);
}

static int word_in(const parser *p, size_t i, const char *const *list)
{
    return i < p->n && in_list(core(p, i), core_len(p, i), list);
}

static int is_free(const parser *p, size_t i)
{
    return i < p->n && p->t[i].use == USE_FREE;
}

static int is_separator(const char *s, size_t len, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c == 0x7F || c == ';' || c == '!' || c == '?') {
        return 1;
    }
    if (c == ',') { /* a separator, except inside "1,250" */
        return !(i > 0 && constra__ascii_is_digit((unsigned char)s[i - 1]) && i + 1 < len &&
                 constra__ascii_is_digit((unsigned char)s[i + 1]));
    }
    return 0;
}

/* A curly quote (U+2018, U+2019, U+201C, U+201D) at s[0..n)? */
static int curly_quote(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    return n >= 3 && u[0] == 0xE2 && u[1] == 0x80 &&
           (u[2] == 0x98 || u[2] == 0x99 || u[2] == 0x9C || u[2] == 0x9D);
}

static void make_core(const char *text, tok *t)
{
    size_t s = t->s, e = t->e;
    for (;;) {
        if (s < e && strchr("\"'`([{<*", text[s]) != NULL) {
            s++;
        } else if (curly_quote(text + s, e - s)) {
            s += 3;
        } else {
            break;
        }
    }
    for (;;) {
        if (e > s && strchr("\"'`)]}>*.,:", text[e - 1]) != NULL) {
            e--;
        } else if (e >= s + 3 && curly_quote(text + e - 3, 3)) {
            e -= 3;
        } else {
            break;
        }
    }
    t->cs = (uint16_t)s;
    t->ce = (uint16_t)e;
}

/* Cuts the text into tokens; 0 when there are too many. */
static int tokenize(parser *p)
{
    size_t i = 0;
    while (i < p->len) {
        while (i < p->len && is_separator(p->text, p->len, i)) {
            i++;
        }
        if (i >= p->len) {
            break;
        }
        size_t s = i;
        while (i < p->len && !is_separator(p->text, p->len, i)) {
            i++;
        }
        if (p->n == MAX_TOKENS) {
            return 0;
        }
        tok *t = &p->t[p->n++];
        t->s = (uint16_t)s;
        t->e = (uint16_t)i;
        t->use = USE_FREE;
        make_core(p->text, t);
    }
    return 1;
}

/* ---- notes and refusals ----------------------------------------------- */

static void note(parser *p, const char *fmt, ...) CONSTRA__PRINTF(2, 3);
static void note(parser *p, const char *fmt, ...)
{
    char buf[CONSTRA_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (w < 0) {
        return;
    }
    size_t cap = sizeof(p->notes);
    if (p->notes_len > 0 && p->notes_len + 2 < cap) {
        memcpy(p->notes + p->notes_len, "; ", 2);
        p->notes_len += 2;
    }
    size_t n = strlen(buf);
    if (p->notes_len + n >= cap) {
        n = cap - 1 - p->notes_len;
    }
    memcpy(p->notes + p->notes_len, buf, n);
    p->notes_len += n;
    p->notes[p->notes_len] = '\0';
}

static void refuse(parser *p, const char *fmt, ...) CONSTRA__PRINTF(2, 3);
static void refuse(parser *p, const char *fmt, ...)
{
    if (p->r.refused) {
        return; /* the first reason is the one reported */
    }
    p->r.refused = 1;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(p->r.refusal, sizeof(p->r.refusal), fmt, ap);
    va_end(ap);
}

/* The user's text of tokens [a, b) as printable ASCII, shortened. */
static void echo(const parser *p, size_t a, size_t b, char *buf, size_t size)
{
    size_t k = 0;
    size_t s = p->t[a].s, e = p->t[b - 1].e;
    for (size_t i = s; i < e && k + 4 < size; i++) {
        unsigned char c = (unsigned char)p->text[i];
        if (k == ECHO_MAX) {
            memcpy(buf + k, "...", 3);
            k += 3;
            break;
        }
        if (c >= 0x80 && c < 0xC0) {
            continue; /* UTF-8 continuation: one '?' per character */
        }
        buf[k++] = (c >= 0x20 && c < 0x7F) ? (char)c : (c < 0x80 ? ' ' : '?');
    }
    buf[k] = '\0';
}

/* ---- refusal words ---------------------------------------------------- */

static int is_collect_verb(const parser *p, size_t i)
{
    return word_in(p, i, VERBS) || (i == p->send_verb && i != NO_TOKEN);
}

static void scan_refusals(parser *p)
{
    for (size_t i = 0; i < p->n; i++) {
        if (word_is(p, i, "send")) {
            int prompt = 0;
            for (size_t k = i + 1; k < p->n && k <= i + 4; k++) {
                if (word_in(p, k, SEND_OBJECTS)) {
                    prompt = 1;
                    break;
                }
            }
            if (!prompt) {
                refuse(p, "sending money is not supported: only collections");
            } else if (p->send_verb == NO_TOKEN) {
                p->send_verb = i;
            }
        }
    }
    for (size_t i = 0; i < p->n; i++) {
        if (word_in(p, i, REFUND_WORDS)) {
            refuse(p, "refunds and reversals are not supported: only collections");
        } else if (word_in(p, i, PAYOUT_WORDS) ||
                   (word_is(p, i, "cash") && word_is(p, i + 1, "out"))) {
            refuse(p, "payouts and transfers are not supported: only collections");
        } else if (word_is(p, i, "pay")) {
            if (word_is(p, i + 1, "out")) {
                refuse(p, "payouts and transfers are not supported: only collections");
                continue;
            }
            int ok = (i > 0 && word_in(p, i - 1, PAY_OK_BEFORE)) || word_is(p, i + 1, "bill");
            for (size_t k = 0; k < i && !ok; k++) {
                ok = is_collect_verb(p, k);
            }
            if (!ok) {
                refuse(p, "paying out is not supported: only collections (say 'charge' or "
                          "'ask ... to pay')");
            }
        } else if (word_in(p, i, NEGATIONS) ||
                   (word_is(p, i, "not") && i > 0 &&
                    (word_is(p, i - 1, "do") || word_is(p, i - 1, "does")))) {
            refuse(p, "the instruction is negated ('do not', 'never'): nothing to draft");
        } else if (word_is(p, i, "cancel") || word_is(p, i, "void")) {
            refuse(p, "cancelling is an operator action on an existing payment, not an "
                      "instruction");
        }
    }
}

/* ---- references ------------------------------------------------------- */

static int is_keyword(const parser *p, size_t i);

/* Makes the reference from a value s[0..n) after `label`. 1 when taken
 * (set or noted), 0 when the value is not a reference value at all. */
static int take_reference(parser *p, const ref_label *label, const char *s, size_t n, size_t a,
                          size_t b)
{
    while (n > 0 && (s[0] == '#' || s[0] == ':')) {
        s++, n--;
    }
    if (n == 0 || n > 40) {
        return 0;
    }
    char v[48];
    int digit = 0, letter = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (constra__ascii_is_digit(c)) {
            digit = 1;
        } else if (constra__ascii_is_alpha(c)) {
            letter = 1;
        } else if (c != '-' && c != '/' && c != '_' && c != '.') {
            return 0;
        }
        v[k] = (c == '/' || c == '_' || c == '.') ? '-' : (char)c;
    }
    v[n] = '\0';
    if ((label != NULL && label->need_digit && !digit) || (!digit && !letter) || v[0] == '-' ||
        v[n - 1] == '-') {
        return 0;
    }
    char ref[48];
    if (label != NULL && label->canon != NULL && !letter &&
        strlen(label->canon) + 1 + n <= sizeof(p->r.reference) - 1) {
        size_t cn = strlen(label->canon);
        memcpy(ref, label->canon, cn);
        ref[cn] = ' ';
        memcpy(ref + cn + 1, v, n + 1);
    } else {
        memcpy(ref, v, n + 1);
    }
    for (size_t k = a; k < b; k++) {
        p->t[k].use = USE_REF;
    }
    char shown[ECHO_MAX + 8];
    echo(p, a, b, shown, sizeof(shown));
    if (strlen(ref) > sizeof(p->r.reference) - 1) {
        note(p, "reference '%s' is longer than 12 characters", shown);
    } else if (p->r.found & CONSTRA_INSTRUCTION_HAS_REFERENCE) {
        if (strcmp(p->r.reference, ref) != 0) {
            note(p, "second reference '%s' ignored", shown);
        }
    } else {
        constra__strlcpy(p->r.reference, ref, sizeof(p->r.reference));
        p->r.found |= CONSTRA_INSTRUCTION_HAS_REFERENCE;
    }
    return 1;
}

static void find_references(parser *p)
{
    for (size_t i = 0; i < p->n; i++) {
        if (!is_free(p, i)) {
            continue;
        }
        const char *c = core(p, i);
        size_t cn = core_len(p, i);
        if (cn >= 2 && c[0] == '#') { /* a lone "#7429": the value alone */
            static const ref_label hash = {"#", NULL, 1};
            (void)take_reference(p, &hash, c, cn, i, i + 1);
            continue;
        }
        for (size_t l = 0; l < CONSTRA__ARRAY_LEN(REF_LABELS); l++) {
            const ref_label *lab = &REF_LABELS[l];
            size_t wn = strlen(lab->word);
            if (ieq(c, cn, lab->word)) {
                size_t j = i + 1, skipped = 0;
                while (j < p->n && skipped < 2 && is_free(p, j) && word_in(p, j, REF_SKIP)) {
                    j++, skipped++;
                }
                int taken = 0;
                if (is_free(p, j) && !(lab->canon == NULL && !lab->need_digit &&
                                       is_keyword(p, j))) {
                    taken = take_reference(p, lab, core(p, j), core_len(p, j), i, j + 1);
                }
                if (!taken && !lab->need_digit) {
                    char shown[ECHO_MAX + 8];
                    echo(p, i, i + 1, shown, sizeof(shown));
                    note(p, "no reference after '%s'", shown);
                    p->t[i].use = USE_BAD;
                }
                break;
            }
            /* attached: "order#7429", "ref:ABC-12" */
            if (cn > wn + 1 && ieq(c, wn, lab->word) && (c[wn] == '#' || c[wn] == ':')) {
                (void)take_reference(p, lab, c + wn + 1, cn - wn - 1, i, i + 1);
                break;
            }
        }
    }
}

/* ---- amounts ---------------------------------------------------------- */

static int64_t pow10_i64(size_t k)
{
    int64_t v = 1;
    while (k-- > 0) {
        v *= 10;
    }
    return v;
}

/* Reads one token as an amount: [-][currency][-]digits[,ddd...][.dd][k]
 * [/= | /- | = | currency]. */
static void parse_amount(const char *s, size_t n, amt *a)
{
    memset(a, 0, sizeof(*a));
    int numberish = n > 0;
    int any_digit = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        any_digit |= constra__ascii_is_digit(c);
        if (!constra__ascii_is_digit(c) && c != ',' && c != '.' && c != '-') {
            numberish = 0;
        }
    }
    numberish = numberish && any_digit;
    size_t i = 0;
    if (i < n && s[i] == '-') {
        a->neg = 1, i++;
    }
    size_t ps = i;
    while (i < n && !constra__ascii_is_digit((unsigned char)s[i]) && s[i] != '-') {
        i++;
    }
    if (i > ps) {
        size_t pe = i;
        if (s[pe - 1] == '.') { /* "Ksh.500" */
            pe--;
        }
        unsigned flags = 0;
        char code[4];
        if (pe == ps || !currency_of(s + ps, pe - ps, &flags, code) || !(flags & CUR_PRE)) {
            return; /* a word, not an amount */
        }
        memcpy(a->cur, code, sizeof(code));
        a->marked = 1;
        if (i < n && s[i] == '-') { /* "KES-500" */
            a->neg = 1, i++;
        }
    }
    if (i >= n || !constra__ascii_is_digit((unsigned char)s[i])) {
        goto bad;
    }
    int64_t ip = 0;
    size_t nd = 0, group = 0;
    int grouped = 0;
    for (;;) {
        if (i < n && constra__ascii_is_digit((unsigned char)s[i])) {
            if (nd < 13) {
                ip = ip * 10 + (s[i] - '0');
            } else {
                a->big = 1;
            }
            nd++, group++, i++;
        } else if (i + 1 < n && s[i] == ',' && constra__ascii_is_digit((unsigned char)s[i + 1])) {
            if (grouped ? group != 3 : (group < 1 || group > 3)) {
                goto bad;
            }
            grouped = 1, group = 0, i++;
        } else {
            break;
        }
    }
    if (grouped && group != 3) {
        goto bad;
    }
    int64_t frac = 0;
    size_t fd = 0;
    if (i + 1 < n && s[i] == '.' && constra__ascii_is_digit((unsigned char)s[i + 1])) {
        i++;
        while (i < n && constra__ascii_is_digit((unsigned char)s[i])) {
            if (fd == 6) {
                goto bad;
            }
            frac = frac * 10 + (s[i] - '0');
            fd++, i++;
        }
    }
    int thousands = 0;
    if (i < n && (s[i] == 'k' || s[i] == 'K') &&
        (i + 1 == n || s[i + 1] == '/' || s[i + 1] == '=')) {
        thousands = 1, i++;
    }
    if (i < n) {
        const char *rest = s + i;
        size_t rn = n - i;
        unsigned flags = 0;
        char code[4];
        if (ieq(rest, rn, "/=") || ieq(rest, rn, "/-") || ieq(rest, rn, "=")) {
            a->marked = 1;
        } else if (currency_of(rest, rn, &flags, code) && (flags & CUR_POST)) {
            if (a->cur[0] == '\0') {
                memcpy(a->cur, code, sizeof(code));
            }
            a->marked = 1;
        } else {
            goto bad;
        }
    }
    if (nd > 12) {
        a->big = 1;
    }
    if (!a->big) {
        int64_t scale = pow10_i64(fd);
        int64_t mant = ip * scale + frac; /* < 10^18 */
        int64_t mult = thousands ? 1000 : 1;
        if (mant > INT64_MAX / mult) {
            a->big = 1;
        } else {
            int64_t total = mant * mult;
            a->cents = (total % scale) != 0;
            a->value = total / scale;
        }
    }
    a->kind = 1;
    return;
bad:
    a->kind = numberish ? 2 : 0;
}

/* One chosen amount, and whether a different one was also seen. */
typedef struct amounts {
    int have;
    amt first;
    size_t first_tok;
    size_t second_tok; /* a different amount, or NO_TOKEN */
} amounts;

static int same_amount(const amt *x, const amt *y)
{
    const char *cx = x->cur[0] ? x->cur : "KES";
    const char *cy = y->cur[0] ? y->cur : "KES";
    return x->value == y->value && x->neg == y->neg && x->cents == y->cents &&
           x->big == y->big && strcmp(cx, cy) == 0;
}

static void add_amount(parser *p, amounts *am, const amt *a, size_t i)
{
    p->t[i].use = USE_AMOUNT;
    if (!am->have) {
        am->have = 1;
        am->first = *a;
        am->first_tok = i;
    } else if (!same_amount(&am->first, a) && am->second_tok == NO_TOKEN) {
        am->second_tok = i;
    }
}

/* A free currency word at token i with `need` among its flags. */
static int currency_token(const parser *p, size_t i, unsigned need, char code[4])
{
    unsigned flags = 0;
    if (!is_free(p, i) || !currency_of(core(p, i), core_len(p, i), &flags, code)) {
        return 0;
    }
    return (flags & need) != 0;
}

/* Claims the currency word at i (and a "Ugandan"/"Kenyan" before it). */
static void claim_currency(parser *p, size_t i, char code[4])
{
    p->t[i].use = USE_CURRENCY;
    if (i > 0 && is_free(p, i - 1) &&
        (word_is(p, i, "shilling") || word_is(p, i, "shillings"))) {
        if (word_is(p, i - 1, "ugandan")) {
            memcpy(code, "UGX", 4);
            p->t[i - 1].use = USE_CURRENCY;
        } else if (word_is(p, i - 1, "tanzanian")) {
            memcpy(code, "TZS", 4);
            p->t[i - 1].use = USE_CURRENCY;
        } else if (word_is(p, i - 1, "kenyan")) {
            p->t[i - 1].use = USE_CURRENCY;
        }
    }
}

static int phone_looking(const parser *p, size_t i);

/* Is the core of token i min to max ASCII digits and nothing else? */
static int digits_only(const parser *p, size_t i, size_t min, size_t max)
{
    if (i >= p->n) {
        return 0;
    }
    size_t n = core_len(p, i);
    if (n < min || n > max) {
        return 0;
    }
    for (size_t k = 0; k < n; k++) {
        if (!constra__ascii_is_digit((unsigned char)core(p, i)[k])) {
            return 0;
        }
    }
    return 1;
}

/* "Ugandan shillings" after token i: the code, both words claimed. */
static int modified_shillings(parser *p, size_t i, char code[4])
{
    if (!is_free(p, i + 1) || !is_free(p, i + 2) ||
        !(word_is(p, i + 1, "ugandan") || word_is(p, i + 1, "tanzanian") ||
          word_is(p, i + 1, "kenyan")) ||
        !(word_is(p, i + 2, "shilling") || word_is(p, i + 2, "shillings"))) {
        return 0;
    }
    memcpy(code, "KES", 4);
    claim_currency(p, i + 2, code);
    return 1;
}

/* Amounts marked as money: attached currency or "/=", currency word
 * before (first, so "0712 KES 500" gives KES to 500), then after. A token
 * that looks like the start of a phone number is left to the phone pass
 * unless a currency is attached to it or stands right before it. */
static void find_marked_amounts(parser *p, amounts *am)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < p->n; i++) {
            if (!is_free(p, i)) {
                continue;
            }
            amt a;
            parse_amount(core(p, i), core_len(p, i), &a);
            if (a.kind != 1) {
                continue;
            }
            const char *c = core(p, i);
            int phoneish = (core_len(p, i) > 1 && c[0] == '0' && c[1] != '.') ||
                           p->text[p->t[i].s] == '+' || p->text[p->t[i].s] == '(';
            char code[4];
            if (pass == 0 && i > 0 && currency_token(p, i - 1, CUR_PRE, code) &&
                (!phoneish || a.marked)) {
                claim_currency(p, i - 1, code); /* "KES 1250/=" claims both */
                if (a.cur[0] == '\0') {
                    memcpy(a.cur, code, 4);
                }
            } else if (a.marked) {
                if (a.cur[0] == '\0') {
                    memcpy(a.cur, "KES", 4);
                }
            } else if (pass == 1 && !phoneish && !phone_looking(p, i) &&
                       (modified_shillings(p, i, code) ||
                        currency_token(p, i + 1, CUR_POST, code))) {
                if (is_free(p, i + 1)) {
                    claim_currency(p, i + 1, code);
                }
                memcpy(a.cur, code, 4);
            } else {
                continue;
            }
            if (strcmp(a.cur, "KES") == 0) {
                p->currency_stated = 1;
            }
            add_amount(p, am, &a, i);
        }
    }
}

/* After the phone pass: a marked amount next to a free group of digits
 * ("KES 1 250", "1 250 KES") was split by a space. */
static void find_split_amounts(parser *p)
{
    for (size_t i = 0; i < p->n && p->split_amount == NO_TOKEN; i++) {
        if (p->t[i].use != USE_AMOUNT) {
            continue;
        }
        if (is_free(p, i + 1) && digits_only(p, i + 1, 3, 3) && digits_only(p, i, 1, 3)) {
            p->split_amount = i;
        } else if (i > 0 && is_free(p, i - 1) && digits_only(p, i - 1, 1, 3) &&
                   digits_only(p, i, 3, 3)) {
            p->split_amount = i - 1;
        }
    }
}

static void find_plain_amounts(parser *p, amounts *am, int take)
{
    for (size_t i = 0; i < p->n; i++) {
        if (!is_free(p, i)) {
            continue;
        }
        amt a;
        parse_amount(core(p, i), core_len(p, i), &a);
        if (a.kind == 2) {
            char shown[ECHO_MAX + 8];
            echo(p, i, i + 1, shown, sizeof(shown));
            note(p, "'%s' is not a valid amount", shown);
            p->t[i].use = USE_BAD;
        } else if (a.kind == 1 && take) {
            add_amount(p, am, &a, i);
        }
    }
}

/* Currency words standing alone ("KES" with no number next to it). */
static void find_lone_currencies(parser *p)
{
    for (size_t i = 0; i < p->n; i++) {
        char code[4];
        if (!currency_token(p, i, CUR_ALONE, code)) {
            continue;
        }
        claim_currency(p, i, code);
        if (strcmp(code, "KES") == 0) {
            p->currency_stated = 1;
        } else {
            refuse(p, "M-Pesa collects KES only: %s is not supported", code);
            memcpy(p->r.currency, code, 4);
            p->r.found |= CONSTRA_INSTRUCTION_HAS_CURRENCY;
        }
    }
}

static void settle_amount(parser *p, const amounts *am)
{
    if (!am->have) {
        return;
    }
    const amt *a = &am->first;
    char shown[ECHO_MAX + 8];
    echo(p, am->first_tok, am->first_tok + 1, shown, sizeof(shown));
    p->amount_refused = 1;
    if (p->split_amount != NO_TOKEN) {
        char two[ECHO_MAX + 8];
        echo(p, p->split_amount, p->split_amount + 2, two, sizeof(two));
        refuse(p, "amount '%s' has a space inside: write it as 1,250 or 1250", two);
    } else if (am->second_tok != NO_TOKEN) {
        char other[ECHO_MAX + 8];
        echo(p, am->second_tok, am->second_tok + 1, other, sizeof(other));
        refuse(p, "two different amounts ('%s' and '%s'): say which one", shown, other);
    } else if (p->r.currency[0] != '\0' && strcmp(p->r.currency, "KES") != 0) {
        /* already refused: another currency stands in the text */
    } else if (a->cur[0] != '\0' && strcmp(a->cur, "KES") != 0) {
        refuse(p, "M-Pesa collects KES only: %s is not supported", a->cur);
        memcpy(p->r.currency, a->cur, 4);
        p->r.found |= CONSTRA_INSTRUCTION_HAS_CURRENCY;
    } else if (a->neg && (a->value != 0 || a->cents || a->big)) {
        refuse(p, "negative amount '%s'", shown);
    } else if (a->big || a->value > CONSTRA_INSTRUCTION_AMOUNT_MAX) {
        refuse(p, "amount '%s' is above %d KES, the M-Pesa maximum per transaction", shown,
               CONSTRA_INSTRUCTION_AMOUNT_MAX);
    } else if (a->cents) {
        refuse(p, "amount '%s' has cents: KES is collected in whole shillings", shown);
    } else if (a->value < 1) {
        refuse(p, "amount '%s' is below 1 KES", shown);
    } else {
        p->amount_refused = 0;
        p->r.amount = a->value;
        memcpy(p->r.currency, "KES", 4);
        p->r.found |= CONSTRA_INSTRUCTION_HAS_AMOUNT;
    }
}

/* ---- phone numbers ---------------------------------------------------- */

/* Digits (at most 15, '+' before them when `plus`) of a number spread
 * over tokens -> "254" + 9 digits in out[13], by the library's one MSISDN
 * rule (constra_msisdn_normalize, Daraja reference section 8). */
static int msisdn_from_digits(const char *d, size_t n, int plus, char out[13])
{
    char in[20];
    size_t k = 0;
    if (plus) {
        in[k++] = '+';
    }
    memcpy(in + k, d, n);
    in[k + n] = '\0';
    return constra_msisdn_normalize(in, sizeof(in), out, CONSTRA_MSISDN_SIZE, NULL) ==
           CONSTRA_OK;
}

#define PHONE_DIGITS_MAX 15

/* Adds token i to a phone number being read: only digits and + - . ( ),
 * '+' only at the start of the first token. dig has PHONE_DIGITS_MAX + 2
 * bytes; *nd goes past PHONE_DIGITS_MAX when there are too many. Returns
 * 0 (nothing changed) when the token is not a piece of a phone number. */
static int phone_piece(const parser *p, size_t i, int first, char *dig, size_t *nd, int *plus)
{
    const char *text = p->text;
    size_t s = p->t[i].s, e = p->t[i].e;
    while (s < e && (text[s] == '"' || text[s] == '\'')) {
        s++;
    }
    while (e > s && strchr(".,:\"'", text[e - 1]) != NULL) {
        e--;
    }
    if (s == e) {
        return 0;
    }
    size_t n = *nd;
    int pl = *plus, digits = 0;
    for (size_t k = s; k < e; k++) {
        char c = text[k];
        if (constra__ascii_is_digit((unsigned char)c)) {
            if (n <= PHONE_DIGITS_MAX) {
                dig[n] = c;
            }
            n++, digits++;
            if (n > PHONE_DIGITS_MAX + 1) {
                n = PHONE_DIGITS_MAX + 1;
            }
        } else if (c == '+') {
            if (!first || digits > 0 || !(k == s || (k == s + 1 && text[s] == '('))) {
                return 0;
            }
            pl = 1;
        } else if (c != '-' && c != '.' && c != '(' && c != ')') {
            return 0;
        }
    }
    if (first && digits == 0) {
        return 0;
    }
    *nd = n;
    *plus = pl;
    return 1;
}

/* The longest run of free tokens from i that reads as a valid Kenyan
 * mobile number: one past its last token (msisdn set), or 0. */
static size_t phone_at(const parser *p, size_t i, char msisdn[13])
{
    char dig[PHONE_DIGITS_MAX + 2];
    size_t nd = 0, best = 0;
    int plus = 0;
    for (size_t j = i; j < p->n && is_free(p, j); j++) {
        if (!phone_piece(p, j, j == i, dig, &nd, &plus) || nd > PHONE_DIGITS_MAX) {
            break;
        }
        char m[13];
        if (msisdn_from_digits(dig, nd, plus, m)) {
            best = j + 1;
            memcpy(msisdn, m, 13);
        }
    }
    return best;
}

/* Does token i start something that can only be meant as a phone number
 * (a '+' or bracket, a leading 0 with 3+ digits, or 9+ digits)? */
static int phone_looking(const parser *p, size_t i)
{
    char dig[PHONE_DIGITS_MAX + 2];
    size_t nd = 0;
    int plus = 0;
    if (!phone_piece(p, i, 1, dig, &nd, &plus)) {
        return 0;
    }
    const char *c = p->text + p->t[i].s;
    return plus || c[0] == '(' || (c[0] == '0' && nd >= 3) || nd >= 9;
}

static void find_phones(parser *p)
{
    int two = 0;
    size_t i = 0;
    while (i < p->n) {
        if (!is_free(p, i)) {
            i++;
            continue;
        }
        char m[13];
        size_t end = phone_at(p, i, m);
        if (end > 0) {
            /* "100 110 123 456": another start inside the run reads a
             * number that runs past it: amount and phone cannot be told
             * apart. */
            size_t far = end;
            for (size_t k = i + 1; k < end; k++) {
                char m2[13];
                size_t e2 = phone_at(p, k, m2);
                if (e2 > far) {
                    far = e2;
                }
            }
            if (far > end) {
                char shown[ECHO_MAX + 8];
                echo(p, i, far, shown, sizeof(shown));
                refuse(p, "cannot tell the amount from the phone number in '%s': write the "
                          "amount with KES", shown);
                for (size_t k = i; k < far; k++) {
                    p->t[k].use = USE_BAD;
                }
                p->bad_phone = 1;
                i = far;
                continue;
            }
            for (size_t k = i; k < end; k++) {
                p->t[k].use = USE_PHONE;
            }
            if (!(p->r.found & CONSTRA_INSTRUCTION_HAS_PHONE)) {
                memcpy(p->r.phone_number, m, 13);
                p->r.found |= CONSTRA_INSTRUCTION_HAS_PHONE;
            } else if (strcmp(p->r.phone_number, m) != 0) {
                two = 1;
            }
            i = end;
            continue;
        }
        if (phone_looking(p, i)) {
            char dig[PHONE_DIGITS_MAX + 2];
            size_t nd = 0, j = i;
            int plus = 0;
            while (j < p->n && is_free(p, j) && nd <= PHONE_DIGITS_MAX &&
                   phone_piece(p, j, j == i, dig, &nd, &plus)) {
                p->t[j].use = USE_BAD;
                j++;
            }
            char shown[ECHO_MAX + 8];
            echo(p, i, j, shown, sizeof(shown));
            if (nd < 9) {
                note(p, "phone number '%s' is incomplete", shown);
            } else {
                note(p, "'%s' is not a Kenyan mobile number", shown);
            }
            p->bad_phone = 1;
            i = j;
            continue;
        }
        i++;
    }
    if (two) {
        refuse(p, "two different phone numbers: say which one");
    }
}

/* ---- verb, name, description ------------------------------------------ */

static int is_keyword(const parser *p, size_t i)
{
    char code[4];
    unsigned flags;
    if (word_in(p, i, FILLERS) || word_in(p, i, VERBS) || word_in(p, i, REFUND_WORDS) ||
        word_in(p, i, PAYOUT_WORDS) || word_in(p, i, NEGATIONS) || word_in(p, i, REF_SKIP) ||
        word_in(p, i, NUMBER_WORDS)) {
        return 1;
    }
    /* "bob", "dollars": currency only after a number, else maybe a name */
    if (currency_of(core(p, i), core_len(p, i), &flags, code) &&
        (flags & (CUR_PRE | CUR_ALONE)) != 0) {
        return 1;
    }
    for (size_t l = 0; l < CONSTRA__ARRAY_LEN(REF_LABELS); l++) {
        if (word_is(p, i, REF_LABELS[l].word)) {
            return 1;
        }
    }
    return word_is(p, i, "cancel") || word_is(p, i, "void") || word_is(p, i, "not") ||
           word_is(p, i, "out") || word_is(p, i, "ugandan") || word_is(p, i, "tanzanian");
}

static void find_verb(parser *p)
{
    for (size_t i = 0; i < p->n; i++) {
        if (is_free(p, i) && is_collect_verb(p, i)) {
            p->verb = i;
            p->t[i].use = USE_VERB;
            return;
        }
    }
}

/* A word that can be (part of) a name: letters, with ' - . inside;
 * accented Latin letters (U+00C0..U+024F) allowed. */
static int name_like(const parser *p, size_t i)
{
    const unsigned char *s = (const unsigned char *)core(p, i);
    size_t n = core_len(p, i), k = 0;
    if (n == 0 || n > 40) {
        return 0;
    }
    int first = 1;
    while (k < n) {
        unsigned char c = s[k];
        if (constra__ascii_is_alpha(c)) {
            k++, first = 0;
        } else if (!first && (c == '\'' || c == '-' || c == '.')) {
            k++;
        } else if (c >= 0x80) {
            uint32_t cp;
            size_t l = utf8_decode(s + k, n - k, &cp);
            if (l == 0) {
                return 0;
            }
            if (cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7) {
                first = 0;
            } else if (first || cp != 0x2019) {
                return 0;
            }
            k += l;
        } else {
            return 0;
        }
    }
    return 1;
}

static void find_name(parser *p)
{
    for (size_t k = 0; k < p->n; k++) {
        int intro = (k == p->verb) ||
                    (is_free(p, k) && (word_is(p, k, "from") || word_is(p, k, "to") ||
                                       word_is(p, k, "customer") || word_is(p, k, "client")));
        if (!intro) {
            continue;
        }
        size_t j = k + 1, len = 0;
        while (j < p->n && j < k + 4 && is_free(p, j) && name_like(p, j) && !is_keyword(p, j)) {
            size_t wn = core_len(p, j);
            if (len + (len ? 1 : 0) + wn >= sizeof(p->r.customer_name)) {
                break;
            }
            if (len) {
                p->r.customer_name[len++] = ' ';
            }
            memcpy(p->r.customer_name + len, core(p, j), wn);
            len += wn;
            p->r.customer_name[len] = '\0';
            p->t[j].use = USE_NAME;
            j++;
        }
        if (len > 0) {
            p->r.found |= CONSTRA_INSTRUCTION_HAS_NAME;
            return;
        }
    }
}

/* Appends word w[0..n) to dst (with a space); 0 when it does not fit. */
static int append_word(char *dst, size_t size, size_t *len, const char *w, size_t n)
{
    while (n > 0 && w[0] == '-') {
        w++, n--;
    }
    while (n > 0 && w[n - 1] == '-') {
        n--;
    }
    if (n == 0) {
        return 1;
    }
    size_t need = n + (*len ? 1 : 0);
    if (*len + need >= size) {
        return 0;
    }
    if (*len) {
        dst[(*len)++] = ' ';
    }
    memcpy(dst + *len, w, n);
    *len += n;
    dst[*len] = '\0';
    return 1;
}

/* Adds token i to the description as [A-Za-z0-9-] words (other ASCII
 * splits words, accented Latin letters lose the accent, other characters
 * are dropped, words are cut at 32 characters). Returns 0 when the
 * description is full; *unreadable is set when nothing of a token that
 * had other characters could be kept. */
static int describe_token(parser *p, size_t i, size_t *len, int *unreadable)
{
    const unsigned char *s = (const unsigned char *)core(p, i);
    size_t n = core_len(p, i), k = 0, before = *len, wn = 0;
    int foreign = 0;
    char word[32];
    while (k < n) {
        unsigned char c = s[k];
        char out = 0;
        size_t step = 1;
        if (constra__ascii_is_alpha(c) || constra__ascii_is_digit(c) || c == '-') {
            out = (char)c;
        } else if (c >= 0x80) {
            uint32_t cp = 0;
            size_t l = utf8_decode(s + k, n - k, &cp);
            step = l ? l : 1;
            out = l ? latin1_ascii(cp) : 0;
            if (out == 0) {
                foreign = 1;
                k += step;
                continue; /* dropped; the word goes on */
            }
        }
        if (out != 0) {
            if (wn < sizeof(word)) {
                word[wn++] = out;
            }
        } else {
            if (!append_word(p->r.description, sizeof(p->r.description), len, word, wn)) {
                return 0;
            }
            wn = 0;
        }
        k += step;
    }
    if (!append_word(p->r.description, sizeof(p->r.description), len, word, wn)) {
        return 0;
    }
    if (foreign && *len == before) {
        *unreadable = 1;
    }
    return 1;
}

static void find_description(parser *p)
{
    size_t len = 0, unreadable = 0;
    int full = 0;
    size_t i = 0;
    while (i < p->n) {
        if (!is_free(p, i)) {
            i++;
            continue;
        }
        size_t a = i, b = i;
        while (b < p->n && is_free(p, b)) {
            b++;
        }
        i = b;
        while (a < b && (core_len(p, a) == 0 || word_in(p, a, FILLERS))) {
            a++;
        }
        while (b > a && (core_len(p, b - 1) == 0 || word_in(p, b - 1, FILLERS))) {
            b--;
        }
        for (size_t k = a; k < b && !full; k++) {
            int bad = 0;
            full = !describe_token(p, k, &len, &bad);
            unreadable += (size_t)bad;
        }
    }
    if (unreadable > 0) {
        note(p, "%zu word%s could not be read", unreadable, unreadable == 1 ? "" : "s");
    }
    if (len == 0) {
        return;
    }
    char *d = p->r.description;
    if (d[0] >= 'a' && d[0] <= 'z') {
        d[0] = (char)(d[0] - 'a' + 'A');
    }
    p->r.found |= CONSTRA_INSTRUCTION_HAS_DESCRIPTION;
    /* TransactionDesc: whole words up to 13 characters. */
    size_t cap = sizeof(p->r.transaction_desc) - 1, cut = 0;
    for (size_t k = 0; k <= len && k <= cap; k++) {
        if (d[k] == ' ' || d[k] == '\0') {
            cut = k;
        }
    }
    if (cut == 0) {
        cut = len < cap ? len : cap;
        while (cut > 0 && d[cut - 1] == '-') {
            cut--;
        }
    }
    memcpy(p->r.transaction_desc, d, cut);
    p->r.transaction_desc[cut] = '\0';
}

/* ---- the whole parse -------------------------------------------------- */

static void parse(parser *p)
{
    if (!tokenize(p)) {
        refuse(p, "the instruction has more than %d words", CONSTRA_INSTRUCTION_MAX_WORDS);
        return;
    }
    scan_refusals(p);
    find_references(p);
    find_verb(p);
    amounts am = {0, {0, 0, 0, 0, 0, "", 0}, NO_TOKEN, NO_TOKEN};
    find_marked_amounts(p, &am);
    find_phones(p);
    find_split_amounts(p);
    find_plain_amounts(p, &am, !am.have);
    find_lone_currencies(p);
    settle_amount(p, &am);
    if (p->currency_stated) {
        if (p->r.currency[0] == '\0') {
            memcpy(p->r.currency, "KES", 4);
        }
        p->r.found |= CONSTRA_INSTRUCTION_HAS_CURRENCY;
    }
    find_name(p);
    find_description(p);

    /* What is missing goes first, then the notes gathered on the way. */
    char *nu = p->r.not_understood;
    size_t cap = sizeof(p->r.not_understood);
    nu[0] = '\0';
    if (!(p->r.found & CONSTRA_INSTRUCTION_HAS_AMOUNT) && !p->amount_refused) {
        int words = 0;
        for (size_t i = 0; i < p->n && !words; i++) {
            words = is_free(p, i) && word_in(p, i, NUMBER_WORDS);
        }
        constra__strlcpy(nu, words ? "amount missing (amounts in words are not read: write "
                                     "digits)" : "amount missing", cap);
    }
    if (!(p->r.found & CONSTRA_INSTRUCTION_HAS_PHONE) && !p->bad_phone) {
        size_t l = strlen(nu);
        (void)snprintf(nu + l, cap - l, "%sphone number missing", l ? "; " : "");
    }
    if (p->notes_len > 0) {
        size_t l = strlen(nu);
        (void)snprintf(nu + l, cap - l, "%s%s", l ? "; " : "", p->notes);
    }
    if (!(p->r.found & (CONSTRA_INSTRUCTION_HAS_AMOUNT | CONSTRA_INSTRUCTION_HAS_PHONE))) {
        refuse(p, "nothing to collect: no amount and no phone number understood");
    }
}

int constra_instruction_init(constra_instruction *out, size_t struct_size)
{
    return constra__init_struct(out, struct_size, INSTRUCTION_V1_SIZE, sizeof(*out), NULL);
}

int constra_instruction_parse(const char *text, size_t max_len, constra_instruction *out,
                              constra_error *err)
{
    if (text == NULL) {
        return constra__fail_null(err, "text");
    }
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    int rc = constra__check_struct(out, INSTRUCTION_V1_SIZE, sizeof(*out), "out", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    const size_t limit = (size_t)CONSTRA_INSTRUCTION_MAX_TEXT + 1;
    size_t bound = max_len < limit ? max_len : limit;
    size_t len = constra__strnlen(text, bound);
    if (len == bound) {
        if (bound == max_len) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "text",
                                 "text is not terminated within max_len (%zu) bytes", max_len);
        }
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "text",
                             "text is longer than %d bytes", CONSTRA_INSTRUCTION_MAX_TEXT);
    }
    parser p;
    memset(&p, 0, sizeof(p));
    p.text = text;
    p.len = len;
    p.verb = NO_TOKEN;
    p.send_verb = NO_TOKEN;
    p.split_amount = NO_TOKEN;
    parse(&p);
    p.r.struct_size = out->struct_size;
    memcpy(out, &p.r, sizeof(p.r));
    return CONSTRA_OK;
}
