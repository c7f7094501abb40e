/* engine/meminfo61.c - /proc/meminfo of a 6.1 machine.
 *
 * Emulates: 6.1 fs/proc/meminfo.c meminfo_proc_show(), every line in its
 * order for the machine's build (HighTotal... with CONFIG_HIGHMEM, Zswap
 * with CONFIG_ZSWAP, CmaTotal/CmaFree with CONFIG_CMA), and mm/util.c
 * vm_commit_limit().
 *
 * The engine's machine runs no task and opens no file: it has no page
 * cache, anonymous or mapped pages, slab, swap, user page tables, dirty
 * or writeback pages and commits nothing, so those lines print 0, as the
 * counters would on a kernel with nothing running.  Two lines are left
 * out because they count what the engine does not model: MemAvailable
 * (si_mem_available() needs the running page cache and slab) and Percpu
 * (the per-CPU chunks).
 */
#include "mm_int.h"

#include <string.h>

/* KERNEL: 6.1 fs/proc/meminfo.c show_val_kb(): a 16-wide name, "%8lu kB". */
static void line(struct mm_buf *b, const char *name, uint64_t kb)
{
    mm__buf_printf(b, "%-16s%8llu kB\n", name, (unsigned long long)kb);
}

/* Lines of counters the engine never has: always 0 here. */
static void zeros(struct mm_buf *b, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        line(b, names[i], 0);
}

enum mm_status mm__report_meminfo_61(const struct mm_machine *m, struct mm_buf *out)
{
    static const char *const lru[] = {
        "Buffers:", "Cached:", "SwapCached:", "Active:", "Inactive:", "Active(anon):",
        "Inactive(anon):", "Active(file):", "Inactive(file):", "Unevictable:", "Mlocked:",
    };
    static const char *const mapped[] = {
        "Dirty:", "Writeback:", "AnonPages:", "Mapped:", "Shmem:", "KReclaimable:",
        "Slab:", "SReclaimable:", "SUnreclaim:", "KernelStack:", "PageTables:",
        "SecPageTables:", "NFS_Unstable:", "Bounce:", "WritebackTmp:",
    };
    struct mm_stats st;
    uint64_t total = 0, free = 0, htotal = 0, hfree = 0;

    mm_get_stats(m, &st);               /* the CMA area counted, as after boot */
    for (unsigned i = 0; i < st.nr_zones && i < MM_NR_ZONES; i++) {
        const struct mm_zone_stats *z = &st.zone[i];

        total += z->managed;
        free += z->free;
        if (z->name != NULL && strcmp(z->name, "HighMem") == 0) {
            htotal += z->managed;
            hfree += z->free;
        }
    }
    line(out, "MemTotal:", total << 2);
    line(out, "MemFree:", free << 2);
    zeros(out, lru, sizeof(lru) / sizeof(lru[0]));
    if (m->cfg.highmem) {
        line(out, "HighTotal:", htotal << 2);
        line(out, "HighFree:", hfree << 2);
        line(out, "LowTotal:", (total - htotal) << 2);
        line(out, "LowFree:", (free - hfree) << 2);
    }
    line(out, "SwapTotal:", 0);
    line(out, "SwapFree:", 0);
    if (mm__config_zswap(&m->cfg)) {
        line(out, "Zswap:", 0);
        line(out, "Zswapped:", 0);
    }
    zeros(out, mapped, sizeof(mapped) / sizeof(mapped[0]));
    /* vm_commit_limit(): totalram * sysctl_overcommit_ratio (50) / 100, no swap */
    line(out, "CommitLimit:", (total * 50 / 100) << 2);
    line(out, "Committed_AS:", 0);
    line(out, "VmallocTotal:", (m->lay.vmalloc_end - m->lay.vmalloc_start) >> 10);
    line(out, "VmallocUsed:", (uint64_t)st.vmalloc_pages << 2);  /* vmalloc_nr_pages() */
    line(out, "VmallocChunk:", 0);
    if (mm__config_cma(&m->cfg)) {
        line(out, "CmaTotal:", (uint64_t)m->cma_pages << 2);
        line(out, "CmaFree:", (uint64_t)m->cma_pages << 2);
    }
    return MM_OK;
}
