/* tests/common/ckloop.h - Check assertions for loops of thousands.
 *
 * Check records the place of every assertion that passes (_mark_point():
 * a message written and flushed to its log file, a system call each).
 * A loop that checks 100,000 values pays that 100,000 times: 200,000
 * passing assertions cost 2 CPU s and 28 s of wall time under ASan+UBSan
 * on the shared 2-core machine.  These assert exactly what the ck_assert
 * of the same name asserts, with its message, but call it only when the
 * check fails.  Their arguments are evaluated again then: pass only
 * expressions without side effects.
 */
#ifndef ARMMAP_TESTS_COMMON_CKLOOP_H
#define ARMMAP_TESTS_COMMON_CKLOOP_H

#include <check.h>
#include <string.h>

#define ck_loop_assert_msg(expr, ...)                                         \
    do {                                                                      \
        if (!(expr))                                                          \
            ck_assert_msg(expr, __VA_ARGS__);                                 \
    } while (0)
#define ck_loop_assert_uint_eq(x, y)                                          \
    do {                                                                      \
        if ((x) != (y))                                                       \
            ck_assert_uint_eq(x, y);                                          \
    } while (0)
#define ck_loop_assert_uint_ne(x, y)                                          \
    do {                                                                      \
        if ((x) == (y))                                                       \
            ck_assert_uint_ne(x, y);                                          \
    } while (0)
#define ck_loop_assert_uint_lt(x, y)                                          \
    do {                                                                      \
        if (!((x) < (y)))                                                     \
            ck_assert_uint_lt(x, y);                                          \
    } while (0)
#define ck_loop_assert_uint_ge(x, y)                                          \
    do {                                                                      \
        if (!((x) >= (y)))                                                    \
            ck_assert_uint_ge(x, y);                                          \
    } while (0)
/* Both strings must be there (a NULL fails, as in ck_assert_str_eq). */
#define ck_loop_assert_str_eq(x, y)                                           \
    do {                                                                      \
        const char *ck_loop_a_ = (x), *ck_loop_b_ = (y);                      \
                                                                              \
        if (ck_loop_a_ == NULL || ck_loop_b_ == NULL ||                       \
            strcmp(ck_loop_a_, ck_loop_b_) != 0)                              \
            ck_assert_str_eq(x, y);                                           \
    } while (0)
#define ck_loop_assert_int_eq(x, y)                                           \
    do {                                                                      \
        if ((x) != (y))                                                       \
            ck_assert_int_eq(x, y);                                           \
    } while (0)

#endif /* ARMMAP_TESTS_COMMON_CKLOOP_H */
