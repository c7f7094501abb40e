/* tests/fuzz/mkdict.c - the per-preset part of tests/fuzz/engine.dict.
 *
 * Boots every preset (as is, and with the 2G split) and prints, as
 * libFuzzer dictionary tokens in fuzz_engine's operand encoding (0xff then
 * four big-endian bytes), the addresses at its region boundaries: the
 * first and last page of modules, pkmap, lowmem, vmalloc, fixmap, the
 * vectors and the coherent-DMA window, and the first, last and one-past
 * pfns of RAM, lowmem and ZONE_DMA.  Each value once, in ascending order,
 * so the output only changes when a layout does.  `make fuzz-dict`
 * rewrites the generated block of engine.dict with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm_int.h"

#define MAX_VALUES 4096

static uint32_t vals[MAX_VALUES];
static size_t nvals;

static void add(uint32_t v)
{
    if (nvals < MAX_VALUES)
        vals[nvals++] = v;
}

/* [start, end): its first page, last page and the page past it. */
static void add_range(uint32_t start, uint32_t end)
{
    if (start == 0 && end == 0)
        return;
    add(start);
    add(end - MM_PAGE_SIZE);
    add(end);
}

static void add_pfns(mm_pfn_t first, mm_pfn_t end)
{
    add(first);
    add(end - 1);
    add(end);
}

static void add_layout(const struct mm_layout *l)
{
    add_range(l->modules_vaddr, l->modules_end);
    if (l->pkmap_base != 0)
        add_range(l->pkmap_base, l->pkmap_base + MM_LAST_PKMAP * MM_PAGE_SIZE);
    add_range(l->page_offset, l->high_memory);
    add_range(l->vmalloc_start, l->vmalloc_end);
    add_range(l->fixaddr_start, l->fixaddr_end);
    add_range(l->vectors_base, l->vectors_end);
    add_range(l->consistent_start, l->consistent_end);
    add_pfns(l->min_pfn, l->max_pfn);
    add_pfns(l->min_pfn, l->max_low_pfn);
    if (l->dma_end_pfn != l->min_pfn)
        add_pfns(l->min_pfn, l->dma_end_pfn);
}

static int by_value(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

int main(void)
{
    const struct mm_preset_info *p;
    char err[MM_MSG_MAX];
    size_t n, out = 0;

    p = mm_presets(&n);
    for (size_t i = 0; i < n; i++) {
        for (int split = 0; split < 2; split++) {
            struct mm_config cfg;
            struct mm_machine *m;

            mm_config_default(&cfg);
            if (mm_config_preset(&cfg, p[i].name, err) != MM_OK ||
                (split && mm_config_set(&cfg, "split", "2G", err) != MM_OK)) {
                fprintf(stderr, "mkdict: %s: %s\n", p[i].name, err);
                return 1;
            }
            if (mm_create(&cfg, &m, err) != MM_OK)
                continue;               /* a split this preset refuses */
            add_layout(&m->lay);
            mm_destroy(m);
        }
    }
    qsort(vals, nvals, sizeof(vals[0]), by_value);
    for (size_t i = 0; i < nvals; i++) {
        uint32_t v = vals[i];

        if (i > 0 && v == vals[i - 1])
            continue;
        printf("preset%zu=\"\\xff\\x%02x\\x%02x\\x%02x\\x%02x\"\n", ++out,
               v >> 24, v >> 16 & 0xff, v >> 8 & 0xff, v & 0xff);
    }
    return 0;
}
