/* tests/engine/test_physmem.c - the sparse emulated physical memory. */
#include "check_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A fixed-seed xorshift32: the same sequence on every run. */
static uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

START_TEST(test_phys_unwritten_memory_reads_zero)
{
    struct mm_phys *p = mm__phys_create();

    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(mm__phys_read32(p, 0x00000000), 0);
    ck_assert_uint_eq(mm__phys_read32(p, 0x80004000), 0);
    ck_assert_uint_eq(mm__phys_read32(p, 0xfffffffc), 0);
    ck_assert_ptr_null(mm__phys_page(p, 0x80004));
    ck_assert_uint_eq(mm__phys_count(p), 0);
    mm__phys_destroy(p);
}
END_TEST

START_TEST(test_phys_page_rw_creates_a_zeroed_page_once)
{
    struct mm_phys *p = mm__phys_create();
    uint32_t *page = mm__phys_page_rw(p, 0x80004);

    ck_assert_ptr_nonnull(page);
    for (unsigned i = 0; i < MM_PAGE_SIZE / 4; i++)
        ck_assert_uint_eq(page[i], 0);
    ck_assert_ptr_eq(mm__phys_page_rw(p, 0x80004), page);
    ck_assert_ptr_eq(mm__phys_page(p, 0x80004), page);
    ck_assert_uint_eq(mm__phys_count(p), 1);
    mm__phys_destroy(p);
}
END_TEST

START_TEST(test_phys_write_then_read_the_same_word)
{
    struct mm_phys *p = mm__phys_create();

    ck_assert_ptr_nonnull(mm__phys_page_rw(p, 0x80004));
    mm__phys_write32(p, 0x80004000, 0x8000040e);
    mm__phys_write32(p, 0x80004ffc, 0xdeadbeef);
    ck_assert_uint_eq(mm__phys_read32(p, 0x80004000), 0x8000040e);
    ck_assert_uint_eq(mm__phys_read32(p, 0x80004ffc), 0xdeadbeef);
    ck_assert_uint_eq(mm__phys_read32(p, 0x80004004), 0);
    ck_assert_uint_eq(mm__phys_read32(p, 0x80004ff8), 0);
    ck_assert_uint_eq(mm__phys_read32(p, 0x80005000), 0);
    ck_assert_uint_eq(mm__phys_read32(p, 0x80003ffc), 0);
    ck_assert_uint_eq(mm__phys_page(p, 0x80004)[1023], 0xdeadbeef);
    mm__phys_destroy(p);
}
END_TEST

START_TEST(test_phys_first_and_last_page_of_the_address_space)
{
    struct mm_phys *p = mm__phys_create();

    ck_assert_ptr_nonnull(mm__phys_page_rw(p, 0));
    ck_assert_ptr_nonnull(mm__phys_page_rw(p, 0xfffff));
    mm__phys_write32(p, 0x00000000, 1);
    mm__phys_write32(p, 0xfffffffc, 2);
    ck_assert_uint_eq(mm__phys_read32(p, 0x00000000), 1);
    ck_assert_uint_eq(mm__phys_read32(p, 0xfffffffc), 2);
    ck_assert_uint_eq(mm__phys_count(p), 2);
    mm__phys_destroy(p);
}
END_TEST

START_TEST(test_phys_drop_forgets_the_page)
{
    struct mm_phys *p = mm__phys_create();

    ck_assert_ptr_nonnull(mm__phys_page_rw(p, 0x9f000));
    mm__phys_write32(p, 0x9f000010, 7);
    mm__phys_drop(p, 0x9f000);
    ck_assert_uint_eq(mm__phys_read32(p, 0x9f000010), 0);
    ck_assert_ptr_null(mm__phys_page(p, 0x9f000));
    ck_assert_uint_eq(mm__phys_count(p), 0);
    /* A new page there starts zeroed again. */
    ck_assert_uint_eq(mm__phys_page_rw(p, 0x9f000)[4], 0);
    mm__phys_destroy(p);
}
END_TEST

START_TEST(test_phys_drop_of_an_unwritten_page_does_nothing)
{
    struct mm_phys *p = mm__phys_create();
    size_t before;

    ck_assert_ptr_nonnull(mm__phys_page_rw(p, 0x80000));
    before = mm__phys_host_bytes(p);
    mm__phys_drop(p, 0x80001);
    ck_assert_uint_eq(mm__phys_count(p), 1);
    ck_assert_uint_eq(mm__phys_host_bytes(p), before);
    ck_assert_ptr_nonnull(mm__phys_page(p, 0x80000));
    mm__phys_destroy(p);
}
END_TEST

