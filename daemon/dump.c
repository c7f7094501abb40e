/* daemon/dump.c - a machine's emulated memory as an ELF32 ARM core file.
 *
 * The file is what a debugger or readelf expects of a core dump of a
 * 32-bit little-endian ARM system, seen physically:
 *
 *   ELF header    ELFCLASS32, ELFDATA2LSB, ET_CORE, EM_ARM, e_flags 0,
 *                 no section headers.
 *   phdr 0        PT_NOTE: one note, described below.
 *   phdr 1..n     PT_LOAD, one per run of contiguous physical pages that
 *                 hold written data (mm_foreach_phys_page), ascending:
 *                 p_paddr = p_vaddr = the run's physical address,
 *                 p_filesz = p_memsz = its length, p_flags = PF_R|PF_W,
 *                 p_align = 4096; the data is page-aligned in the file.
 *
 * The note (PT_NOTE), in the standard Elf32_Nhdr layout:
 *   n_namesz = 7, name "ARMMAP\0" padded to 8 bytes,
 *   n_descsz = 16, n_type = 0x41524d31 (SRV_NOTE_MMU, the bytes "1MRA"),
 *   desc = four little-endian uint32 words, the MMU registers the kernel
 *          holds (mm_get_mmu_regs): TTBR0, TTBCR, DACR, SCTLR, in that
 *          order.
 * With TTBR0 a reader finds swapper_pg_dir among the PT_LOAD segments and
 * can walk the page tables itself.
 *
 * Pages nobody wrote are not in the file (they read as zero).  Everything
 * is written field by field in little-endian order, so the output does
 * not depend on the host.
 *
 * The file is read a slice at a time (srv_dump_read()): only the head and
 * a list of the pages exist in memory, so a streamed Dump reply
 * (stream.c) never holds the file whole; srv_dump_elf() reads it at once.
 */
#include "srv.h"

#include <stdlib.h>
#include <string.h>

#define EHDR_SIZE 52
#define PHDR_SIZE 32
#define NOTE_SIZE (12 + 8 + 16)
#define PAGE      MM_PAGE_SIZE

struct page_ref {
    mm_pfn_t pfn;
    const uint8_t *data;
};

struct collect {
    struct page_ref *v;
    size_t n, cap;
    bool oom;
};

static bool collect_page(void *arg, mm_pfn_t pfn, const uint8_t *data)
{
    struct collect *c = arg;

    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        struct page_ref *v = realloc(c->v, cap * sizeof(*v));

        if (v == NULL) {
            c->oom = true;
            return false;
        }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n].pfn = pfn;
    c->v[c->n].data = data;
    c->n++;
    return true;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_phdr(uint8_t *p, uint32_t type, uint32_t off, uint32_t addr,
                     uint32_t size, uint32_t flags, uint32_t align)
{
    put32(p + 0, type);
    put32(p + 4, off);
    put32(p + 8, addr);  /* p_vaddr */
    put32(p + 12, addr); /* p_paddr */
    put32(p + 16, size); /* p_filesz */
    put32(p + 20, size); /* p_memsz */
    put32(p + 24, flags);
    put32(p + 28, align);
}

/* A dump being read: the pages it holds (pointers into the machine it was
 * opened or rebound on), the head (ELF header, program headers, the note,
 * the padding up to the first page), and how far it has been read. */
struct srv_dump {
    struct collect c;
    uint8_t *head;
    size_t head_len;
    uint64_t len; /* the whole file */
    uint64_t off; /* next byte srv_dump_read() gives */
};

/* Counts the runs of contiguous pages in @c. */
static size_t count_runs(const struct collect *c)
{
    size_t i, nruns = 0;

    for (i = 0; i < c->n; i++) {
        if (i == 0 || c->v[i].pfn != c->v[i - 1].pfn + 1)
            nruns++;
    }
    return nruns;
}

/* Writes the head of the file (d->head_len bytes, zeroed) for the pages
 * in d->c and the registers of @m. */
