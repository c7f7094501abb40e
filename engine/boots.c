/* engine/boots.c - a bounded cache of booted template machines.
 *
 * mm_create() of a 6.1 reference machine replays the boot's vmalloc and
 * ioremap table and its early memblock allocations (config version 5), so
 * booting costs several times what copying a booted machine does, and
 * mm_clone() is exact.  A struct mm_boots keeps booted machines, one per
 * config, that nobody operates on; mm_boots_create() hands out a clone of
 * the one for the caller's config, booting and keeping it on a miss.
 *
 * The key is the config's canonical text, mm_config_format(): struct
 * mm_config has padding (struct mm_bank) and unused array tails, so its
 * bytes are not a key.  The text holds every field that affects the boot,
 * by contract already: the daemon stores machines as that text and
 * rebuilds them from it, and snapshots name their config by its hash.
 *
 * Bounded by entries and by host bytes (mm_host_bytes() of the templates
 * plus their keys), least recently used dropped first (a linear search:
 * the daemon keeps tens).  Thread-safe: one
 * mutex guards the table; the boot and the clone run outside it, a
 * template being cloned is pinned by a count, and one dropped meanwhile
 * is freed by the last clone of it to finish.  No I/O, no clocks, no
 * globals: the cache is an object its owner creates.
 */
#include "mm_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct boot_entry {
    char *key;            /* mm_config_format() text */
    uint64_t hash;        /* FNV-1a 64 of key */
    struct mm_machine *m; /* the template: never operated on */
    size_t bytes;         /* counted against max_bytes */
    uint64_t used;        /* the cache's tick when last handed out */
    unsigned pins;        /* clones of it running unlocked */
    bool dropped;         /* out of the table; its last unpin frees it */
};

struct mm_boots {
    pthread_mutex_t lock;
    size_t max_entries, max_bytes;
    struct boot_entry **v; /* stats.entries of them, in no order */
    size_t cap;
    uint64_t tick;
    struct mm_boots_stats stats;
};

struct mm_boots *mm_boots_new(size_t max_entries, size_t max_bytes)
{
    struct mm_boots *b = calloc(1, sizeof(*b));

    if (b == NULL)
        return NULL;
    if (pthread_mutex_init(&b->lock, NULL) != 0) {
        free(b);
        return NULL;
    }
    b->max_entries = max_entries;
    b->max_bytes = max_bytes;
    return b;
}

static void entry_free(struct boot_entry *e)
{
    mm_destroy(e->m);
    free(e->key);
    free(e);
}

void mm_boots_free(struct mm_boots *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->stats.entries; i++)
        entry_free(b->v[i]);
    free(b->v);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

void mm_boots_get_stats(struct mm_boots *b, struct mm_boots_stats *out)
{
    pthread_mutex_lock(&b->lock);
    *out = b->stats;
    pthread_mutex_unlock(&b->lock);
}

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;

    while (*s != '\0')
        h = (h ^ (uint8_t)*s++) * 0x100000001b3ull;
    return h;
}

