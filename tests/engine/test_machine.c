/* Every (status, input) pair of the state machine, checked against a
 * table written from doc/DESIGN.md section 5 (not from machine.c), so no
 * transition is left undefined or changes silently. */
#include "../unit/testutil.h"

#include <stdio.h>

#include "engine/machine.h"

typedef struct row {
    const char *status, *input, *expect; /* "VERDICT" or "MOVE:<status>" */
} row;

static const row table[] = {
    {"draft", "succeeded", "RECORD"},
    {"draft", "pending", "NOTHING"},
    {"draft", "recoverable", "RECORD"},
    {"draft", "retry_later", "RECORD"},
    {"draft", "failed", "RECORD"},
    {"draft", "review", "RECORD"},
    {"draft", "duplicate", "RECORD"},
    {"draft", "other_attempt_succeeded", "RECORD"},
    {"draft", "other_attempt_result", "RECORD"},
    {"draft", "timeout", "NOTHING"},
    {"draft", "confirm", "CALL_RAIL"},
    {"draft", "retry", "REFUSE"},
    {"draft", "cancel", "MOVE:cancelled"},
    {"draft", "resolve_succeeded", "REFUSE"},
    {"draft", "resolve_failed", "REFUSE"},
    {"pending_user_action", "succeeded", "MOVE:succeeded"},
    {"pending_user_action", "pending", "NOTHING"},
    {"pending_user_action", "recoverable", "MOVE:requires_recovery"},
    {"pending_user_action", "retry_later", "MOVE:requires_recovery"},
    {"pending_user_action", "failed", "MOVE:failed"},
    {"pending_user_action", "review", "MOVE:review_required"},
    {"pending_user_action", "duplicate", "RECORD"},
    {"pending_user_action", "other_attempt_succeeded", "MOVE:succeeded"},
    {"pending_user_action", "other_attempt_result", "RECORD"},
    {"pending_user_action", "timeout", "MOVE:requires_recovery"},
    {"pending_user_action", "confirm", "REFUSE"},
    {"pending_user_action", "retry", "REFUSE"},
    {"pending_user_action", "cancel", "MOVE:cancelled"},
    {"pending_user_action", "resolve_succeeded", "REFUSE"},
    {"pending_user_action", "resolve_failed", "REFUSE"},
    {"succeeded", "succeeded", "MOVE:review_required"},
    {"succeeded", "pending", "NOTHING"},
    {"succeeded", "recoverable", "RECORD"},
    {"succeeded", "retry_later", "RECORD"},
    {"succeeded", "failed", "RECORD"},
    {"succeeded", "review", "RECORD"},
    {"succeeded", "duplicate", "RECORD"},
    {"succeeded", "other_attempt_succeeded", "MOVE:review_required"},
    {"succeeded", "other_attempt_result", "RECORD"},
    {"succeeded", "timeout", "NOTHING"},
    {"succeeded", "confirm", "REFUSE"},
    {"succeeded", "retry", "REFUSE"},
    {"succeeded", "cancel", "REFUSE"},
    {"succeeded", "resolve_succeeded", "REFUSE"},
    {"succeeded", "resolve_failed", "REFUSE"},
    {"requires_recovery", "succeeded", "MOVE:review_required"},
    {"requires_recovery", "pending", "NOTHING"},
    {"requires_recovery", "recoverable", "RECORD"},
    {"requires_recovery", "retry_later", "RECORD"},
    {"requires_recovery", "failed", "RECORD"},
    {"requires_recovery", "review", "MOVE:review_required"},
    {"requires_recovery", "duplicate", "RECORD"},
    {"requires_recovery", "other_attempt_succeeded", "MOVE:review_required"},
    {"requires_recovery", "other_attempt_result", "RECORD"},
    {"requires_recovery", "timeout", "NOTHING"},
    {"requires_recovery", "confirm", "REFUSE"},
    {"requires_recovery", "retry", "CALL_RAIL"},
    {"requires_recovery", "cancel", "MOVE:cancelled"},
    {"requires_recovery", "resolve_succeeded", "REFUSE"},
    {"requires_recovery", "resolve_failed", "REFUSE"},
    {"review_required", "succeeded", "RECORD"},
    {"review_required", "pending", "NOTHING"},
    {"review_required", "recoverable", "RECORD"},
    {"review_required", "retry_later", "RECORD"},
    {"review_required", "failed", "RECORD"},
    {"review_required", "review", "RECORD"},
    {"review_required", "duplicate", "RECORD"},
    {"review_required", "other_attempt_succeeded", "RECORD"},
    {"review_required", "other_attempt_result", "RECORD"},
    {"review_required", "timeout", "NOTHING"},
    {"review_required", "confirm", "REFUSE"},
    {"review_required", "retry", "REFUSE"},
    {"review_required", "cancel", "REFUSE"},
    {"review_required", "resolve_succeeded", "MOVE:succeeded"},
    {"review_required", "resolve_failed", "MOVE:failed"},
    {"failed", "succeeded", "MOVE:review_required"},
    {"failed", "pending", "NOTHING"},
    {"failed", "recoverable", "RECORD"},
    {"failed", "retry_later", "RECORD"},
    {"failed", "failed", "RECORD"},
    {"failed", "review", "RECORD"},
    {"failed", "duplicate", "RECORD"},
    {"failed", "other_attempt_succeeded", "MOVE:review_required"},
    {"failed", "other_attempt_result", "RECORD"},
    {"failed", "timeout", "NOTHING"},
    {"failed", "confirm", "REFUSE"},
    {"failed", "retry", "REFUSE"},
    {"failed", "cancel", "REFUSE"},
    {"failed", "resolve_succeeded", "REFUSE"},
    {"failed", "resolve_failed", "REFUSE"},
    {"cancelled", "succeeded", "MOVE:review_required"},
    {"cancelled", "pending", "NOTHING"},
    {"cancelled", "recoverable", "RECORD"},
    {"cancelled", "retry_later", "RECORD"},
    {"cancelled", "failed", "RECORD"},
    {"cancelled", "review", "RECORD"},
    {"cancelled", "duplicate", "RECORD"},
    {"cancelled", "other_attempt_succeeded", "MOVE:review_required"},
    {"cancelled", "other_attempt_result", "RECORD"},
    {"cancelled", "timeout", "NOTHING"},
    {"cancelled", "confirm", "REFUSE"},
    {"cancelled", "retry", "REFUSE"},
    {"cancelled", "cancel", "REFUSE"},
    {"cancelled", "resolve_succeeded", "REFUSE"},
    {"cancelled", "resolve_failed", "REFUSE"},};

