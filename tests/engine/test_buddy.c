/* tests/engine/test_buddy.c - zones and the buddy page allocator.
 *
 * Machines here are built by hand: a zeroed struct mm_machine with only the
 * layout fields the allocator reads, then mm__buddy_init().  Expected pfns
 * follow from the kernel's rules, worked out in each test's comment.
 */
#include "check_engine.h"
#include "../common/ckloop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tb_layout {
    unsigned nr;
    struct mm_region reg[4];
    mm_pfn_t min, dma_end, max_low, max;
    bool highmem;                       /* CONFIG_HIGHMEM */
};

/* 8 MiB at 0x80000000, all lowmem, no DMA zone: two order-10 blocks. */
static const struct tb_layout tiny = {
    1, {{0x80000000, 0x80800000, false}}, 0x80000, 0x80000, 0x80800, 0x80800, false,
};

/* 16 MiB: DMA [0x80000, 0x80400), Normal [0x80400, 0x80c00),
 * HighMem [0x80c00, 0x81000). */
static const struct tb_layout zoned = {
    2, {{0x80000000, 0x80c00000, false}, {0x80c00000, 0x81000000, true}},
    0x80000, 0x80400, 0x80c00, 0x81000, true,
};

/* Two banks with a hole, the lowmem cut inside the second bank, a 2 MiB
 * DMA zone: DMA [0x80000, 0x80200), Normal [0x80200, 0x81500) with a hole
 * at [0x80600, 0x81000), HighMem [0x81500, 0x81a00). */
static const struct tb_layout holey = {
    3, {{0x80000000, 0x80600000, false}, {0x81000000, 0x81500000, false},
        {0x81500000, 0x81a00000, true}},
    0x80000, 0x80200, 0x81500, 0x81a00, true,
};

/* The kernel image (ragged end), the last lowmem page, half a highmem page. */
static const struct mm_range32 holey_resv[] = {
    {0x80004000, 0x80123456}, {0x814ff000, 0x81500000}, {0x81700800, 0x81701000},
};

/* 2 GiB at 0x80000000 under a 3G/1G split: 760 MiB of lowmem. */
static const struct tb_layout big = {
    2, {{0x80000000, 0xaf800000, false}, {0xaf800000, 0x100000000ull, true}},
    0x80000, 0x80000, 0xaf800, 0x100000, true,
};

/* swapper_pg_dir + the image, then early boot pages and mem_map below the
 * lowmem limit (16 MiB of struct page for 512Ki pages). */
static const struct mm_range32 big_resv[] = {
    {0x80004000, 0x80a3c000}, {0xae7f8000, 0xaf800000},
};

static struct mm_machine *tb_machine(const struct tb_layout *l,
                                     const struct mm_range32 *resv, size_t nresv)
{
    struct mm_machine *m = calloc(1, sizeof(*m));

    ck_assert_ptr_nonnull(m);
    m->lay.nr_regions = l->nr;
    for (unsigned i = 0; i < l->nr; i++)
        m->lay.regions[i] = l->reg[i];
    m->lay.min_pfn = l->min;
    m->lay.dma_end_pfn = l->dma_end;
    m->lay.max_low_pfn = l->max_low;
    m->lay.max_pfn = l->max;
    m->cfg.highmem = l->highmem;
    ck_assert_int_eq(mm__buddy_init(m, resv, nresv), MM_OK);
    ck_assert_ptr_nonnull(m->buddy);
    return m;
}

static void tb_destroy(struct mm_machine *m)
{
    mm__buddy_destroy(m->buddy);
    free(m);
}

static void tb_check(const struct mm_machine *m)
{
    char err[MM_MSG_MAX] = "";

    ck_assert_msg(mm__buddy_check(m, err) == MM_OK, "buddy check: %s", err);
}

static void tb_stats(const struct mm_machine *m, struct mm_stats *st)
{
    memset(st, 0, sizeof(*st));
    mm__buddy_stats(m, st);
}

/* The stats of the zone called @name. */
static const struct mm_zone_stats *tb_zone(const struct mm_stats *st, const char *name)
{
    for (unsigned i = 0; i < st->nr_zones; i++) {
        if (strcmp(st->zone[i].name, name) == 0)
            return &st->zone[i];
    }
    ck_abort_msg("no zone %s", name);
    return NULL;
}

static mm_pfn_t tb_alloc(struct mm_machine *m, enum mm_zone zone, unsigned order)
{
    char msg[MM_MSG_MAX] = "";
    mm_pfn_t pfn = 0;

    ck_assert_msg(mm__alloc_pages(m, zone, order, MM_OWN_USER, &pfn, "alloc", msg) ==
                  MM_OK, "alloc: %s", msg);
    ck_assert_str_eq(msg, "");
    return pfn;
}

static void tb_free(struct mm_machine *m, mm_pfn_t pfn, unsigned order)
{
    char msg[MM_MSG_MAX] = "";

    ck_assert_msg(mm__free_pages(m, pfn, order, MM_OWN_USER, "free", msg) == MM_OK,
                  "free: %s", msg);
}

/* Expects an alloc to fail with @st and @want, changing nothing. */
static void tb_alloc_fails(struct mm_machine *m, enum mm_zone zone, unsigned order,
                           enum mm_status st, const char *want)
{
    struct mm_stats before, after;
    char msg[MM_MSG_MAX] = "";
    mm_pfn_t pfn = 0x12345;

    tb_stats(m, &before);
    ck_assert_int_eq(mm__alloc_pages(m, zone, order, MM_OWN_USER, &pfn, "alloc", msg), st);
    ck_assert_str_eq(msg, want);
    ck_assert_uint_eq(pfn, 0x12345);
    tb_stats(m, &after);
    ck_assert(memcmp(&before, &after, sizeof(before)) == 0);
    tb_check(m);
}

/* Expects a free to fail with @st and @want, changing nothing. */
static void tb_free_fails(struct mm_machine *m, mm_pfn_t pfn, unsigned order,
                          enum mm_owner owner, enum mm_status st, const char *want)
{
    struct mm_stats before, after;
    struct mm_page_info pb, pa;
    char msg[MM_MSG_MAX] = "";