START_TEST(test_phys_growth_keeps_every_page)
{
    struct mm_phys *p = mm__phys_create();
    const unsigned n = 5000;

    for (unsigned i = 0; i < n; i++) {
        mm_pfn_t pfn = 0x40000 + i * 7;

        ck_assert_ptr_nonnull(mm__phys_page_rw(p, pfn));
        mm__phys_write32(p, (mm_paddr_t)pfn << 12 | 0x123 * 4, i + 1);
    }
    ck_assert_uint_eq(mm__phys_count(p), n);
    for (unsigned i = 0; i < n; i++) {
        mm_pfn_t pfn = 0x40000 + i * 7;

        ck_assert_uint_eq(mm__phys_read32(p, (mm_paddr_t)pfn << 12 | 0x123 * 4), i + 1);
        ck_assert_uint_eq(mm__phys_read32(p, (mm_paddr_t)(pfn + 1) << 12 | 0x123 * 4), 0);
    }
    mm__phys_destroy(p);
}
END_TEST

/* Inserts and drops at random in a small pfn range (many collisions) and
 * compares with a plain array after every step. */
START_TEST(test_phys_random_insert_drop_matches_a_model)
{
    enum { RANGE = 512 };
    struct mm_phys *p = mm__phys_create();
    uint32_t model[RANGE] = {0};        /* 0: absent, else the stored word */
    uint32_t seed = 0x2545f491;
    size_t present = 0;

    for (unsigned step = 0; step < 20000; step++) {
        uint32_t r = xorshift32(&seed);
        mm_pfn_t pfn = 0xc0000 + (r % RANGE) * 64;     /* spread, then folded by the hash */
        unsigned i = r % RANGE;

        if ((r >> 16) % 3 != 0) {
            if (model[i] == 0)
                present++;
            ck_assert_ptr_nonnull(mm__phys_page_rw(p, pfn));
            model[i] = step + 1;
            mm__phys_write32(p, (mm_paddr_t)pfn << 12, model[i]);
        } else {
            if (model[i] != 0)
                present--;
            mm__phys_drop(p, pfn);
            model[i] = 0;
        }
        ck_assert_uint_eq(mm__phys_count(p), present);
        if (step % 97 == 0) {
            for (unsigned k = 0; k < RANGE; k++)
                ck_assert_uint_eq(mm__phys_read32(p, (mm_paddr_t)(0xc0000 + k * 64) << 12),
                                  model[k]);
        }
    }
    for (unsigned k = 0; k < RANGE; k++)
        ck_assert_uint_eq(mm__phys_read32(p, (mm_paddr_t)(0xc0000 + k * 64) << 12), model[k]);
    mm__phys_destroy(p);
}
END_TEST

struct visit {
    unsigned n, stop_after;
    mm_pfn_t pfn[16];
    uint8_t first[16];
};

static bool record_visit(void *arg, mm_pfn_t pfn, const uint8_t *data)
{
    struct visit *v = arg;

    ck_assert_uint_lt(v->n, 16);
    v->pfn[v->n] = pfn;
    v->first[v->n] = data[0];
    v->n++;
    return v->n != v->stop_after;
}

START_TEST(test_phys_foreach_visits_pages_ascending)
{
    static const mm_pfn_t pfns[] = {0xfffff, 0x80004, 0x9f000, 0, 0x80005, 0xbfe00};
    static const mm_pfn_t sorted[] = {0, 0x80004, 0x80005, 0x9f000, 0xbfe00, 0xfffff};
    struct mm_phys *p = mm__phys_create();
    struct visit v = {0};

    for (unsigned i = 0; i < 6; i++) {
        ck_assert_ptr_nonnull(mm__phys_page_rw(p, pfns[i]));
        mm__phys_write32(p, pfns[i] << 12, pfns[i] & 0xff);
    }
    mm__phys_foreach(p, record_visit, &v);
    ck_assert_uint_eq(v.n, 6);
    for (unsigned i = 0; i < 6; i++) {
        ck_assert_uint_eq(v.pfn[i], sorted[i]);
        ck_assert_uint_eq(v.first[i], sorted[i] & 0xff);
    }
    mm__phys_destroy(p);
}
END_TEST

START_TEST(test_phys_foreach_stops_when_told)
{
    struct mm_phys *p = mm__phys_create();
    struct visit v = {.stop_after = 2};

    for (mm_pfn_t pfn = 0x100; pfn < 0x105; pfn++)
        ck_assert_ptr_nonnull(mm__phys_page_rw(p, pfn));
    mm__phys_foreach(p, record_visit, &v);
    ck_assert_uint_eq(v.n, 2);
    ck_assert_uint_eq(v.pfn[0], 0x100);
    ck_assert_uint_eq(v.pfn[1], 0x101);
    mm__phys_destroy(p);
}
END_TEST

START_TEST(test_phys_foreach_of_empty_memory_calls_nothing)
{
    struct mm_phys *p = mm__phys_create();
    struct visit v = {0};

    mm__phys_foreach(p, record_visit, &v);
    ck_assert_uint_eq(v.n, 0);
    mm__phys_destroy(p);
}
END_TEST

