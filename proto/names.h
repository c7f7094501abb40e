/* proto/names.h - the one table of the wire's status, operation, region
 * and fault names, and of the km_type slot names.
 *
 * Each list is an X-macro: X(SUFFIX, "name"), in the order and with the
 * numbers of the wire's enum (Code, OpCode, Region, Fault in
 * proto/armmap.proto).  SUFFIX completes the name of the same value in
 * every enum that carries it: ARMMAP__V1__CODE__##SUFFIX on the wire,
 * MM_##SUFFIX in the engine, ARMMAP_##SUFFIX in libarmmap (and OP_, REGION_,
 * FAULT_ likewise).  Where two of those enums must agree, the file that
 * sees both asserts it (see the end of this file), so a value
 * added to one and not to the other does not compile.  The names are the
 * ones the CLI prints and parses and the HTTP API writes; libarmmap and
 * the daemon take them from here.  The engine (which includes nothing of
 * proto/) keeps its own copies, and tests/daemon/test_names.c holds them
 * equal to these.
 *
 * Plain C preprocessor and static inline lookups: no protobuf needed.
 */
#ifndef ARMMAP_PROTO_NAMES_H
#define ARMMAP_PROTO_NAMES_H

#include <stddef.h>

#define ARMMAP_STATUS_LIST(X) \
    X(OK, "OK") \
    X(INVALID_ARGUMENT, "INVALID_ARGUMENT") \
    X(NOT_FOUND, "NOT_FOUND") \
    X(ALREADY_EXISTS, "ALREADY_EXISTS") \
    X(NO_MEMORY, "NO_MEMORY") \
    X(WOULD_BLOCK, "WOULD_BLOCK") \
    X(FAULT, "FAULT") \
    X(ORDER, "ORDER") \
    X(PERMISSION_DENIED, "PERMISSION_DENIED") \
    X(UNAUTHENTICATED, "UNAUTHENTICATED") \
    X(RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED") \
    X(UNAVAILABLE, "UNAVAILABLE") \
    X(INTERNAL, "INTERNAL") \
    X(MOVED, "MOVED")

/* OP_NONE (0) has no name. */
#define ARMMAP_OP_LIST(X) \
    X(NONE, NULL) \
    X(ALLOC, "alloc") \
    X(FREE, "free") \
    X(KMAP, "kmap") \
    X(KUNMAP, "kunmap") \
    X(KMAP_ATOMIC, "kmap_atomic") \
    X(KUNMAP_ATOMIC, "kunmap_atomic") \
    X(VMALLOC, "vmalloc") \
    X(VFREE, "vfree") \
    X(VMAP, "vmap") \
    X(VUNMAP, "vunmap") \
    X(IOREMAP, "ioremap") \
    X(IOUNMAP, "iounmap") \
    X(MODULE_ALLOC, "module_alloc") \
    X(MODULE_FREE, "module_free") \
    X(KMAP_FLUSH, "kmap_flush") \
    X(MODULE_ENABLE_RO, "module_enable_ro")

#define ARMMAP_REGION_LIST(X) \
    X(GAP, "gap") \
    X(USER, "user") \
    X(MODULES, "modules") \
    X(PKMAP, "pkmap") \
    X(LOWMEM, "lowmem") \
    X(VMALLOC, "vmalloc") \
    X(CONSISTENT, "consistent") \
    X(FIXMAP, "fixmap") \
    X(TIMERS, "timers") \
    X(VECTOR, "vector") \
    X(IOREMAP, "ioremap") \
    X(FDT, "fdt") \
    X(PCI_IO, "pci-io")

#define ARMMAP_FAULT_LIST(X) \
    X(NONE, "none") \
    X(TRANSLATION_L1, "translation-l1") \
    X(TRANSLATION_L2, "translation-l2") \
    X(DOMAIN_L1, "domain-l1") \
    X(DOMAIN_L2, "domain-l2") \
    X(PERMISSION_L1, "permission-l1") \
    X(PERMISSION_L2, "permission-l2")

/* The enum km_type slots that every ARM 2.6 kernel with km_type
 * kmap_atomic numbers alike, in order (`armmap kmap-atomic --slot NAME`).
 * After KM_SOFTIRQ1, 2.6.32 has KM_L2_CACHE (KM_TYPE_NR 14) and
 * 2.6.35/2.6.36 KM_L1_CACHE, KM_L2_CACHE, KM_KDB (16); the engine knows
 * those per-version tails (engine/kmap_atomic.c).
 * KERNEL: 2.6.32 and 2.6.35 arch/arm/include/asm/kmap_types.h. */
#define ARMMAP_KM_TYPE_LIST(X) \
    X(BOUNCE_READ, "KM_BOUNCE_READ") \
    X(SKB_SUNRPC_DATA, "KM_SKB_SUNRPC_DATA") \
    X(SKB_DATA_SOFTIRQ, "KM_SKB_DATA_SOFTIRQ") \
    X(USER0, "KM_USER0") \
    X(USER1, "KM_USER1") \
    X(BIO_SRC_IRQ, "KM_BIO_SRC_IRQ") \
    X(BIO_DST_IRQ, "KM_BIO_DST_IRQ") \
    X(PTE0, "KM_PTE0") \
    X(PTE1, "KM_PTE1") \
    X(IRQ0, "KM_IRQ0") \
    X(IRQ1, "KM_IRQ1") \
    X(SOFTIRQ0, "KM_SOFTIRQ0") \
    X(SOFTIRQ1, "KM_SOFTIRQ1")

#define NAMES__STR(suffix, name) name,
#define NAMES__ONE(suffix, name) +1

/* Values in each list. */
enum {
    NAMES_STATUS_COUNT = 0 ARMMAP_STATUS_LIST(NAMES__ONE),
    NAMES_OP_COUNT = 0 ARMMAP_OP_LIST(NAMES__ONE),
    NAMES_REGION_COUNT = 0 ARMMAP_REGION_LIST(NAMES__ONE),
    NAMES_FAULT_COUNT = 0 ARMMAP_FAULT_LIST(NAMES__ONE),
    NAMES_KM_TYPE_COUNT = 0 ARMMAP_KM_TYPE_LIST(NAMES__ONE)
};

/* The name of each value; NULL (ops: also OP_NONE) when out of range. */
static inline const char *names_status(unsigned v)
{
    static const char *const t[] = { ARMMAP_STATUS_LIST(NAMES__STR) };

    return v < NAMES_STATUS_COUNT ? t[v] : NULL;
}

static inline const char *names_op(unsigned v)
{
    static const char *const t[] = { ARMMAP_OP_LIST(NAMES__STR) };

    return v < NAMES_OP_COUNT ? t[v] : NULL;
}

static inline const char *names_region(unsigned v)
{
    static const char *const t[] = { ARMMAP_REGION_LIST(NAMES__STR) };

    return v < NAMES_REGION_COUNT ? t[v] : NULL;
}

static inline const char *names_fault(unsigned v)
{
    static const char *const t[] = { ARMMAP_FAULT_LIST(NAMES__STR) };

    return v < NAMES_FAULT_COUNT ? t[v] : NULL;
}

static inline const char *names_km_type(unsigned v)
{
    static const char *const t[] = { ARMMAP_KM_TYPE_LIST(NAMES__STR) };

    return v < NAMES_KM_TYPE_COUNT ? t[v] : NULL;
}

/* Where two enums must agree, the file that sees both asserts every value:
 *   #define SAME(s, name) _Static_assert((int)MM_VREGION_##s == \
 *       (int)ARMMAP__V1__REGION__REGION_##s, "region " #s);
 *   ARMMAP_REGION_LIST(SAME)
 * plus the counts, so that no value is missing from either. */

#endif /* ARMMAP_PROTO_NAMES_H */
