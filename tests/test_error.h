/*
 * The tests' error sink. Every fallible call takes a `constra_error *err`
 * last; tests that check the detail of a failure pass T_ERR, a per-thread
 * constra_error of their own translation unit, and read it back with
 * t_last_error(). A call that succeeds leaves it as it was, so it holds
 * the detail of this thread's last failed call.
 */
#ifndef CONSTRA_TESTS_TEST_ERROR_H
#define CONSTRA_TESTS_TEST_ERROR_H

#include "constra/error.h"

static inline constra_error *t_err(void)
{
    static _Thread_local constra_error e = CONSTRA_ERROR_INIT;
    return &e;
}

#define T_ERR (t_err())

static inline constra_error t_last_error(void)
{
    return *t_err();
}

#endif