    tb_stats(m, &before);
    mm__page_info(m, pfn, &pb);
    ck_assert_int_eq(mm__free_pages(m, pfn, order, owner, "free", msg), st);
    ck_assert_str_eq(msg, want);
    tb_stats(m, &after);
    mm__page_info(m, pfn, &pa);
    ck_assert(memcmp(&before, &after, sizeof(before)) == 0);
    ck_assert(memcmp(&pb, &pa, sizeof(pb)) == 0);
    tb_check(m);
}

static void tb_expect_page(const struct mm_machine *m, mm_pfn_t pfn,
                           enum mm_page_state state, mm_pfn_t head, unsigned order)
{
    struct mm_page_info pi;

    mm__page_info(m, pfn, &pi);
    ck_assert_msg(pi.state == state && pi.head == head && pi.order == order,
                  "pfn 0x%x: state %d head 0x%x order %u, want %d 0x%x %u", pfn,
                  pi.state, pi.head, pi.order, state, head, order);
}

/* ------------------------------------------------------------------ */
/* Boot                                                                */
/* ------------------------------------------------------------------ */

START_TEST(test_init_frees_ram_as_top_order_blocks)
{
    struct mm_machine *m = tb_machine(&tiny, NULL, 0);
    struct mm_stats st;

    tb_stats(m, &st);
    ck_assert_uint_eq(st.nr_zones, 1);
    ck_assert_str_eq(st.zone[0].name, "Normal");
    ck_assert_uint_eq(st.zone[0].start_pfn, 0x80000);
    ck_assert_uint_eq(st.zone[0].end_pfn, 0x80800);
    ck_assert_uint_eq(st.zone[0].present, 2048);
    ck_assert_uint_eq(st.zone[0].managed, 2048);
    ck_assert_uint_eq(st.zone[0].free, 2048);
    for (unsigned o = 0; o < 10; o++)
        ck_assert_uint_eq(st.zone[0].nr_free[o], 0);
    ck_assert_uint_eq(st.zone[0].nr_free[10], 2);
    ck_assert_uint_eq(st.ram_pages, 2048);
    ck_assert_uint_eq(st.reserved_pages, 0);
    tb_expect_page(m, 0x807ff, MM_PAGE_FREE, 0x80400, 10);
    tb_check(m);
    tb_destroy(m);
}
END_TEST

/* Three zones, each named, in ascending order. */
START_TEST(test_init_builds_the_layouts_zones)
{
    struct mm_machine *m = tb_machine(&zoned, NULL, 0);
    struct mm_stats st;

    tb_stats(m, &st);
    ck_assert_uint_eq(st.nr_zones, 3);
    ck_assert_str_eq(st.zone[0].name, "DMA");
    ck_assert_str_eq(st.zone[1].name, "Normal");
    ck_assert_str_eq(st.zone[2].name, "HighMem");
    ck_assert_uint_eq(st.zone[0].start_pfn, 0x80000);
    ck_assert_uint_eq(st.zone[0].end_pfn, 0x80400);
    ck_assert_uint_eq(st.zone[1].start_pfn, 0x80400);
    ck_assert_uint_eq(st.zone[1].end_pfn, 0x80c00);
    ck_assert_uint_eq(st.zone[2].start_pfn, 0x80c00);
    ck_assert_uint_eq(st.zone[2].end_pfn, 0x81000);
    ck_assert_uint_eq(st.zone[0].nr_free[10], 1);
    ck_assert_uint_eq(st.zone[1].nr_free[10], 2);
    ck_assert_uint_eq(st.zone[2].nr_free[10], 1);
    tb_check(m);
    tb_destroy(m);
}
END_TEST

/* holey: DMA frees [0x80000, 0x80004) then [0x80124, 0x80200) as
 * 0x80124/2 0x80128/3 0x80130/4 0x80140/6 0x80180/7; the partly reserved
 * pages 0x80123 and 0x81700 are not freed. */
START_TEST(test_init_skips_reserved_pages_and_holes)
{
    struct mm_machine *m = tb_machine(&holey, holey_resv, 3);
    const struct mm_zone_stats *dma;
    struct mm_stats st;

    tb_stats(m, &st);
    ck_assert_uint_eq(st.nr_zones, 3);
    ck_assert_uint_eq(st.ram_pages, 0x600 + 0xa00);
    ck_assert_uint_eq(st.reserved_pages, 0x120 + 1 + 1);
    dma = tb_zone(&st, "DMA");
    ck_assert_uint_eq(dma->present, 0x200);
    ck_assert_uint_eq(dma->managed, 0x200 - 0x120);
    ck_assert_uint_eq(dma->free, 4 + 4 + 8 + 16 + 64 + 128);
    ck_assert_uint_eq(dma->nr_free[2], 2);
    ck_assert_uint_eq(dma->nr_free[3], 1);
    ck_assert_uint_eq(dma->nr_free[4], 1);
    ck_assert_uint_eq(dma->nr_free[5], 0);
    ck_assert_uint_eq(dma->nr_free[6], 1);
    ck_assert_uint_eq(dma->nr_free[7], 1);
    ck_assert_uint_eq(tb_zone(&st, "Normal")->present, 0x400 + 0x500);
    ck_assert_uint_eq(tb_zone(&st, "Normal")->managed, 0x400 + 0x500 - 1);
    ck_assert_uint_eq(tb_zone(&st, "HighMem")->present, 0x500);
    ck_assert_uint_eq(tb_zone(&st, "HighMem")->managed, 0x500 - 1);
    tb_expect_page(m, 0x80003, MM_PAGE_FREE, 0x80000, 2);
    tb_expect_page(m, 0x80004, MM_PAGE_RESERVED, 0, 0);
    tb_expect_page(m, 0x80123, MM_PAGE_RESERVED, 0, 0);
    tb_expect_page(m, 0x80124, MM_PAGE_FREE, 0x80124, 2);
    tb_expect_page(m, 0x801ff, MM_PAGE_FREE, 0x80180, 7);
    tb_expect_page(m, 0x80600, MM_PAGE_HOLE, 0, 0);
    tb_expect_page(m, 0x814ff, MM_PAGE_RESERVED, 0, 0);
    tb_expect_page(m, 0x816ff, MM_PAGE_FREE, 0x81600, 8);
    tb_expect_page(m, 0x81700, MM_PAGE_RESERVED, 0, 0);
    tb_expect_page(m, 0x81701, MM_PAGE_FREE, 0x81701, 0);
    tb_check(m);
    tb_destroy(m);
}
END_TEST

