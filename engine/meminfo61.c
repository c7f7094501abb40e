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
 * (si_mem_available() needs the running page cache and slab) and, before
 * config version 8, Percpu (from version 8 the boot populates the second
 * per-CPU chunk as the kernel's has been when /init runs: vmboot61.c).
 */
#include "mm_int.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* KERNEL: 6.1 fs/proc/meminfo.c show_val_kb(): a 16-wide name, "%8lu kB". */
static void line(struct mm_buf *b, const char *name, uint64_t kb)
{
    mm__buf_printf(b, "%-16s%8llu kB\n", name, (unsigned long long)kb);
}

/* Appends the fields of counters the engine never has: always 0 here. */
static unsigned zeros(struct mm_meminfo_field *f, unsigned n, const char *const *names,
                      size_t count)
{
    for (size_t i = 0; i < count; i++)
        f[n++] = (struct mm_meminfo_field){ names[i], 0 };
    return n;
}

/* Percpu is printed from config version 8, whose boot populates the
 * second chunk as the kernel has by the time anyone reads meminfo; a
 * stored older machine keeps the lines it had. */
static bool percpu_known(const struct mm_machine *m)
{
    return mm__config_boot_pages(&m->cfg) && mm__percpu_first_pages(&m->cfg) != 0;
}

/* pcpu_nr_pages(): the populated pages of every chunk, times the units
 * (one a CPU): the first chunk's whole size_sum, the second chunk's
 * populated head.  KERNEL: 6.1 mm/percpu.c pcpu_nr_pages(),
 * pcpu_setup_first_chunk(), pcpu_chunk_populated(). */
static uint64_t percpu_kb(const struct mm_machine *m)
{
    uint64_t pages = mm__percpu_first_pages(&m->cfg) + m->pcpu_populated;

    return (pages * m->cfg.cpus) << 2;
}

unsigned mm__meminfo_fields_61(const struct mm_machine *m, struct mm_meminfo_field *f)
{
    static const char *const lru[] = {
        "Buffers",        "Cached",       "SwapCached",     "Active",
        "Inactive",       "Active(anon)", "Inactive(anon)", "Active(file)",
        "Inactive(file)", "Unevictable",  "Mlocked",
    };
    static const char *const mapped[] = {
        "Dirty",        "Writeback",     "AnonPages",    "Mapped",     "Shmem",
        "KReclaimable", "Slab",          "SReclaimable", "SUnreclaim", "KernelStack",
        "PageTables",   "SecPageTables", "NFS_Unstable", "Bounce",     "WritebackTmp",
    };
    struct mm_stats st;
    uint64_t total = 0, free = 0, htotal = 0, hfree = 0;
    unsigned n = 0;

    mm_get_stats(m, &st); /* the CMA area counted, as after boot */
    for (unsigned i = 0; i < st.nr_zones && i < MM_NR_ZONES; i++) {
        const struct mm_zone_stats *z = &st.zone[i];

        total += z->managed;
        free += z->free;
        if (z->name != NULL && strcmp(z->name, "HighMem") == 0) {
            htotal += z->managed;
            hfree += z->free;
        }
    }
    f[n++] = (struct mm_meminfo_field){ "MemTotal", total << 2 };
    f[n++] = (struct mm_meminfo_field){ "MemFree", free << 2 };
    n = zeros(f, n, lru, sizeof(lru) / sizeof(lru[0]));
    if (m->cfg.highmem) {
        f[n++] = (struct mm_meminfo_field){ "HighTotal", htotal << 2 };
        f[n++] = (struct mm_meminfo_field){ "HighFree", hfree << 2 };
        f[n++] = (struct mm_meminfo_field){ "LowTotal", (total - htotal) << 2 };
        f[n++] = (struct mm_meminfo_field){ "LowFree", (free - hfree) << 2 };
    }
    f[n++] = (struct mm_meminfo_field){ "SwapTotal", 0 };
    f[n++] = (struct mm_meminfo_field){ "SwapFree", 0 };
    if (mm__config_zswap(&m->cfg)) {
        f[n++] = (struct mm_meminfo_field){ "Zswap", 0 };
        f[n++] = (struct mm_meminfo_field){ "Zswapped", 0 };
    }
    n = zeros(f, n, mapped, sizeof(mapped) / sizeof(mapped[0]));
    /* vm_commit_limit(): totalram * sysctl_overcommit_ratio (50) / 100, no swap */
    f[n++] = (struct mm_meminfo_field){ "CommitLimit", (total * 50 / 100) << 2 };
    f[n++] = (struct mm_meminfo_field){ "Committed_AS", 0 };
    f[n++] = (struct mm_meminfo_field){
        "VmallocTotal", (m->lay.vmalloc_end - m->lay.vmalloc_start) >> 10
    };
    /* vmalloc_nr_pages() */
    f[n++] = (struct mm_meminfo_field){ "VmallocUsed", (uint64_t)st.vmalloc_pages << 2 };
    f[n++] = (struct mm_meminfo_field){ "VmallocChunk", 0 };
    if (percpu_known(m))
        f[n++] = (struct mm_meminfo_field){ "Percpu", percpu_kb(m) };
    if (mm__config_cma(&m->cfg)) {
        f[n++] = (struct mm_meminfo_field){ "CmaTotal", (uint64_t)m->cma_pages << 2 };
        /* the DMA atomic pool came from it (machine.c late_boot()) */
        f[n++] = (struct mm_meminfo_field){ "CmaFree",
                                            (uint64_t)(m->cma_pages - m->cma_used) << 2 };
    }
    assert(n <= MM_MAX_MEMINFO);
    return n;
}

enum mm_status mm__report_meminfo_61(const struct mm_machine *m, struct mm_buf *out)
{
    struct mm_meminfo_field f[MM_MAX_MEMINFO];
    unsigned n = mm__meminfo_fields_61(m, f);
    char name[32];

    for (unsigned i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "%s:", f[i].name);
        line(out, name, f[i].kb);
    }
    return MM_OK;
}