START_TEST(test_phys_clone_is_a_deep_copy)
{
    struct mm_phys *p = mm__phys_create();
    struct mm_phys *c;

    for (mm_pfn_t pfn = 0x80000; pfn < 0x80040; pfn++) {
        ck_assert_ptr_nonnull(mm__phys_page_rw(p, pfn));
        mm__phys_write32(p, pfn << 12, pfn);
    }
    c = mm__phys_clone(p);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(mm__phys_count(c), 0x40);
    ck_assert_uint_eq(mm__phys_host_bytes(c), mm__phys_host_bytes(p));
    for (mm_pfn_t pfn = 0x80000; pfn < 0x80040; pfn++) {
        ck_assert_uint_eq(mm__phys_read32(c, pfn << 12), pfn);
        ck_assert_ptr_ne(mm__phys_page(c, pfn), mm__phys_page(p, pfn));
    }
    mm__phys_write32(c, 0x80000000, 0x1234);
    mm__phys_drop(c, 0x80001);
    ck_assert_ptr_nonnull(mm__phys_page_rw(c, 0x90000));
    ck_assert_uint_eq(mm__phys_read32(p, 0x80000000), 0x80000);
    ck_assert_uint_eq(mm__phys_read32(p, 0x80001000), 0x80001);
    ck_assert_ptr_null(mm__phys_page(p, 0x90000));
    ck_assert_uint_eq(mm__phys_count(p), 0x40);
    ck_assert_uint_eq(mm__phys_count(c), 0x40);
    mm__phys_destroy(p);
    mm__phys_destroy(c);
}
END_TEST

START_TEST(test_phys_host_bytes_count_each_page)
{
    struct mm_phys *p = mm__phys_create();
    size_t empty = mm__phys_host_bytes(p);

    ck_assert_uint_lt(empty, 1024);
    ck_assert_ptr_nonnull(mm__phys_page_rw(p, 0x80004));
    ck_assert_uint_eq(mm__phys_host_bytes(p), empty + MM_PAGE_SIZE);
    ck_assert_ptr_nonnull(mm__phys_page_rw(p, 0x80005));
    ck_assert_uint_eq(mm__phys_host_bytes(p), empty + 2 * MM_PAGE_SIZE);
    mm__phys_drop(p, 0x80004);
    ck_assert_uint_eq(mm__phys_host_bytes(p), empty + MM_PAGE_SIZE);
    ck_assert_uint_eq(mm__phys_host_bytes(NULL), 0);
    mm__phys_destroy(p);
    mm__phys_destroy(NULL);
}
END_TEST

/* Not a pass/fail test of speed (sanitizer builds are slow): it prints
 * what a page-table read costs, for the 20M translations/s budget. */
START_TEST(test_phys_read32_cost)
{
    struct mm_phys *p = mm__phys_create();
    struct timespec t0, t1;
    const unsigned n = 20000000;
    uint32_t sum = 0;
    double ns;

    /* What a booted machine holds: swapper_pg_dir and a few PTE pages. */
    for (mm_pfn_t pfn = 0x40004; pfn < 0x40008; pfn++)
        ck_assert_ptr_nonnull(mm__phys_page_rw(p, pfn));
    for (mm_pfn_t pfn = 0x6f7f0; pfn < 0x6f7f8; pfn++)
        ck_assert_ptr_nonnull(mm__phys_page_rw(p, pfn));
    mm__phys_write32(p, 0x40007000, 1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0; i < n; i++)
        sum += mm__phys_read32(p, 0x40004000 + ((i * 4u) & 0x3ffc));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / n;
    printf("physmem: %.2f ns per mm__phys_read32 (%u pages held)\n", ns,
           (unsigned)mm__phys_count(p));
    /* Word 0 of the fourth page is read when i % 4096 == 3072. */
    ck_assert_uint_eq(sum, (n + 4096 - 1 - 3072) / 4096);
    mm__phys_destroy(p);
}
END_TEST

Suite *physmem_suite(void)
{
    Suite *s = suite_create("physmem");
    TCase *tc = tcase_create("physmem");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_phys_unwritten_memory_reads_zero);
    tcase_add_test(tc, test_phys_page_rw_creates_a_zeroed_page_once);
    tcase_add_test(tc, test_phys_write_then_read_the_same_word);
    tcase_add_test(tc, test_phys_first_and_last_page_of_the_address_space);
    tcase_add_test(tc, test_phys_drop_forgets_the_page);
    tcase_add_test(tc, test_phys_drop_of_an_unwritten_page_does_nothing);
    tcase_add_test(tc, test_phys_growth_keeps_every_page);
    tcase_add_test(tc, test_phys_random_insert_drop_matches_a_model);
    tcase_add_test(tc, test_phys_foreach_visits_pages_ascending);
    tcase_add_test(tc, test_phys_foreach_stops_when_told);
    tcase_add_test(tc, test_phys_foreach_of_empty_memory_calls_nothing);
    tcase_add_test(tc, test_phys_clone_is_a_deep_copy);
    tcase_add_test(tc, test_phys_host_bytes_count_each_page);
    tcase_add_test(tc, test_phys_read32_cost);
    suite_add_tcase(s, tc);
    return s;
}