/* A DMA zone ending at 0x80100: its order-8 block 0x80000 and Normal's
 * 0x80100 are buddies by address but never merge. */
START_TEST(test_blocks_never_merge_across_a_zone_boundary)
{
    static const struct tb_layout l = {
        1, {{0x80000000, 0x80800000, false}}, 0x80000, 0x80100, 0x80800, 0x80800, false,
    };
    struct mm_machine *m = tb_machine(&l, NULL, 0);
    struct mm_stats st;

    tb_stats(m, &st);
    ck_assert_uint_eq(tb_zone(&st, "DMA")->nr_free[8], 1);
    ck_assert_uint_eq(tb_zone(&st, "Normal")->nr_free[8], 1);
    ck_assert_uint_eq(tb_zone(&st, "Normal")->nr_free[9], 1);
    ck_assert_uint_eq(tb_zone(&st, "Normal")->nr_free[10], 1);
    tb_expect_page(m, 0x800ff, MM_PAGE_FREE, 0x80000, 8);
    tb_expect_page(m, 0x80100, MM_PAGE_FREE, 0x80100, 8);
    /* Freeing a page back next to the boundary merges only within DMA. */
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_DMA, 0), 0x80000);
    tb_free(m, 0x80000, 0);
    tb_expect_page(m, 0x80000, MM_PAGE_FREE, 0x80000, 8);
    tb_check(m);
    tb_destroy(m);
}
END_TEST

START_TEST(test_pfn_valid_zone_and_highmem_at_the_boundaries)
{
    struct mm_machine *m = tb_machine(&holey, holey_resv, 3);

    ck_assert(!mm__pfn_valid(m, 0x7ffff));
    ck_assert(mm__pfn_valid(m, 0x80000));
    ck_assert(mm__pfn_valid(m, 0x805ff));
    ck_assert(!mm__pfn_valid(m, 0x80600));
    ck_assert(!mm__pfn_valid(m, 0x80fff));
    ck_assert(mm__pfn_valid(m, 0x81000));
    ck_assert(mm__pfn_valid(m, 0x819ff));
    ck_assert(!mm__pfn_valid(m, 0x81a00));
    ck_assert_int_eq(mm__pfn_zone(m, 0x801ff), MM_ZONE_DMA);
    ck_assert_int_eq(mm__pfn_zone(m, 0x80200), MM_ZONE_NORMAL);
    ck_assert_int_eq(mm__pfn_zone(m, 0x814ff), MM_ZONE_NORMAL);
    ck_assert_int_eq(mm__pfn_zone(m, 0x81500), MM_ZONE_HIGHMEM);
    ck_assert(!mm__pfn_highmem(m, 0x814ff));
    ck_assert(mm__pfn_highmem(m, 0x81500));
    tb_destroy(m);
}
END_TEST

/* Without a DMA zone, low pfns are Normal. */
START_TEST(test_pfn_zone_without_dma_is_normal)
{
    struct mm_machine *m = tb_machine(&tiny, NULL, 0);
    struct mm_page_info pi;

    ck_assert_int_eq(mm__pfn_zone(m, 0x80000), MM_ZONE_NORMAL);
    ck_assert_int_eq(mm__pfn_zone(m, 0x807ff), MM_ZONE_NORMAL);
    mm__page_info(m, 0x88e00, &pi);
    ck_assert_int_eq(pi.state, MM_PAGE_HOLE);
    ck_assert_int_eq(pi.zone, MM_ZONE_HIGHMEM);
    tb_destroy(m);
}
END_TEST

/* 3.4 ARM does not cut free runs into maximal blocks: bootmem frees whole
 * free 32-page words at order 5 and every other page singly, and
 * free_highpages() frees highmem page by page (order-0 frees reach the
 * buddy at once while zones still use boot_pageset).  Freed in ascending
 * order with full merging, both give the same blocks on the same lists:
 * take every page, free them one by one upwards, and the allocator hands
 * out exactly what a fresh one does.
 * KERNEL: 3.4 mm/bootmem.c free_all_bootmem_core(), arch/arm/mm/init.c
 * free_highpages(). */
