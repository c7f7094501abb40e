/* tests/common/runlen.h - the length of a long loop in make check.
 *
 * make check sets $ARMMAP_RANDOM_OPS below its full 25,000 (2,500 under
 * the sanitizers, 10,000 plain: the Makefile's SAN_RANDOM_OPS and
 * PLAIN_RANDOM_OPS) to shorten the randomized engine sequences; make
 * check-full leaves it unset.  The daemon suites' loops of identical
 * requests take the same share of their full count: every assertion
 * still runs in make check, on fewer requests, and check-full (CI) runs
 * the full count.
 */
#ifndef ARMMAP_TESTS_COMMON_RUNLEN_H
#define ARMMAP_TESTS_COMMON_RUNLEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#define RUN_LEN_FULL_OPS 25000ul        /* $ARMMAP_RANDOM_OPS at full length */

/* $ARMMAP_RANDOM_OPS, or the full length when it is unset or empty. */
static inline unsigned long run_len_ops(void)
{
    const char *s = getenv("ARMMAP_RANDOM_OPS");

    return s != NULL && *s != '\0' ? strtoul(s, NULL, 10) : RUN_LEN_FULL_OPS;
}

/* Whether $ARMMAP_RANDOM_OPS asks for less than the full length. */
static inline bool run_len_short(void)
{
    return run_len_ops() < RUN_LEN_FULL_OPS;
}

/* @full, or its share $ARMMAP_RANDOM_OPS / 25,000 (rounded up) when that
 * is shorter; at least 1. */
static inline size_t run_len(size_t full)
{
    unsigned long ops = run_len_ops();
    size_t n;

    if (ops >= RUN_LEN_FULL_OPS)
        return full;
    n = (full * ops + RUN_LEN_FULL_OPS - 1) / RUN_LEN_FULL_OPS;
    return n >= 1 ? n : 1;
}

#endif
