/* store/store_pg_load.c - libpq, loaded on first use (store_pg_load.h).
 *
 * Thread contract: pq_load() runs the load once (pthread_once) and may be
 * called from any thread; pq_load_from() touches only its arguments and
 * the dynamic loader.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "store_pg_load.h"

/* What libpq's PQclear(NULL) and PQfinish(NULL) do: nothing.  A failed
 * open's cleanup calls them before any load succeeded. */
static void clear_none(PGresult *r)
{
    (void)r;
}

static void finish_none(PGconn *c)
{
    (void)c;
}

struct pq_fn pq_fn = { .PQclear = clear_none, .PQfinish = finish_none };

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool load_ok;
static char load_err[512]; /* why the load failed, when it did */

static void fail(const char *library, char *err, size_t size)
{
    const char *why = dlerror();

    snprintf(err, size, "the PostgreSQL store needs %s: %s", library,
             why != NULL ? why : "unknown dynamic loader error");
}

bool pq_load_from(const char *library, struct pq_fn *fn, char *err, size_t size)
{
    struct pq_fn got;
    void *h = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    void *sym;

    if (h == NULL) {
        fail(library, err, size);
        return false;
    }
    /* dlsym() returns an object pointer; POSIX guarantees it converts to
     * a function pointer, copied bytewise as ISO C has no cast for it. */
#define PQ_SYM(name) \
    sym = dlsym(h, #name); \
    if (sym == NULL) { \
        fail(library, err, size); \
        dlclose(h); \
        return false; \
    } \
    memcpy(&got.name, &sym, sizeof(got.name));
    PQ_FUNCTIONS(PQ_SYM)
#undef PQ_SYM
    *fn = got;
    return true;
}

static void load(void)
{
    load_ok = pq_load_from(PQ_LIBRARY, &pq_fn, load_err, sizeof(load_err));
}

bool pq_load(char *err, size_t size)
{
    pthread_once(&load_once, load);
    if (!load_ok)
        snprintf(err, size, "%s", load_err);
    return load_ok;
}