START_TEST(test_boot_state_equals_page_by_page_ascending_frees)
{
    static const struct tb_layout odd = {
        2, {{0x80000000, 0x80523000, false}, {0x80600000, 0x80a37000, true}},
        0x80000, 0x80123, 0x80777, 0x80a37, true,
    };
    static const struct mm_range32 odd_resv[] = {
        {0x80004000, 0x80019000}, {0x80300800, 0x80301000}, {0x80776000, 0x80779000},
    };
    const struct tb_layout *lay[2] = {&holey, &odd};
    const struct mm_range32 *resv[2] = {holey_resv, odd_resv};
    mm_pfn_t *pfns = malloc(0x1000 * sizeof(*pfns));

    ck_assert_ptr_nonnull(pfns);
    for (unsigned t = 0; t < 2; t++) {
        struct mm_machine *a = tb_machine(lay[t], resv[t], 3);
        struct mm_machine *b = tb_machine(lay[t], resv[t], 3);
        struct mm_stats sa, sb;
        char msg[MM_MSG_MAX];
        unsigned n = 0;
        mm_pfn_t p;

        while (mm__alloc_pages(b, MM_ZONE_HIGHMEM, 0, MM_OWN_USER, &p, "alloc", msg) ==
               MM_OK) {
            ck_assert_uint_lt(n, 0x1000);
            pfns[n++] = p;
        }
        for (mm_pfn_t pfn = 0x80000; pfn < 0x81a00; pfn++) {
            for (unsigned i = 0; i < n; i++) {
                if (pfns[i] == pfn)
                    tb_free(b, pfn, 0);
            }
        }
        tb_stats(a, &sa);
        tb_stats(b, &sb);
        ck_assert(memcmp(&sa, &sb, sizeof(sa)) == 0);
        for (unsigned i = 0; i < 400; i++) {
            enum mm_zone z = (enum mm_zone)(i % 3);
            mm_pfn_t pa = 0, pb = 0;

            ck_assert_int_eq(mm__alloc_pages(a, z, (i * 7) % 5, MM_OWN_USER, &pa, "alloc",
                                             msg),
                             mm__alloc_pages(b, z, (i * 7) % 5, MM_OWN_USER, &pb, "alloc",
                                             msg));
            ck_assert_uint_eq(pa, pb);
        }
        tb_check(b);
        tb_destroy(a);
        tb_destroy(b);
    }
    free(pfns);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Split and merge                                                     */
/* ------------------------------------------------------------------ */

/* The last block freed at boot (0x80400) heads the order-10 list; expand()
 * leaves 0x80600/9, 0x80500/8, ..., 0x80401/0 and returns 0x80400. */
START_TEST(test_alloc_splits_the_list_head)
{
    struct mm_machine *m = tb_machine(&tiny, NULL, 0);
    struct mm_page_info pi;
    struct mm_stats st;

    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 0), 0x80400);
    tb_stats(m, &st);
    for (unsigned o = 0; o <= 10; o++)
        ck_assert_uint_eq(st.zone[0].nr_free[o], 1);
    ck_assert_uint_eq(st.zone[0].free, 2047);
    mm__page_info(m, 0x80400, &pi);
    ck_assert_int_eq(pi.state, MM_PAGE_USED);
    ck_assert_uint_eq(pi.head, 0x80400);
    ck_assert_uint_eq(pi.order, 0);
    ck_assert_int_eq(pi.owner, MM_OWN_USER);
    ck_assert_int_eq(pi.zone, MM_ZONE_NORMAL);
    tb_expect_page(m, 0x80401, MM_PAGE_FREE, 0x80401, 0);
    tb_expect_page(m, 0x80403, MM_PAGE_FREE, 0x80402, 1);
    tb_expect_page(m, 0x80480, MM_PAGE_FREE, 0x80480, 7);
    tb_expect_page(m, 0x807ff, MM_PAGE_FREE, 0x80600, 9);
    tb_expect_page(m, 0x80000, MM_PAGE_FREE, 0x80000, 10);
    tb_check(m);
    tb_destroy(m);
}
END_TEST

/* Order-0 allocations walk each top block upwards page by page, the
 * higher block first, then the zone is out of memory. */
START_TEST(test_alloc_order0_sequence_until_exhausted)
{
    struct mm_machine *m = tb_machine(&tiny, NULL, 0);

    for (mm_pfn_t want = 0x80400; want < 0x80800; want++)
        ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 0), want);
    for (mm_pfn_t want = 0x80000; want < 0x80400; want++)
        ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 0), want);
    tb_check(m);
    tb_alloc_fails(m, MM_ZONE_NORMAL, 0, MM_NO_MEMORY,
                   "alloc: no free block of order 0 in zone Normal");
    tb_destroy(m);
}
END_TEST

START_TEST(test_free_merges_back_to_the_boot_state)
{
    struct mm_machine *m = tb_machine(&tiny, NULL, 0);
    struct mm_stats fresh, st;

    tb_stats(m, &fresh);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 0), 0x80400);
    tb_free(m, 0x80400, 0);
    tb_stats(m, &st);
    ck_assert(memcmp(&fresh, &st, sizeof(st)) == 0);
    /* The merged block went back to the head of the order-10 list. */
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 10), 0x80400);
    tb_check(m);
    tb_destroy(m);
}
END_TEST

/* A = 0x80400, B = 0x80401.  Freeing A cannot merge (B is held): A stays
 * an order-0 block.  Freeing B then merges B+A, +0x80402/1, +0x80404/2, ...
 * up to order 10. */
START_TEST(test_free_merges_step_by_step)
{
    struct mm_machine *m = tb_machine(&tiny, NULL, 0);
    struct mm_stats fresh, st;

    tb_stats(m, &fresh);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 0), 0x80400);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 0), 0x80401);
    tb_free(m, 0x80400, 0);
    tb_expect_page(m, 0x80400, MM_PAGE_FREE, 0x80400, 0);
    tb_stats(m, &st);
    ck_assert_uint_eq(st.zone[0].nr_free[0], 1);
    ck_assert_uint_eq(st.zone[0].nr_free[10], 1);
    tb_check(m);
    tb_free(m, 0x80401, 0);
    tb_expect_page(m, 0x80401, MM_PAGE_FREE, 0x80400, 10);
    tb_stats(m, &st);
    ck_assert(memcmp(&fresh, &st, sizeof(st)) == 0);
    tb_check(m);
    tb_destroy(m);
}
END_TEST

/* P=0x80400/2, Q=0x80404/2, R=0x80408/3, S=0x80410/2 (splitting
 * 0x80410/4 leaves 0x80414/2 and 0x80418/3 free).  Free R: its higher buddy
 * 0x80410/4 is held, so R goes to the head.  Free P: its buddy Q is held,
 * but the buddy one order up, 0x80408/3, is free: P goes to the tail,
 * behind 0x80414.  KERNEL: 3.4 mm/page_alloc.c __free_one_page(). */
START_TEST(test_free_goes_to_the_tail_when_the_higher_buddy_is_free)
{
    struct mm_machine *m = tb_machine(&tiny, NULL, 0);

    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80400);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80404);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 3), 0x80408);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80410);
    tb_free(m, 0x80408, 3);
    tb_free(m, 0x80400, 2);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80414);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80400);
    tb_check(m);
    tb_destroy(m);
}
END_TEST

/* As above, but the freed block is the upper half Q=0x80404: the higher
 * buddy is taken from the combined block 0x80400, so 0x80408/3 is found
 * free and Q goes to the tail (3.4.39; 3.4.0 missed it for upper halves). */
START_TEST(test_free_of_an_upper_half_goes_to_the_tail_too)
{
    struct mm_machine *m = tb_machine(&tiny, NULL, 0);

    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80400);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80404);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 3), 0x80408);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80410);
    tb_free(m, 0x80408, 3);
    tb_free(m, 0x80404, 2);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80414);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80404);
    tb_check(m);
    tb_destroy(m);
}
END_TEST

/* Without a free higher buddy a freed block goes to the head (list_add):
 * last freed, first reused. */
