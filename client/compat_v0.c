/* client/compat_v0.c - libarmmap.so.0's ARMMAP_2 changes, for programs
 * linked before them.
 *
 * ARMMAP_2 widened struct armmap_zone_info (nr_orders and a twelfth buddy
 * order), so struct armmap_machine moved every field after its zones.  A
 * program built against ARMMAP_0 or ARMMAP_1 calls the functions below
 * (their symbol versions say so) and gets machines in the layout it was
 * compiled with: the first 11 orders, the other fields as they were.
 * Each wrapper calls the current function and converts its result; the
 * strings and the parked array move over, only the struct is new.
 */
#include "armmap_int.h"

#include <stdlib.h>
#include <string.h>

#define V0_ORDERS 11 /* MAX_ORDER before the 6.1 armmp reference */

struct zone_info_v0 {
    char name[16];
    uint32_t start_pfn, end_pfn;
    uint32_t present, managed, free;
    uint32_t nr_free[V0_ORDERS];
};

struct machine_v0 {
    uint64_t id;
    char *name;
    char *tenant;
    char *config;
    uint64_t seq;
    int64_t created_ms;
    unsigned nzones;
    struct zone_info_v0 zones[ARMMAP_MAX_ZONES];
    uint32_t pkmap_in_use, pkmap_flushes, tlb_flushes;
    uint32_t vmalloc_areas, vmalloc_pages, pte_pages;
    uint64_t host_bytes;
    char *broken;
    uint64_t events;
    uint32_t parked_kmaps;
    struct armmap_parked_kmap *parked;
};

struct machine_list_v0 {
    size_t n;
    struct machine_v0 *items;
};

/* Moves @m's contents into @d (the old layout); @m's struct stays. */
static void move_v0(struct machine_v0 *d, const struct armmap_machine *m)
{
    unsigned i;

    memset(d, 0, sizeof(*d));
    d->id = m->id;
    d->name = m->name;
    d->tenant = m->tenant;
    d->config = m->config;
    d->seq = m->seq;
    d->created_ms = m->created_ms;
    d->nzones = m->nzones;
    for (i = 0; i < m->nzones && i < ARMMAP_MAX_ZONES; i++) {
        const struct armmap_zone_info *z = &m->zones[i];

        memcpy(d->zones[i].name, z->name, sizeof(z->name));
        d->zones[i].start_pfn = z->start_pfn;
        d->zones[i].end_pfn = z->end_pfn;
        d->zones[i].present = z->present;
        d->zones[i].managed = z->managed;
        d->zones[i].free = z->free;
        memcpy(d->zones[i].nr_free, z->nr_free, sizeof(d->zones[i].nr_free));
    }
    d->pkmap_in_use = m->pkmap_in_use;
    d->pkmap_flushes = m->pkmap_flushes;
    d->tlb_flushes = m->tlb_flushes;
    d->vmalloc_areas = m->vmalloc_areas;
    d->vmalloc_pages = m->vmalloc_pages;
    d->pte_pages = m->pte_pages;
    d->host_bytes = m->host_bytes;
    d->broken = m->broken;
    d->events = m->events;
    d->parked_kmaps = m->parked_kmaps;
    d->parked = m->parked;
}

static void fini_v0(struct machine_v0 *m)
{
    free(m->name);
    free(m->tenant);
    free(m->config);
    free(m->broken);
    free(m->parked);
}

/* A call's machine @m (NULL or the caller's) as an old one in *@out.  The
 * call's status @st stands unless the conversion runs out of memory. */
static enum armmap_status give_v0(struct armmap_conn *conn,
                                  enum armmap_status st,
                                  struct armmap_machine *m,
                                  struct machine_v0 **out)
{
    struct machine_v0 *d;

    if (out == NULL) {
        armmap_machine_free(m);
        return st;
    }
    *out = NULL;
    if (m == NULL)
        return st;
    d = malloc(sizeof(*d));
    if (d == NULL) {
        armmap_machine_free(m);
        return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY,
                            "out of memory converting a machine");
    }
    move_v0(d, m);
    free(m);
    *out = d;
    return st;
}