static int status_of(const char *name)
{
    for (int s = CONSTRA_INTENT_DRAFT; s <= CONSTRA_INTENT_CANCELLED; s++) {
        if (strcmp(constra_intent_status_name(s), name) == 0) {
            return s;
        }
    }
    fail_msg("unknown status %s", name);
    return 0;
}

static constra__input input_of(const char *name)
{
    for (int i = 0; i < CONSTRA__IN_COUNT; i++) {
        if (strcmp(constra__input_name((constra__input)i), name) == 0) {
            return (constra__input)i;
        }
    }
    fail_msg("unknown input %s", name);
    return CONSTRA__IN_COUNT;
}

static const char *verdict_name(constra__verdict v)
{
    switch (v) {
    case CONSTRA__MOVE: return "MOVE";
    case CONSTRA__CALL_RAIL: return "CALL_RAIL";
    case CONSTRA__RECORD: return "RECORD";
    case CONSTRA__NOTHING: return "NOTHING";
    case CONSTRA__REFUSE: return "REFUSE";
    }
    return "?";
}

static void describe(constra__step st, char *out, size_t size)
{
    if (st.verdict == CONSTRA__MOVE) {
        snprintf(out, size, "MOVE:%s", constra_intent_status_name(st.to));
    } else {
        snprintf(out, size, "%s", verdict_name(st.verdict));
    }
}

static void test_every_pair(void **state)
{
    (void)state;
    /* The table covers the whole product of statuses and inputs. */
    assert_int_equal(sizeof(table) / sizeof(table[0]), 7 * CONSTRA__IN_COUNT);
    for (size_t k = 0; k < sizeof(table) / sizeof(table[0]); k++) {
        constra__step st = constra__machine_step(status_of(table[k].status),
                                                 input_of(table[k].input), 2);
        char got[64];
        describe(st, got, sizeof(got));
        if (strcmp(got, table[k].expect) != 0) {
            fail_msg("(%s, %s): got %s, want %s", table[k].status, table[k].input, got,
                     table[k].expect);
        }
        /* Every write names its event: payment_intent.<status> for a move. */
        if (st.verdict == CONSTRA__MOVE) {
            char want[64];
            snprintf(want, sizeof(want), "payment_intent.%s", constra_intent_status_name(st.to));
            assert_string_equal(st.event, want);
        } else if (st.verdict == CONSTRA__RECORD) {
            assert_non_null(st.event);
            assert_string_equal(st.event, strcmp(table[k].input, "duplicate") == 0
                                              ? "payment_intent.callback_duplicate"
                                              : "payment_intent.note_added");
        } else {
            assert_null(st.event);
        }
        assert_non_null(st.reason);
    }
}

/* With no attempts left, recoverable outcomes are final. */
static void test_attempts_exhausted(void **state)
{
    (void)state;
    const constra__input recoverable[] = {CONSTRA__IN_RECOVERABLE, CONSTRA__IN_RETRY_LATER,
                                          CONSTRA__IN_TIMEOUT};
    for (size_t i = 0; i < 3; i++) {
        constra__step st =
            constra__machine_step(CONSTRA_INTENT_PENDING_USER_ACTION, recoverable[i], 0);
        assert_int_equal(st.verdict, CONSTRA__MOVE);
        assert_int_equal(st.to, CONSTRA_INTENT_FAILED);
        assert_string_equal(st.reason, "retries_exhausted");
        st = constra__machine_step(CONSTRA_INTENT_PENDING_USER_ACTION, recoverable[i], 1);
        assert_int_equal(st.to, CONSTRA_INTENT_REQUIRES_RECOVERY);
    }
    constra__step st = constra__machine_step(CONSTRA_INTENT_REQUIRES_RECOVERY, CONSTRA__IN_RETRY, 0);
    assert_int_equal(st.verdict, CONSTRA__MOVE);
    assert_int_equal(st.to, CONSTRA_INTENT_FAILED);
}

static void test_out_of_range(void **state)
{
    (void)state;
    assert_int_equal(constra__machine_step(0, CONSTRA__IN_CANCEL, 1).verdict, CONSTRA__REFUSE);
    assert_int_equal(constra__machine_step(8, CONSTRA__IN_CANCEL, 1).verdict, CONSTRA__REFUSE);
    assert_int_equal(constra__machine_step(CONSTRA_INTENT_DRAFT, CONSTRA__IN_COUNT, 1).verdict,
                     CONSTRA__REFUSE);
    assert_int_equal(constra__machine_step(CONSTRA_INTENT_DRAFT, (constra__input)-1, 1).verdict,
                     CONSTRA__REFUSE);
    assert_string_equal(constra_intent_status_name(0), "unknown");
    assert_string_equal(constra_intent_status_name(99), "unknown");
    assert_string_equal(constra__input_name(CONSTRA__IN_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair),
        cmocka_unit_test(test_attempts_exhausted),
        cmocka_unit_test(test_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