START_TEST(test_free_goes_to_the_head_otherwise)
{
    struct mm_machine *m = tb_machine(&tiny, NULL, 0);

    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80400);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80404);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 3), 0x80408);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80410);
    tb_free(m, 0x80400, 2);             /* higher buddy 0x80408/3 is held */
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80400);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80414);
    tb_check(m);
    tb_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Zones and fallback                                                  */
/* ------------------------------------------------------------------ */

START_TEST(test_highmem_falls_back_to_normal_then_dma)
{
    struct mm_machine *m = tb_machine(&zoned, NULL, 0);

    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_HIGHMEM, 10), 0x80c00);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_HIGHMEM, 10), 0x80800);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_HIGHMEM, 10), 0x80400);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_HIGHMEM, 10), 0x80000);
    tb_alloc_fails(m, MM_ZONE_HIGHMEM, 10, MM_NO_MEMORY,
                   "alloc: no free block of order 10 in zone HighMem or below");
    tb_destroy(m);
}
END_TEST

START_TEST(test_lowmem_never_takes_highmem)
{
    struct mm_machine *m = tb_machine(&zoned, NULL, 0);
    struct mm_stats st;

    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 10), 0x80800);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 10), 0x80400);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 10), 0x80000);
    tb_alloc_fails(m, MM_ZONE_NORMAL, 0, MM_NO_MEMORY,
                   "alloc: no free block of order 0 in zone Normal or below");
    tb_stats(m, &st);
    ck_assert_uint_eq(tb_zone(&st, "HighMem")->free, 1024);
    tb_destroy(m);
}
END_TEST

START_TEST(test_dma_takes_only_dma)
{
    struct mm_machine *m = tb_machine(&zoned, NULL, 0);

    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_DMA, 10), 0x80000);
    tb_alloc_fails(m, MM_ZONE_DMA, 0, MM_NO_MEMORY,
                   "alloc: no free block of order 0 in zone DMA");
    tb_destroy(m);
}
END_TEST

/* The preferred zone's smallest block wins over a fallback zone's. */
START_TEST(test_preferred_zone_is_split_before_falling_back)
{
    struct mm_machine *m = tb_machine(&zoned, NULL, 0);

    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_HIGHMEM, 0), 0x80c00);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 0), 0x80800);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_HIGHMEM, 9), 0x80e00);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_HIGHMEM, 9), 0x80a00);
    tb_check(m);
    tb_destroy(m);
}
END_TEST

/* CONFIG_HIGHMEM with all RAM in lowmem: HighMem is empty, not missing. */
START_TEST(test_empty_highmem_zone_falls_back)
{
    struct tb_layout l = tiny;
    struct mm_machine *m;
    struct mm_stats st;

    l.highmem = true;
    m = tb_machine(&l, NULL, 0);
    tb_stats(m, &st);
    ck_assert_uint_eq(st.nr_zones, 1);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_HIGHMEM, 0), 0x80400);
    tb_check(m);
    tb_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

START_TEST(test_alloc_order_11_is_out_of_range)
{
    struct mm_machine *m = tb_machine(&zoned, NULL, 0);

    tb_alloc_fails(m, MM_ZONE_NORMAL, 11, MM_INVALID_ARGUMENT,
                   "alloc: order 11 is out of range (0-10)");
    tb_destroy(m);
}
END_TEST

START_TEST(test_alloc_order_10_is_in_range)
{
    struct mm_machine *m = tb_machine(&zoned, NULL, 0);

    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 10), 0x80800);
    tb_destroy(m);
}
END_TEST

START_TEST(test_alloc_from_a_zone_the_machine_lacks)
{
    struct mm_machine *m = tb_machine(&tiny, NULL, 0);

    tb_alloc_fails(m, MM_ZONE_DMA, 0, MM_INVALID_ARGUMENT,
                   "alloc: zone DMA does not exist on this machine");
    tb_alloc_fails(m, MM_ZONE_HIGHMEM, 0, MM_INVALID_ARGUMENT,
                   "alloc: zone HighMem does not exist on this machine");
    tb_alloc_fails(m, (enum mm_zone)7, 0, MM_INVALID_ARGUMENT,
                   "alloc: zone 7 does not exist (0 DMA, 1 Normal, 2 HighMem)");
    tb_destroy(m);
}
END_TEST

START_TEST(test_free_of_a_pfn_that_is_not_ram)
{
    struct mm_machine *m = tb_machine(&holey, holey_resv, 3);

    tb_free_fails(m, 0x88e00, 0, MM_OWN_USER, MM_INVALID_ARGUMENT,
                  "free: pfn 0x88e00 is not RAM");
    tb_free_fails(m, 0x80600, 0, MM_OWN_USER, MM_INVALID_ARGUMENT,
                  "free: pfn 0x80600 is not RAM");
    tb_destroy(m);
}
END_TEST

START_TEST(test_double_free_is_not_found)
{
    struct mm_machine *m = tb_machine(&tiny, NULL, 0);

    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 0), 0x80400);
    tb_free(m, 0x80400, 0);
    tb_free_fails(m, 0x80400, 0, MM_OWN_USER, MM_NOT_FOUND,
                  "free: pfn 0x80400 is already free");
    tb_free_fails(m, 0x80000, 10, MM_OWN_USER, MM_NOT_FOUND,
                  "free: pfn 0x80000 is already free");
    /* Inside a free block, not its head: no allocated block holds it (a
     * free asks those first), and the free blocks' probe still finds it. */
    tb_free_fails(m, 0x80401, 0, MM_OWN_USER, MM_NOT_FOUND,
                  "free: pfn 0x80401 is already free");
    tb_free_fails(m, 0x807ff, 3, MM_OWN_USER, MM_NOT_FOUND,
                  "free: pfn 0x807ff is already free");
    tb_destroy(m);
}
END_TEST

START_TEST(test_free_of_a_reserved_page)
{
    struct mm_machine *m = tb_machine(&holey, holey_resv, 3);

    tb_free_fails(m, 0x80004, 0, MM_OWN_USER, MM_INVALID_ARGUMENT,
                  "free: pfn 0x80004 is reserved");
    tb_free_fails(m, 0x81700, 0, MM_OWN_USER, MM_INVALID_ARGUMENT,
                  "free: pfn 0x81700 is reserved");
    tb_destroy(m);
}
END_TEST