#define V0 __attribute__((visibility("default")))

V0 enum armmap_status v0_create(struct armmap_conn *conn, const char *preset,
                                const struct armmap_setting *settings, size_t n,
                                const char *name, struct machine_v0 **out);
V0 enum armmap_status v0_describe(struct armmap_conn *conn, uint64_t machine,
                                  struct machine_v0 **out);
V0 enum armmap_status v0_fork(struct armmap_conn *conn, uint64_t machine,
                              uint64_t at_seq, const char *name,
                              struct machine_v0 **out);
V0 enum armmap_status v0_clone(struct armmap_conn *conn, uint64_t machine,
                               const char *name, struct machine_v0 **out);
V0 enum armmap_status v0_list(struct armmap_conn *conn,
                              struct machine_list_v0 **out);
V0 void v0_machine_free(struct machine_v0 *m);
V0 void v0_machine_list_free(struct machine_list_v0 *l);

enum armmap_status v0_create(struct armmap_conn *conn, const char *preset,
                             const struct armmap_setting *settings, size_t n,
                             const char *name, struct machine_v0 **out)
{
    struct armmap_machine *m = NULL;
    enum armmap_status st = armmap_create(conn, preset, settings, n, name,
                                          out ? &m : NULL);

    return give_v0(conn, st, m, out);
}

enum armmap_status v0_describe(struct armmap_conn *conn, uint64_t machine,
                               struct machine_v0 **out)
{
    struct armmap_machine *m = NULL;
    enum armmap_status st = armmap_describe(conn, machine, &m);

    return give_v0(conn, st, m, out);
}

enum armmap_status v0_fork(struct armmap_conn *conn, uint64_t machine,
                           uint64_t at_seq, const char *name,
                           struct machine_v0 **out)
{
    struct armmap_machine *m = NULL;
    enum armmap_status st = armmap_fork(conn, machine, at_seq, name,
                                        out ? &m : NULL);

    return give_v0(conn, st, m, out);
}

enum armmap_status v0_clone(struct armmap_conn *conn, uint64_t machine,
                            const char *name, struct machine_v0 **out)
{
    struct armmap_machine *m = NULL;
    enum armmap_status st = armmap_clone(conn, machine, name, out ? &m : NULL);

    return give_v0(conn, st, m, out);
}

enum armmap_status v0_list(struct armmap_conn *conn,
                           struct machine_list_v0 **out)
{
    struct armmap_machine_list *l = NULL;
    struct machine_list_v0 *d;
    enum armmap_status st = armmap_list(conn, &l);
    size_t i;

    *out = NULL;
    if (l == NULL)
        return st;
    d = calloc(1, sizeof(*d));
    if (d != NULL && l->n > 0)
        d->items = calloc(l->n, sizeof(*d->items));
    if (d == NULL || (l->n > 0 && d->items == NULL)) {
        free(d);
        armmap_machine_list_free(l);
        return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY,
                            "out of memory converting a machine list");
    }
    for (i = 0; i < l->n; i++)
        move_v0(&d->items[i], &l->items[i]);
    d->n = l->n;
    free(l->items);
    free(l);
    *out = d;
    return st;
}

void v0_machine_free(struct machine_v0 *m)
{
    if (m == NULL)
        return;
    fini_v0(m);
    free(m);
}

void v0_machine_list_free(struct machine_list_v0 *l)
{
    size_t i;

    if (l == NULL)
        return;
    for (i = 0; i < l->n; i++)
        fini_v0(&l->items[i]);
    free(l->items);
    free(l);
}

__asm__(".symver v0_create,armmap_create@ARMMAP_0");
__asm__(".symver v0_describe,armmap_describe@ARMMAP_0");
__asm__(".symver v0_fork,armmap_fork@ARMMAP_0");
__asm__(".symver v0_clone,armmap_clone@ARMMAP_0");
__asm__(".symver v0_list,armmap_list@ARMMAP_0");
__asm__(".symver v0_machine_free,armmap_machine_free@ARMMAP_0");
__asm__(".symver v0_machine_list_free,armmap_machine_list_free@ARMMAP_0");
