/* engine/snapshot.c - a machine's whole dynamic state as bytes, and back.
 *
 * mm_snapshot() writes everything a machine holds that operations changed;
 * mm_restore() rebuilds a machine from it on the same config, so that the
 * store can checkpoint a machine and fork or recover from the checkpoint
 * instead of replaying from seq 1.  What the config alone determines (the
 * layout, the zones, the boot reservations) is not written: restore boots
 * a fresh machine from the config and replaces its dynamic parts.
 *
 * Format (version 1), all integers little-endian, fixed widths:
 *
 *   magic    8 bytes  "ARMMSNAP"
 *   version  u32      1
 *   cfg_hash u64      FNV-1a 64 of mm_config_format()'s text
 *   seq      u64
 *   counters u32 x3   tlb_flushes, pkmap_flushes, pte_pages
 *   boot     u32 x2   boot_reserved_pages, boot_pte_pages (a cross-check)
 *   then five sections, in this order, each "u32 tag, u32 length, payload":
 *     "PHYS" physmem.c, "BUDY" buddy.c, "PKMP" highmem.c,
 *     "KATM" kmap_atomic.c, "VMAP" vmalloc.c (each module owns its payload)
 *   checksum u64      FNV-1a 64 of every byte before it
 *
 * The checksum catches accidents (a flipped bit, a truncated copy) with a
 * plain message; a crafted input passes it, so every field is validated as
 * well: each module's loader checks ranges and structure as it reads, and
 * the rebuilt machine must pass mm_check() before it is handed out.
 */
#include "mm_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAP_MAGIC   "ARMMSNAP"
#define SNAP_VERSION 1u
#define FNV_OFFSET   0xcbf29ce484222325ull
#define FNV_PRIME    0x100000001b3ull

static const char *const section_tag[] = { "PHYS", "BUDY", "PKMP", "KATM", "VMAP" };

/* ------------------------------------------------------------------ */
/* Little-endian writer and bounded reader                             */
/* ------------------------------------------------------------------ */

void mm__wr_u8(struct mm_buf *b, uint8_t v)
{
    mm__buf_append(b, &v, 1);
}

void mm__wr_u16(struct mm_buf *b, uint16_t v)
{
    uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

    mm__buf_append(b, x, sizeof(x));
}

void mm__wr_u32(struct mm_buf *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                     (uint8_t)(v >> 24) };

    /* Where the buffer has room for it and the NUL (page records write
     * every nonzero word of a page this way), straight in. */
    if (!b->oom && b->cap - b->len > sizeof(x)) {
        memcpy(b->data + b->len, x, sizeof(x));
        b->len += sizeof(x);
        b->data[b->len] = '\0';
        return;
    }
    mm__buf_append(b, x, sizeof(x));
}

void mm__wr_u64(struct mm_buf *b, uint64_t v)
{
    mm__wr_u32(b, (uint32_t)v);
    mm__wr_u32(b, (uint32_t)(v >> 32));
}

enum mm_status mm__rd_fail(struct mm_rd *rd, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (rd->st != MM_OK)
        return rd->st; /* the first error is the one named */
    rd->st = MM_INVALID_ARGUMENT;
    n = snprintf(rd->err, MM_MSG_MAX, "restore: %s: ", rd->where);
    if (n < 0 || n >= MM_MSG_MAX)
        n = 0;
    va_start(ap, fmt);
    vsnprintf(rd->err + n, MM_MSG_MAX - (size_t)n, fmt, ap);
    va_end(ap);
    return rd->st;
}

/* The next @n bytes, or NULL (and the reader failed) if there are fewer. */
static const uint8_t *take(struct mm_rd *rd, size_t n)
{
    const uint8_t *p;

    if (rd->st != MM_OK)
        return NULL;
    if (rd->len - rd->off < n) {
        mm__rd_fail(rd, "truncated at byte %zu (%zu more needed)", rd->off, n);
        return NULL;
    }
    p = rd->p + rd->off;
    rd->off += n;
    return p;
}

uint8_t mm__rd_u8(struct mm_rd *rd)
{
    const uint8_t *p = take(rd, 1);

    return p != NULL ? p[0] : 0;
}