START_TEST(test_free_inside_a_block_names_its_head)
{
    struct mm_machine *m = tb_machine(&tiny, NULL, 0);

    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80400);
    tb_free_fails(m, 0x80403, 0, MM_OWN_USER, MM_INVALID_ARGUMENT,
                  "free: pfn 0x80403 is not the head of its block "
                  "(the order-2 block at pfn 0x80400)");
    tb_destroy(m);
}
END_TEST

START_TEST(test_free_with_the_wrong_order_names_the_right_one)
{
    struct mm_machine *m = tb_machine(&tiny, NULL, 0);

    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_NORMAL, 2), 0x80400);
    tb_free_fails(m, 0x80400, 1, MM_OWN_USER, MM_INVALID_ARGUMENT,
                  "free: pfn 0x80400 heads an order-2 block, not order 1");
    tb_free_fails(m, 0x80400, 3, MM_OWN_USER, MM_INVALID_ARGUMENT,
                  "free: pfn 0x80400 heads an order-2 block, not order 3");
    tb_free_fails(m, 0x80400, 11, MM_OWN_USER, MM_INVALID_ARGUMENT,
                  "free: order 11 is out of range (0-10)");
    tb_free(m, 0x80400, 2);
    tb_destroy(m);
}
END_TEST

START_TEST(test_free_of_another_owners_block_names_the_owner)
{
    struct mm_machine *m = tb_machine(&tiny, NULL, 0);
    char msg[MM_MSG_MAX];
    mm_pfn_t pt, vm;

    ck_assert_int_eq(mm__alloc_pages(m, MM_ZONE_NORMAL, 0, MM_OWN_PGTABLE, &pt, "pte",
                                     msg), MM_OK);
    ck_assert_int_eq(mm__alloc_pages(m, MM_ZONE_NORMAL, 0, MM_OWN_VMALLOC, &vm, "vmalloc",
                                     msg), MM_OK);
    ck_assert_uint_eq(pt, 0x80400);
    ck_assert_uint_eq(vm, 0x80401);
    tb_free_fails(m, 0x80400, 0, MM_OWN_USER, MM_INVALID_ARGUMENT,
                  "free: pfn 0x80400 is held by a page table, not by alloc");
    tb_free_fails(m, 0x80401, 0, MM_OWN_USER, MM_INVALID_ARGUMENT,
                  "free: pfn 0x80401 is held by vmalloc, not by alloc");
    tb_free_fails(m, 0x80400, 0, MM_OWN_VMALLOC, MM_INVALID_ARGUMENT,
                  "free: pfn 0x80400 is held by a page table, not by vmalloc");
    ck_assert_int_eq(mm__free_pages(m, 0x80401, 0, MM_OWN_VMALLOC, "vfree", msg), MM_OK);
    ck_assert_int_eq(mm__free_pages(m, 0x80400, 0, MM_OWN_PGTABLE, "pte_free", msg), MM_OK);
    tb_check(m);
    tb_destroy(m);
}
END_TEST

/* Messages start with the caller's operation name. */
START_TEST(test_messages_name_the_callers_operation)
{
    struct mm_machine *m = tb_machine(&tiny, NULL, 0);
    char msg[MM_MSG_MAX];
    mm_pfn_t pfn;

    ck_assert_int_eq(mm__alloc_pages(m, MM_ZONE_DMA, 0, MM_OWN_VMALLOC, &pfn, "vmalloc",
                                     msg), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(msg, "vmalloc: zone DMA does not exist on this machine");
    ck_assert_int_eq(mm__free_pages(m, 0x80000, 0, MM_OWN_VMALLOC, "vfree", msg),
                     MM_NOT_FOUND);
    ck_assert_str_eq(msg, "vfree: pfn 0x80000 is already free");
    tb_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Walks, clones, checks, memory                                       */
/* ------------------------------------------------------------------ */

struct used_list {
    unsigned n;
    mm_pfn_t pfn[8];
    unsigned order[8];
    enum mm_owner owner[8];
};

static void record_used(void *arg, mm_pfn_t pfn, unsigned order, enum mm_owner owner)
{
    struct used_list *u = arg;

    ck_assert_uint_lt(u->n, 8);
    u->pfn[u->n] = pfn;
    u->order[u->n] = order;
    u->owner[u->n] = owner;
    u->n++;
}

START_TEST(test_foreach_used_walks_blocks_ascending)
{
    struct mm_machine *m = tb_machine(&zoned, NULL, 0);
    struct used_list u = {0};
    char msg[MM_MSG_MAX];
    mm_pfn_t pfn;

    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_HIGHMEM, 3), 0x80c00);
    ck_assert_uint_eq(tb_alloc(m, MM_ZONE_DMA, 0), 0x80000);
    ck_assert_int_eq(mm__alloc_pages(m, MM_ZONE_NORMAL, 0, MM_OWN_PGTABLE, &pfn, "pte",
                                     msg), MM_OK);
    ck_assert_uint_eq(pfn, 0x80800);
    mm__buddy_foreach_used(m, record_used, &u);
    ck_assert_uint_eq(u.n, 3);
    ck_assert_uint_eq(u.pfn[0], 0x80000);
    ck_assert_uint_eq(u.order[0], 0);
    ck_assert_int_eq(u.owner[0], MM_OWN_USER);
    ck_assert_uint_eq(u.pfn[1], 0x80800);
    ck_assert_int_eq(u.owner[1], MM_OWN_PGTABLE);
    ck_assert_uint_eq(u.pfn[2], 0x80c00);
    ck_assert_uint_eq(u.order[2], 3);
    tb_destroy(m);
}
END_TEST

/* Heads as mm__buddy_foreach_used() gives them, for the sparse walk. */
struct head_list {
    unsigned n;
    mm_pfn_t pfn[6000];
};

static void record_head(void *arg, mm_pfn_t pfn, unsigned order, enum mm_owner owner)
{
    struct head_list *h = arg;

    (void)order;
    (void)owner;
    ck_assert_uint_lt(h->n, 6000);
    h->pfn[h->n++] = pfn;
}