static void head_write(struct srv_dump *d, const struct mm_machine *m)
{
    uint8_t *buf = d->head, *ph;
    size_t phnum = 1 + count_runs(&d->c), i, run, off;
    struct mm_mmu_regs regs;

    /* ELF header */
    memcpy(buf, "\177ELF", 4);
    buf[4] = 1;                       /* ELFCLASS32 */
    buf[5] = 1;                       /* ELFDATA2LSB */
    buf[6] = 1;                       /* EV_CURRENT */
    put16(buf + 16, 4);               /* ET_CORE */
    put16(buf + 18, 40);              /* EM_ARM */
    put32(buf + 20, 1);               /* e_version */
    put32(buf + 28, EHDR_SIZE);       /* e_phoff */
    put16(buf + 40, EHDR_SIZE);       /* e_ehsize */
    put16(buf + 42, PHDR_SIZE);       /* e_phentsize */
    put16(buf + 44, (uint16_t)phnum); /* e_phnum */

    /* The note */
    off = EHDR_SIZE + phnum * PHDR_SIZE;
    put_phdr(buf + EHDR_SIZE, 4 /* PT_NOTE */, (uint32_t)off, 0, NOTE_SIZE, 0,
             4);
    mm_get_mmu_regs(m, &regs);
    put32(buf + off, 7);
    put32(buf + off + 4, 16);
    put32(buf + off + 8, SRV_NOTE_MMU);
    memcpy(buf + off + 12, SRV_NOTE_NAME, 7);
    put32(buf + off + 20, regs.ttbr0);
    put32(buf + off + 24, regs.ttbcr);
    put32(buf + off + 28, regs.dacr);
    put32(buf + off + 32, regs.sctlr);

    /* The loads: the data follows the head, page after page */
    ph = buf + EHDR_SIZE + PHDR_SIZE;
    off = d->head_len;
    for (i = 0; i < d->c.n; i = run) {
        for (run = i + 1;
             run < d->c.n && d->c.v[run].pfn == d->c.v[run - 1].pfn + 1; run++)
            ;
        put_phdr(ph, 1 /* PT_LOAD */, (uint32_t)off,
                 (uint32_t)d->c.v[i].pfn << MM_PAGE_SHIFT,
                 (uint32_t)((run - i) * PAGE), 6 /* PF_R | PF_W */, PAGE);
        ph += PHDR_SIZE;
        off += (run - i) * PAGE;
    }
}

enum mm_status srv_dump_open(const struct mm_machine *m, struct srv_dump **out)
{
    struct srv_dump *d = calloc(1, sizeof(*d));
    size_t phnum;

    if (d == NULL)
        return MM_NO_MEMORY;
    mm_foreach_phys_page(m, collect_page, &d->c);
    if (d->c.oom) {
        srv_dump_close(d);
        return MM_NO_MEMORY;
    }
    phnum = 1 + count_runs(&d->c);
    d->head_len = EHDR_SIZE + phnum * PHDR_SIZE + NOTE_SIZE;
    d->head_len = (d->head_len + PAGE - 1) / PAGE * PAGE;
    d->len = d->head_len + d->c.n * (uint64_t)PAGE;
    d->head = calloc(1, d->head_len);
    if (d->head == NULL) {
        srv_dump_close(d);
        return MM_NO_MEMORY;
    }
    head_write(d, m);
    *out = d;
    return MM_OK;
}

uint64_t srv_dump_len(const struct srv_dump *d)
{
    return d->len;
}

void srv_dump_rebind(struct srv_dump *d, const struct mm_machine *m)
{
    struct collect c = { NULL, 0, 0, false };

    mm_foreach_phys_page(m, collect_page, &c);
    if (c.oom || c.n != d->c.n)
        abort(); /* host memory; or not a copy */
    free(d->c.v);
    d->c = c;
}

size_t srv_dump_read(struct srv_dump *d, uint8_t *buf, size_t max)
{
    size_t done = 0;

    while (done < max && d->off < d->len) {
        size_t k, at;
        const uint8_t *src;

        if (d->off < d->head_len) {
            at = (size_t)d->off;
            k = d->head_len - at;
            src = d->head + at;
        } else {
            uint64_t rel = d->off - d->head_len;

            at = (size_t)(rel % PAGE);
            k = PAGE - at;
            src = d->c.v[rel / PAGE].data + at;
        }
        if (k > max - done)
            k = max - done;
        memcpy(buf + done, src, k);
        done += k;
        d->off += k;
    }
    return done;
}

void srv_dump_close(struct srv_dump *d)
{
    if (d == NULL)
        return;
    free(d->c.v);
    free(d->head);
    free(d);
}

enum mm_status srv_dump_elf(const struct mm_machine *m, uint8_t **out,
                            size_t *len)
{
    struct srv_dump *d;
    enum mm_status st = srv_dump_open(m, &d);
    uint8_t *buf;

    if (st != MM_OK)
        return st;
    buf = malloc(d->len != 0 ? (size_t)d->len : 1);
    if (buf == NULL) {
        srv_dump_close(d);
        return MM_NO_MEMORY;
    }
    *len = srv_dump_read(d, buf, (size_t)d->len);
    *out = buf;
    srv_dump_close(d);
    return MM_OK;
}
