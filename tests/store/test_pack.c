/* tests/store/test_pack.c - the packed events body (store/store_pack.h):
 * what the writer puts is what a reader gets back, field by field, and a
 * cut or damaged body is refused, never read past its end. */
#include "store_int.h"
#include "store_pack.h"

#include <check.h>

Suite *pack_suite(void);

/* Three events as a writer would pack them: no args, a few, the most. */
static uint32_t big_args[STORE_MAX_ARGS];

static void three_events(struct store_event ev[3])
{
    static const uint32_t few[3] = { 0xc0001000u, 0x10u, 0xffffffffu };
    uint32_t i;

    for (i = 0; i < STORE_MAX_ARGS; i++)
        big_args[i] = 0x01020304u * (i + 1);
    memset(ev, 0, 3 * sizeof(*ev));
    ev[0] = (struct store_event){ .machine = 7, .seq = 41, .time_ms = -5,
                                  .op = 3, .cpu = 1, .value = 0xdeadbeefu,
                                  .aux = 2, .flags = 0x80000000u,
                                  .status = -22 };
    ev[1] = (struct store_event){ .machine = 7, .seq = 42,
                                  .time_ms = INT64_MAX, .op = 9, .nargs = 3,
                                  .args = few, .value = 1 };
    ev[2] = (struct store_event){ .machine = 7, .seq = UINT64_MAX / 2,
                                  .time_ms = 1733400000000, .op = 12,
                                  .cpu = 3, .nargs = STORE_MAX_ARGS,
                                  .args = big_args, .status = 1 };
}

#define BODY_MAX (3 * PACK_HEAD_MAX + 4 * (3 + STORE_MAX_ARGS))

/* Packs @ev[0..2] with sums 100, 101, 102 into @body; its length, and
 * where each event ends in @end. */
static size_t pack_three(unsigned char *body, const struct store_event ev[3],
                         size_t end[3])
{
    struct pack_cur cur = { 0, 0 };
    size_t len = 0;
    int i;

    for (i = 0; i < 3; i++) {
        len += pack_put(body + len, &cur, &ev[i], 100 + (uint64_t)i);
        end[i] = len;
    }
    ck_assert_uint_eq(cur.off, len);
    return len;
}

START_TEST(test_pack_round_trip)
{
    static unsigned char body[BODY_MAX];
    static uint32_t words[STORE_MAX_ARGS];
    struct store_event ev[3], got;
    struct pack_cur cur = { 0, 0 };
    const unsigned char *args;
    uint64_t sum;
    size_t len, end[3];
    int i;

    three_events(ev);
    len = pack_three(body, ev, end);
    /* Varints: sum 8, seq 1, time 1, op 1, cpu 1, nargs 1, value 5,
     * aux 1, flags 5, status 1. */
    ck_assert_uint_eq(end[0], 25);
    for (i = 0; i < 3; i++) {
        ck_assert(pack_get(body, len, &cur, 7, &got, words, &sum, &args));
        ck_assert_uint_eq(cur.off, end[i]);
        ck_assert_uint_eq(got.machine, 7);
        ck_assert_uint_eq(got.seq, ev[i].seq);
        ck_assert_int_eq(got.time_ms, ev[i].time_ms);
        ck_assert_uint_eq(got.op, ev[i].op);
        ck_assert_uint_eq(got.cpu, ev[i].cpu);
        ck_assert_uint_eq(got.nargs, ev[i].nargs);
        ck_assert_uint_eq(got.value, ev[i].value);
        ck_assert_uint_eq(got.aux, ev[i].aux);
        ck_assert_uint_eq(got.flags, ev[i].flags);
        ck_assert_int_eq(got.status, ev[i].status);
        ck_assert_uint_eq(sum, 100 + (uint64_t)i);
        ck_assert(got.args == words);
        ck_assert_int_eq(memcmp(got.args, ev[i].args != NULL ? ev[i].args
                                                             : words,
                                4 * (size_t)ev[i].nargs),
                         0);
        /* The chain hashes the body's args bytes: the same sum as over
         * the words themselves, little-endian. */
        ck_assert_uint_eq(
            store__event_sum(1, 7, got.seq, got.time_ms, got.op, got.cpu,
                             args, 4 * (size_t)got.nargs, got.value, got.aux,
                             got.flags, got.status),
            store__event_sum(1, 7, got.seq, got.time_ms, got.op, got.cpu,
                             (const unsigned char *)words,
                             4 * (size_t)got.nargs, got.value, got.aux,
                             got.flags, got.status));
    }
    ck_assert_uint_eq(cur.off, len);
    ck_assert(!pack_get(body, len, &cur, 7, &got, words, &sum, &args));
    ck_assert_uint_eq(cur.off, len);
}
END_TEST