uint16_t mm__rd_u16(struct mm_rd *rd)
{
    const uint8_t *p = take(rd, 2);

    return p != NULL ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t mm__rd_u32(struct mm_rd *rd)
{
    const uint8_t *p = take(rd, 4);

    return p != NULL ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24
                     : 0;
}

uint64_t mm__rd_u64(struct mm_rd *rd)
{
    uint64_t lo = mm__rd_u32(rd);

    return lo | (uint64_t)mm__rd_u32(rd) << 32;
}

bool mm__rd_bytes(struct mm_rd *rd, void *dst, size_t n)
{
    const uint8_t *p = take(rd, n);

    if (p != NULL)
        memcpy(dst, p, n);
    return p != NULL;
}

bool mm__rd_count(struct mm_rd *rd, uint32_t n, size_t each, uint32_t max,
                  const char *what)
{
    if (rd->st != MM_OK)
        return false;
    if (n > max) {
        mm__rd_fail(rd, "%u %s, at most %u possible", n, what, max);
        return false;
    }
    if ((uint64_t)n * each > rd->len - rd->off) {
        mm__rd_fail(rd, "%u %s need %llu bytes, %zu left", n, what,
                    (unsigned long long)n * each, rd->len - rd->off);
        return false;
    }
    return true;
}

void mm__rd_oom(struct mm_rd *rd)
{
    if (rd->st == MM_OK) {
        rd->st = MM_NO_MEMORY;
        snprintf(rd->err, MM_MSG_MAX, "restore: %s: out of host memory", rd->where);
    }
}

static uint64_t fnv64(uint64_t h, const void *data, size_t n)
{
    const uint8_t *p = data;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* FNV-1a 64 of @cfg's canonical text: two configs that print the same are
 * the same machine. */
static uint64_t config_hash(const struct mm_config *cfg)
{
    char small[2048];
    size_t n = mm_config_format(cfg, small, sizeof(small));
    char *text = small;
    uint64_t h;

    if (n >= sizeof(small)) {
        text = malloc(n + 1);
        if (text == NULL)
            return 0; /* never a real hash: restore refuses */
        mm_config_format(cfg, text, n + 1);
    }
    h = fnv64(FNV_OFFSET, text, n);
    if (text != small)
        free(text);
    return h;
}

/* ------------------------------------------------------------------ */
/* Snapshot                                                            */
/* ------------------------------------------------------------------ */

/* Writes one section: tag, a length patched in after the payload. */
static void section(struct mm_buf *out, unsigned i, const struct mm_machine *m)
{
    size_t at;
    uint32_t len;

    mm__buf_append(out, section_tag[i], 4);
    at = out->len;
    mm__wr_u32(out, 0);
    switch (i) {
    case 0:
        mm__phys_save(m->phys, out);
        break;
    case 1:
        mm__buddy_save(m, out);
        break;
    case 2:
        mm__pkmap_save(m->pkmap, out);
        break;
    case 3:
        mm__katomic_save(m->katomic, out);
        break;
    default:
        mm__vmap_save(m->vmap, out);
        break;
    }
    if (out->oom)
        return;
    len = (uint32_t)(out->len - at - 4);
    for (unsigned k = 0; k < 4; k++)
        out->data[at + k] = (char)(len >> (8 * k));
}

enum mm_status mm_snapshot(const struct mm_machine *m, struct mm_buf *out)
{
    size_t start = out->len;

    if (m->broken[0] != '\0')
        return MM_INTERNAL; /* nothing to keep: rebuild it from events */
    mm__buf_append(out, SNAP_MAGIC, 8);
    mm__wr_u32(out, SNAP_VERSION);
    mm__wr_u64(out, config_hash(&m->cfg));
    mm__wr_u64(out, m->seq);
    mm__wr_u32(out, m->cnt.tlb_flushes);
    mm__wr_u32(out, m->cnt.pkmap_flushes);
    mm__wr_u32(out, m->cnt.pte_pages);
    mm__wr_u32(out, m->boot_reserved_pages);
    mm__wr_u32(out, m->boot_pte_pages);
    for (unsigned i = 0; i < 5; i++)
        section(out, i, m);
    if (out->oom)
        return MM_NO_MEMORY;
    mm__wr_u64(out, fnv64(FNV_OFFSET, out->data + start, out->len - start));
    return out->oom ? MM_NO_MEMORY : MM_OK;
}

/* ------------------------------------------------------------------ */
/* Restore                                                             */
/* ------------------------------------------------------------------ */

/* The fixed header up to the sections; fills the machine's counters. */
static void read_header(struct mm_rd *rd, const struct mm_config *cfg,
                        struct mm_machine *m)
{
    char magic[8];
    uint32_t v, boot_res, boot_pte;

    rd->where = "header";
    if (mm__rd_bytes(rd, magic, 8) && memcmp(magic, SNAP_MAGIC, 8) != 0) {
        mm__rd_fail(rd, "not a machine snapshot (bad magic)");
        return;
    }
    v = mm__rd_u32(rd);
    if (rd->st == MM_OK && v != SNAP_VERSION) {
        mm__rd_fail(rd, "version %u, this engine reads version %u", v, SNAP_VERSION);
        return;
    }
    if (mm__rd_u64(rd) != config_hash(cfg) && rd->st == MM_OK) {
        mm__rd_fail(rd, "taken on another config (config hash differs)");
        return;
    }
    m->seq = mm__rd_u64(rd);
    m->cnt.tlb_flushes = mm__rd_u32(rd);
    m->cnt.pkmap_flushes = mm__rd_u32(rd);
    m->cnt.pte_pages = mm__rd_u32(rd);
    boot_res = mm__rd_u32(rd);
    boot_pte = mm__rd_u32(rd);
    if (rd->st == MM_OK &&
        (boot_res != m->boot_reserved_pages || boot_pte != m->boot_pte_pages)) {
        mm__rd_fail(rd,
                    "boot reserved %u pages and %u PTE pages, this config boots "
                    "with %u and %u",
                    boot_res, boot_pte, m->boot_reserved_pages, m->boot_pte_pages);
    }
}

/* Reads section @i into @m, replacing the fresh machine's part. */
static void read_section(struct mm_rd *rd, unsigned i, struct mm_machine *m)
{
    char tag[4];
    uint32_t len;
    size_t end;
    struct mm_rd sub;

    rd->where = section_tag[i];
    if (!mm__rd_bytes(rd, tag, 4))
        return;
    if (memcmp(tag, section_tag[i], 4) != 0) {
        mm__rd_fail(rd, "section %u is not %s", i + 1, section_tag[i]);
        return;
    }
    len = mm__rd_u32(rd);
    if (rd->st != MM_OK)
        return;
    if (len > rd->len - rd->off) {
        mm__rd_fail(rd, "section of %u bytes, %zu left", len, rd->len - rd->off);
        return;
    }
    end = rd->off + len;
    sub = *rd; /* the section alone: no reading past it */
    sub.len = end;
    switch (i) {
    case 0:
        mm__phys_load(m, &sub);
        break;
    case 1:
        mm__buddy_load(m, &sub);
        break;
    case 2:
        mm__pkmap_load(m, &sub);
        break;
    case 3:
        mm__katomic_load(m, &sub);
        break;
    default:
        mm__vmap_load(m, &sub);
        break;
    }
    if (sub.st == MM_OK && sub.off != end)
        mm__rd_fail(&sub, "%zu bytes left over at the end", end - sub.off);
    rd->st = sub.st;
    rd->off = end;
}

/* Every page the table writers expect to exist does: swapper_pg_dir's four
 * pages and each second-level table the first level points at (pgtable.c
 * writes into them without creating them). */
static void check_table_pages(struct mm_rd *rd, const struct mm_machine *m)
{
    mm_pfn_t pgd = MM_PFN(m->lay.pgd_pa);

    rd->where = "PHYS";
    for (unsigned i = 0; i < 4; i++) {
        if (mm__phys_page(m->phys, pgd + i) == NULL) {
            mm__rd_fail(rd, "swapper_pg_dir page pfn 0x%x is missing", pgd + i);
            return;
        }
    }
    for (unsigned i = 0; i < 4096; i++) {
        uint32_t d = mm__l1_read(m, i);

        if ((d & 3) == 1 && mm__phys_page(m->phys, MM_PFN(d)) == NULL) {
            mm__rd_fail(rd,
                        "first-level entry %u points at table 0x%08x, a page "
                        "the snapshot does not hold",
                        i, d & 0xfffffc00u);
            return;
        }
    }
}

enum mm_status mm_restore(const struct mm_config *cfg, const void *buf, size_t len,
                          struct mm_machine **out, char err[MM_MSG_MAX])
{
    struct mm_rd rd = { buf, len, 0, MM_OK, "header", err };
    struct mm_machine *m;
    enum mm_status st;
    uint64_t sum;

    *out = NULL;
    err[0] = '\0';
    if (len < 8 + 8 || buf == NULL)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "restore: %zu bytes is too short for a snapshot", len);
    {
        struct mm_rd tail = { buf, len, len - 8, MM_OK, "checksum", err };

        sum = mm__rd_u64(&tail);
    }
    if (sum != fnv64(FNV_OFFSET, buf, len - 8))
        return mm__fail(
            err, MM_INVALID_ARGUMENT,
            "restore: checksum mismatch: the snapshot is corrupt or truncated");
    rd.len = len - 8;
    st = mm_create(cfg, &m, err);
    if (st != MM_OK)
        return st;
    mm__physidx_destroy(m->physidx); /* rebuilt from the restored tables */
    m->physidx = NULL;
    read_header(&rd, cfg, m);
    for (unsigned i = 0; i < 5 && rd.st == MM_OK; i++)
        read_section(&rd, i, m);
    if (rd.st == MM_OK && rd.off != rd.len)
        mm__rd_fail(&rd, "%zu bytes left over after the sections", rd.len - rd.off);
    if (rd.st == MM_OK)
        check_table_pages(&rd, m);
    if (rd.st == MM_OK && mm__physidx_build(m) != MM_OK)
        mm__rd_oom(&rd);
    if (rd.st == MM_OK && mm_check(m, err) != MM_OK) {
        char why[MM_MSG_MAX];

        memcpy(why, err, MM_MSG_MAX);
        rd.where = "check";
        mm__rd_fail(&rd, "the state is inconsistent: %.180s", why);
    }
    if (rd.st != MM_OK) {
        mm_destroy(m);
        return rd.st;
    }
    *out = m;
    return MM_OK;
}