/* The used-block walk skips clear runs a word at a time: every head is
 * still found, in ascending order, whatever its offset in the word and
 * across the map's chunk boundaries (4096 pfns), as a page-by-page
 * mm__page_info() scan of the whole machine finds them. */
START_TEST(test_foreach_used_finds_sparse_heads)
{
    struct mm_machine *m = tb_machine(&big, big_resv, 2);
    struct head_list *walk = calloc(1, sizeof(*walk));
    struct head_list *scan = calloc(1, sizeof(*scan));
    mm_pfn_t *got = calloc(5000, sizeof(*got));

    ck_assert_ptr_nonnull(walk);
    ck_assert_ptr_nonnull(scan);
    ck_assert_ptr_nonnull(got);
    for (unsigned i = 0; i < 5000; i++)
        got[i] = tb_alloc(m, MM_ZONE_NORMAL, 0);
    for (unsigned i = 0; i < 5000; i++) {
        if ((i * 7 + i / 9) % 11 != 0)  /* keep about 1 in 11, at any offset */
            tb_free(m, got[i], 0);
    }
    mm__buddy_foreach_used(m, record_head, walk);
    for (mm_pfn_t p = big.min; p < big.max; p++) {
        struct mm_page_info pi;

        mm__page_info(m, p, &pi);
        if (pi.state == MM_PAGE_USED && pi.head == p) {
            ck_assert_uint_lt(scan->n, 6000);
            scan->pfn[scan->n++] = p;
        }
    }
    ck_assert_uint_gt(scan->n, 450);
    ck_assert_uint_eq(walk->n, scan->n);
    for (unsigned i = 0; i < scan->n; i++)
        ck_loop_assert_uint_eq(walk->pfn[i], scan->pfn[i]);
    ck_assert_uint_ne(got[0] / 4096, got[4999] / 4096);    /* across chunks */
    tb_check(m);
    free(walk);
    free(scan);
    free(got);
    tb_destroy(m);
}
END_TEST

START_TEST(test_clone_is_independent_and_behaves_the_same)
{
    struct mm_machine *m = tb_machine(&holey, holey_resv, 3);
    struct mm_machine *c = malloc(sizeof(*c));
    struct mm_stats sm, sc;
    struct mm_page_info pi;
    mm_pfn_t last = 0;

    ck_assert_ptr_nonnull(c);
    (void)tb_alloc(m, MM_ZONE_NORMAL, 1);
    *c = *m;
    c->buddy = mm__buddy_clone(m->buddy);
    ck_assert_ptr_nonnull(c->buddy);
    ck_assert_uint_eq(mm__buddy_host_bytes(c->buddy), mm__buddy_host_bytes(m->buddy));
    for (unsigned i = 0; i < 50; i++) {
        last = tb_alloc(m, (enum mm_zone)(i % 3), i % 4);
        ck_assert_uint_eq(tb_alloc(c, (enum mm_zone)(i % 3), i % 4), last);
    }
    tb_free(c, last, 49 % 4);
    tb_expect_page(m, last, MM_PAGE_USED, last, 49 % 4);
    mm__page_info(c, last, &pi);
    ck_assert_int_eq(pi.state, MM_PAGE_FREE);
    tb_stats(m, &sm);
    tb_stats(c, &sc);
    ck_assert_uint_eq(tb_zone(&sc, "Normal")->free, tb_zone(&sm, "Normal")->free + 2);
    tb_check(m);
    tb_check(c);
    tb_destroy(m);
    tb_destroy(c);
}
END_TEST

/* The check reports a buddy that disagrees with the layout. */
START_TEST(test_check_reports_a_layout_mismatch)
{
    struct mm_machine *m = tb_machine(&tiny, NULL, 0);
    char err[MM_MSG_MAX] = "";

    m->lay.regions[0].end = 0x807ff000;
    ck_assert_int_eq(mm__buddy_check(m, err), MM_INTERNAL);
    ck_assert_str_eq(err, "buddy: free order-10 block at pfn 0x80400 is not all RAM");
    m->lay.regions[0].end = 0x80800000;
    m->lay.max_pfn = 0x80900;
    ck_assert_int_eq(mm__buddy_check(m, err), MM_INTERNAL);
    ck_assert_str_eq(err, "buddy: zone HighMem does not span the layout's [0x80800, 0x80900)");
    tb_destroy(m);
}
END_TEST

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

struct held {
    mm_pfn_t pfn;
    unsigned order;
    enum mm_owner owner;
};

/* Random allocs, frees and bad frees on the holey machine, checking the
 * whole allocator after each; at the end everything is freed and the
 * allocator is back to its boot state. */
