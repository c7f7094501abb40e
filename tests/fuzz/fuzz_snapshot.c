/* tests/fuzz/fuzz_snapshot.c - mm_restore() on hostile bytes.
 *
 * Input layout:
 *   byte 0      the preset the snapshot is restored onto (mod 4: aries,
 *               qemu-virt, beaglebone-black, rpi2)
 *   byte 1      bit 0 set: the harness rewrites the trailing checksum so
 *               that the input reaches the loaders (a crafted snapshot
 *               would carry a right one); clear: taken as is
 *   the rest    the snapshot
 *
 * mm_restore() must either refuse with MM_INVALID_ARGUMENT and a message
 * starting "restore: ", or hand out a machine that passes mm_check(),
 * snapshots to the very bytes it came from, and survives a few operations
 * with mm_check() still passing.  Anything else aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const presets[] = {"aries", "qemu-virt", "beaglebone-black", "rpi2"};

static void fail(const char *what, const char *msg)
{
    fprintf(stderr, "fuzz_snapshot: %s: %s\n", what, msg);
    abort();
}

/* The format's trailer: FNV-1a 64 of every byte before it, little-endian. */
static void fix_checksum(uint8_t *buf, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;

    if (len < 8)
        return;
    for (size_t i = 0; i + 8 < len; i++) {
        h ^= buf[i];
        h *= 0x100000001b3ull;
    }
    for (unsigned k = 0; k < 8; k++)
        buf[len - 8 + k] = (uint8_t)(h >> (8 * k));
}

/* A restored machine must behave: check, snapshot to the same bytes, and
 * take a few operations. */
static void exercise(struct mm_machine *m, const uint8_t *buf, size_t len)
{
    char err[MM_MSG_MAX];
    struct mm_buf b = {0};
    struct mm_result r;
    struct mm_alias a[4];

    if (mm_check(m, err) != MM_OK)
        fail("restored machine fails mm_check", err);
    if (mm_snapshot(m, &b) != MM_OK)
        fail("snapshot of a restored machine", "failed");
    if (b.len != len || memcmp(b.data, buf, len) != 0)
        fail("snapshot of a restored machine", "differs from its input");
    mm_buf_free(&b);
    mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &r);
    if (r.status == MM_OK)
        mm_kmap(m, r.value, &r);
    mm_vmalloc(m, 3 * 4096, &r);
    if (r.status == MM_OK) {
        mm_phys_aliases(m, 0, a, 4);
        mm_vfree(m, r.value, &r);
    }
    mm_kmap_atomic(m, 0, 0x10, -1, &r);
    mm_vmalloc(m, 64 << 20, &r);
    if (mm_check(m, err) != MM_OK)
        fail("restored machine after ops fails mm_check", err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mm_config cfg;
    struct mm_machine *m = NULL;
    char err[MM_MSG_MAX];
    uint8_t *buf;
    size_t len;
    enum mm_status st;

    if (size < 2)
        return 0;
    if (mm_config_preset(&cfg, presets[data[0] % 4], err) != MM_OK)
        fail("preset", err);
    len = size - 2;
    buf = malloc(len ? len : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 2, len);
    if (data[1] & 1)
        fix_checksum(buf, len);
    st = mm_restore(&cfg, buf, len, &m, err);
    if (st == MM_OK) {
        exercise(m, buf, len);
        mm_destroy(m);
    } else if (st != MM_INVALID_ARGUMENT || m != NULL || strncmp(err, "restore: ", 9) != 0) {
        fail(mm_status_name(st), err);
    }
    free(buf);
    return 0;
}
