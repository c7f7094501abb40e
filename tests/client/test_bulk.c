/* tests/client/test_bulk.c - 100,000 translations, streamed and single.
 *
 * `armmap translate M` reads 100,000 addresses on stdin (lowmem, the
 * kernel image, a vmalloc area, a kmapped pkmap page, the vectors page,
 * holes and random addresses) and streams them in pipelined chunks; each
 * output line is then compared with a translation of that one address by
 * its own armmap_translate() round trip.
 */
#include "check_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ADDR 100000

static uint32_t next_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 32);
}

START_TEST(test_stream_equals_single_translations)
{
    struct armmap_conn *c = tc_connect();
    uint64_t m = tc_create(c, "aries"), seed = 12345;
    struct armmap_op_result r;
    uint32_t *va = malloc(N_ADDR * sizeof(*va)), vm, kva;
    char *in = malloc((size_t)N_ADDR * 12 + 1), *p, *line;
    struct trun run;
    size_t i, len = 0;
    char mach[32];

    ck_assert_int_eq(armmap_alloc(c, m, ARMMAP_ZONE_HIGHMEM, 0, &r), ARMMAP_OK);
    ck_assert_int_eq(armmap_kmap(c, m, r.value, 0, &r), ARMMAP_OK);
    kva = r.value;
    ck_assert_int_eq(armmap_vmalloc(c, m, 64 * 1024, &r), ARMMAP_OK);
    vm = r.value;
    for (i = 0; i < N_ADDR; i++) {
        uint32_t x = next_rand(&seed);

        switch (x % 6) {
        case 0: va[i] = 0xc0000000u + next_rand(&seed) % 0x2f800000u; break;
        case 1: va[i] = vm + next_rand(&seed) % (80 * 1024); break;
        case 2: va[i] = kva + next_rand(&seed) % 0x2000u; break;
        case 3: va[i] = 0xffff0000u + next_rand(&seed) % 0x2000u; break;
        default: va[i] = next_rand(&seed); break;
        }
        len += (size_t)sprintf(in + len, i % 2 ? "0x%x\n" : "%u\n", va[i]);
    }
    snprintf(mach, sizeof(mach), "%llu", (unsigned long long)m);
    run = tc_armmap(tc_d.sock, in, len, "translate", mach, "--chunk", "3000",
                    (char *)NULL);
    ck_assert_msg(run.status == 0, "exit %d: %s", run.status, run.err);
    p = run.out;
    for (i = 0; i < N_ADDR; i++) {
        struct armmap_translate_result *t;
        char want[80];
        size_t n;

        line = p;
        p = strchr(p, '\n');
        ck_assert_ptr_nonnull(p);
        *p++ = '\0';
        ck_assert_int_eq(armmap_translate(c, m, &va[i], 1, 0, false, &t),
                         ARMMAP_OK);
        if (t->fault[0])
            n = (size_t)snprintf(want, sizeof(want), "0x%08x - %s %s", va[i],
                                 armmap_region_name(t->region[0]),
                                 armmap_fault_name(t->fault[0]));
        else
            n = (size_t)snprintf(want, sizeof(want), "0x%08x 0x%08x %s -",
                                 va[i], t->pa[0],
                                 armmap_region_name(t->region[0]));
        ck_assert_uint_lt(n, sizeof(want));
        ck_assert_msg(strcmp(line, want) == 0, "address %zu: '%s' != '%s'", i,
                      line, want);
        armmap_translate_result_free(t);
    }
    ck_assert_str_eq(p, "");
    tc_run_free(&run);
    free(va);
    free(in);
    armmap_close(c);
}
END_TEST

Suite *bulk_suite(void)
{
    Suite *s = suite_create("bulk");
    TCase *tc = tcase_create("bulk");

    tcase_add_checked_fixture(tc, tc_daemon_setup, tc_daemon_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_stream_equals_single_translations);
    suite_add_tcase(s, tc);
    return s;
}