START_TEST(test_random_alloc_free_keeps_the_allocator_consistent)
{
    enum { OPS = 6000, MAXHELD = 4096 };
    struct mm_machine *m = tb_machine(&holey, holey_resv, 3);
    struct held *h = malloc(MAXHELD * sizeof(*h));
    struct mm_stats fresh, st;
    uint32_t seed = 0x9e3779b9;
    unsigned n = 0, allocs = 0, nomem = 0;
    char msg[MM_MSG_MAX];

    ck_assert_ptr_nonnull(h);
    tb_stats(m, &fresh);
    for (unsigned step = 0; step < OPS; step++) {
        uint32_t r = xorshift32(&seed);
        unsigned kind = r % 20;

        if (kind < 11 && n < MAXHELD) {
            enum mm_zone zone = (enum mm_zone)((r >> 8) % 3);
            unsigned order = (r >> 12) % 16 < 12 ? (r >> 16) % 3 : (r >> 16) % 11;
            enum mm_owner owner = (enum mm_owner)(1 + (r >> 24) % 3);
            mm_pfn_t pfn;
            enum mm_status rc = mm__alloc_pages(m, zone, order, owner, &pfn, "alloc", msg);
            struct mm_page_info pi;

            if (rc == MM_NO_MEMORY) {
                nomem++;
            } else {
                ck_assert_msg(rc == MM_OK, "step %u: %s", step, msg);
                mm__page_info(m, pfn, &pi);
                ck_assert_int_eq(pi.state, MM_PAGE_USED);
                ck_assert_uint_eq(pi.head, pfn);
                ck_assert_uint_eq(pi.order, order);
                ck_assert_int_le(pi.zone, zone);
                h[n++] = (struct held){pfn, order, owner};
                allocs++;
            }
        } else if (kind < 19 && n > 0) {
            unsigned i = (r >> 8) % n;

            ck_assert_int_eq(mm__free_pages(m, h[i].pfn, h[i].order, h[i].owner, "free",
                                            msg), MM_OK);
            h[i] = h[--n];
        } else {
            mm_pfn_t pfn = 0x7ff00 + (r >> 8) % 0x1c00;
            unsigned order = (r >> 24) % 12;
            struct mm_stats before, after;
            bool held = false;

            for (unsigned i = 0; i < n; i++)
                held |= h[i].pfn == pfn && h[i].order == order && h[i].owner == MM_OWN_USER;
            if (held)
                continue;
            tb_stats(m, &before);
            ck_assert_int_ne(mm__free_pages(m, pfn, order, MM_OWN_USER, "free", msg), MM_OK);
            ck_assert(strncmp(msg, "free: ", 6) == 0);
            tb_stats(m, &after);
            ck_assert(memcmp(&before, &after, sizeof(before)) == 0);
        }
        tb_check(m);
    }
    ck_assert_uint_gt(allocs, 1000);
    ck_assert_uint_gt(nomem, 0);
    while (n > 0) {
        n--;
        ck_assert_int_eq(mm__free_pages(m, h[n].pfn, h[n].order, h[n].owner, "free", msg),
                         MM_OK);
    }
    tb_check(m);
    tb_stats(m, &st);
    ck_assert(memcmp(&fresh, &st, sizeof(st)) == 0);
    free(h);
    tb_destroy(m);
}
END_TEST

/* The memory target: a 2 GiB machine's allocator, nothing allocated. */
START_TEST(test_host_bytes_of_a_2gib_machine)
{
    struct mm_machine *m = tb_machine(&big, big_resv, 2);
    struct mm_stats st;
    size_t bytes = mm__buddy_host_bytes(m->buddy);

    tb_stats(m, &st);
    ck_assert_uint_eq(st.ram_pages, 0x80000);
    ck_assert_uint_eq(st.nr_zones, 2);
    ck_assert_uint_eq(tb_zone(&st, "Normal")->present, 0x2f800);
    ck_assert_uint_eq(tb_zone(&st, "HighMem")->present, 0x50800);
    ck_assert_uint_eq(tb_zone(&st, "HighMem")->nr_free[10], 0x50800 / 1024);
    printf("buddy: %zu host bytes for a 2 GiB machine with nothing allocated\n", bytes);
    ck_assert_uint_lt(bytes, 64 * 1024);
    ck_assert_uint_eq(mm__buddy_host_bytes(NULL), 0);
    tb_check(m);
    tb_destroy(m);
}
END_TEST

Suite *buddy_suite(void)
{
    Suite *s = suite_create("buddy");
    TCase *boot = tcase_create("boot");
    TCase *split = tcase_create("split_merge");
    TCase *zones = tcase_create("zones");
    TCase *errors = tcase_create("errors");
    TCase *misc = tcase_create("misc");

    tcase_add_test(boot, test_init_frees_ram_as_top_order_blocks);
    tcase_add_test(boot, test_init_builds_the_layouts_zones);
    tcase_add_test(boot, test_init_skips_reserved_pages_and_holes);
    tcase_add_test(boot, test_blocks_never_merge_across_a_zone_boundary);
    tcase_add_test(boot, test_pfn_valid_zone_and_highmem_at_the_boundaries);
    tcase_add_test(boot, test_pfn_zone_without_dma_is_normal);
    tcase_add_test(boot, test_boot_state_equals_page_by_page_ascending_frees);
    suite_add_tcase(s, boot);

    tcase_add_test(split, test_alloc_splits_the_list_head);
    tcase_add_test(split, test_alloc_order0_sequence_until_exhausted);
    tcase_add_test(split, test_free_merges_back_to_the_boot_state);
    tcase_add_test(split, test_free_merges_step_by_step);
    tcase_add_test(split, test_free_goes_to_the_tail_when_the_higher_buddy_is_free);
    tcase_add_test(split, test_free_of_an_upper_half_goes_to_the_tail_too);
    tcase_add_test(split, test_free_goes_to_the_head_otherwise);
    suite_add_tcase(s, split);

    tcase_add_test(zones, test_highmem_falls_back_to_normal_then_dma);
    tcase_add_test(zones, test_lowmem_never_takes_highmem);
    tcase_add_test(zones, test_dma_takes_only_dma);
    tcase_add_test(zones, test_preferred_zone_is_split_before_falling_back);
    tcase_add_test(zones, test_empty_highmem_zone_falls_back);
    suite_add_tcase(s, zones);

    tcase_add_test(errors, test_alloc_order_11_is_out_of_range);
    tcase_add_test(errors, test_alloc_order_10_is_in_range);
    tcase_add_test(errors, test_alloc_from_a_zone_the_machine_lacks);
    tcase_add_test(errors, test_free_of_a_pfn_that_is_not_ram);
    tcase_add_test(errors, test_double_free_is_not_found);
    tcase_add_test(errors, test_free_of_a_reserved_page);
    tcase_add_test(errors, test_free_inside_a_block_names_its_head);
    tcase_add_test(errors, test_free_with_the_wrong_order_names_the_right_one);
    tcase_add_test(errors, test_free_of_another_owners_block_names_the_owner);
    tcase_add_test(errors, test_messages_name_the_callers_operation);
    suite_add_tcase(s, errors);

    tcase_set_timeout(misc, 120);
    tcase_add_test(misc, test_foreach_used_walks_blocks_ascending);
    tcase_add_test(misc, test_foreach_used_finds_sparse_heads);
    tcase_add_test(misc, test_clone_is_independent_and_behaves_the_same);
    tcase_add_test(misc, test_check_reports_a_layout_mismatch);
    tcase_add_test(misc, test_random_alloc_free_keeps_the_allocator_consistent);
    tcase_add_test(misc, test_host_bytes_of_a_2gib_machine);
    suite_add_tcase(s, misc);
    return s;
}