/* Lock held.  The entry for @key, or NULL. */
static struct boot_entry *find(const struct mm_boots *b, const char *key, uint64_t hash)
{
    for (size_t i = 0; i < b->stats.entries; i++) {
        struct boot_entry *e = b->v[i];

        if (e->hash == hash && strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

/* Lock held.  Drops the least recently used entry (there is one): freed
 * at once unless a clone of it is running, then by that clone's unpin.
 * Only a miss, which just booted, drops any, so freeing under the lock
 * costs little. */
static void drop_lru(struct mm_boots *b)
{
    size_t lru = 0;
    struct boot_entry *e;

    for (size_t i = 1; i < b->stats.entries; i++)
        if (b->v[i]->used < b->v[lru]->used)
            lru = i;
    e = b->v[lru];
    b->v[lru] = b->v[--b->stats.entries];
    b->stats.bytes -= e->bytes;
    b->stats.evictions++;
    e->dropped = true;
    if (e->pins == 0)
        entry_free(e);
}

/* A clone of the pinned template @e, then unpinned (and freed if it was
 * dropped meanwhile and this was its last pin). */
static struct mm_machine *clone_pinned(struct mm_boots *b, struct boot_entry *e)
{
    struct mm_machine *c = mm_clone(e->m);
    bool last;

    pthread_mutex_lock(&b->lock);
    last = --e->pins == 0 && e->dropped;
    pthread_mutex_unlock(&b->lock);
    if (last)
        entry_free(e);
    return c;
}

/* Lock held.  Room for one more entry in the table; false on host OOM. */
static bool table_room(struct mm_boots *b)
{
    struct boot_entry **v;
    size_t cap;

    if (b->stats.entries < b->cap)
        return true;
    cap = b->cap != 0 ? 2 * b->cap : 8;
    v = realloc(b->v, cap * sizeof(*v));
    if (v == NULL)
        return false;
    b->v = v;
    b->cap = cap;
    return true;
}

/* Keeps @t (just booted from the config @key) as a template, pinned,
 * and returns its entry; NULL if it is not kept (it alone exceeds the
 * bounds, another thread kept one for @key first, or no host memory):
 * then @t stays the caller's.  Takes ownership of @key either way. */
static struct boot_entry *keep(struct mm_boots *b, char *key, uint64_t hash,
                               struct mm_machine *t)
{
    struct boot_entry *e = calloc(1, sizeof(*e));
    size_t bytes = mm_host_bytes(t) + strlen(key) + 1 + sizeof(*e);

    pthread_mutex_lock(&b->lock);
    if (e != NULL && b->max_entries > 0 && bytes <= b->max_bytes &&
        find(b, key, hash) == NULL) {
        while (b->stats.entries > 0 && (b->stats.entries + 1 > b->max_entries ||
                                        b->stats.bytes + bytes > b->max_bytes))
            drop_lru(b);
        if (!table_room(b)) {
            free(e);
            e = NULL;
        }
    } else {
        free(e);
        e = NULL;
    }
    if (e != NULL) {
        e->key = key;
        e->hash = hash;
        e->m = t;
        e->bytes = bytes;
        e->used = ++b->tick;
        e->pins = 1;
        b->v[b->stats.entries++] = e;
        b->stats.bytes += bytes;
    }
    pthread_mutex_unlock(&b->lock);
    if (e == NULL)
        free(key);
    return e;
}

enum mm_status mm_boots_create(struct mm_boots *b, const struct mm_config *cfg,
                               struct mm_machine **out, char err[MM_MSG_MAX])
{
    struct boot_entry *e;
    struct mm_machine *t;
    enum mm_status st;
    uint64_t hash;
    char *key;

    *out = NULL;
    err[0] = '\0';
    key = mm_config_text(cfg);
    if (key == NULL)
        return mm__fail(err, MM_NO_MEMORY, "create: out of host memory");
    hash = fnv1a64(key);
    pthread_mutex_lock(&b->lock);
    e = find(b, key, hash);
    if (e != NULL) {
        b->stats.hits++;
        e->used = ++b->tick;
        e->pins++;
    } else {
        b->stats.misses++;
    }
    pthread_mutex_unlock(&b->lock);
    if (e != NULL) {
        free(key);
    } else {
        st = mm_create(cfg, &t, err);
        if (st != MM_OK) {
            free(key);
            return st; /* not kept: the next call fails the same way */
        }
        e = keep(b, key, hash, t);
        if (e == NULL) {
            *out = t; /* not kept: the caller takes the boot itself */
            return MM_OK;
        }
    }
    *out = clone_pinned(b, e);
    if (*out == NULL)
        return mm__fail(err, MM_NO_MEMORY, "create: out of host memory");
    return MM_OK;
}