/* Every cut of a body ends the read at the last whole event before the
 * cut: the event the cut falls in is refused, nothing read past it. */
START_TEST(test_pack_cut_body_refused)
{
    static unsigned char body[BODY_MAX];
    static uint32_t words[STORE_MAX_ARGS];
    struct store_event ev[3], got;
    const unsigned char *args;
    size_t len, cut, n, whole, end[3];
    uint64_t sum;

    three_events(ev);
    len = pack_three(body, ev, end);
    for (cut = 0; cut < len; cut++) {
        struct pack_cur cur = { 0, 0 };

        n = 0;
        while (pack_get(body, cut, &cur, 7, &got, words, &sum, &args))
            n++;
        whole = cut < end[0] ? 0 : cut < end[1] ? 1 : 2;
        ck_assert_msg(n == whole, "cut at %zu: %zu events read", cut, n);
        ck_assert_uint_eq(cur.off, whole == 0 ? 0 : end[whole - 1]);
    }
}
END_TEST

/* An event claiming more than STORE_MAX_ARGS words is refused even where
 * the body has the bytes; STORE_MAX_ARGS itself is read. */
START_TEST(test_pack_nargs_over_max_refused)
{
    static unsigned char body[PACK_HEAD_MAX + 4 * (STORE_MAX_ARGS + 1)];
    static uint32_t words[STORE_MAX_ARGS];
    struct store_event ev[3], got;
    struct pack_cur cur = { 0, 0 }, at = { 0, 0 };
    const unsigned char *args;
    uint64_t sum;
    size_t n;

    three_events(ev);
    n = pack_put(body, &at, &ev[0], 1);
    /* nargs is the fifth varint after the sum (seq 41, time, op 3, cpu 1:
     * one byte each): 0, one byte; made two bytes. */
    ck_assert_uint_eq(body[8 + 4], 0);
    memmove(body + 8 + 6, body + 8 + 5, n - 13);
    body[8 + 4] = 0x80 | ((STORE_MAX_ARGS + 1) & 0x7f);
    body[8 + 5] = (unsigned char)((STORE_MAX_ARGS + 1) >> 7);
    ck_assert(!pack_get(body, sizeof(body), &cur, 7, &got, words, &sum,
                        &args));
    ck_assert_uint_eq(cur.off, 0);
    body[8 + 4] = 0x80 | (STORE_MAX_ARGS & 0x7f);
    body[8 + 5] = (unsigned char)(STORE_MAX_ARGS >> 7);
    ck_assert(pack_get(body, sizeof(body), &cur, 7, &got, words, &sum, &args));
    ck_assert_uint_eq(got.nargs, STORE_MAX_ARGS);
}
END_TEST

Suite *pack_suite(void)
{
    Suite *s = suite_create("pack");
    TCase *tc = tcase_create("body");

    tcase_add_test(tc, test_pack_round_trip);
    tcase_add_test(tc, test_pack_cut_body_refused);
    tcase_add_test(tc, test_pack_nargs_over_max_refused);
    suite_add_tcase(s, tc);
    return s;
}
