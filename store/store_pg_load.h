/* store/store_pg_load.h - libpq, loaded when a PostgreSQL store is opened.
 *
 * armmapd does not link libpq: most daemons use the SQLite store, and
 * libpq with the two dozen libraries it pulls costs every start ~30 ms of
 * dynamic loading.  The PostgreSQL backend calls libpq through the table
 * pq_fn instead, filled by dlopen(PQ_LIBRARY) and dlsym() on first use
 * (store_pg_int.h names each entry as libpq does, so the backend's calls
 * read as plain libpq).  libpq-fe.h is included for its types only.
 *
 * Thread contract: pq_load() may be called from any thread, any number of
 * times; the library is loaded once (pthread_once).  Every thread that
 * calls through pq_fn either called pq_load() first (successfully) or was
 * started after a thread that did.
 */
#ifndef ARMMAP_STORE_STORE_PG_LOAD_H
#define ARMMAP_STORE_STORE_PG_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#define PQ_LIBRARY "libpq.so.5" /* libpq's soname since PostgreSQL 8.1 */

/* Every libpq function the PostgreSQL backend calls. */
#define PQ_FUNCTIONS(X) \
    X(PQclear) \
    X(PQcmdTuples) \
    X(PQconnectdb) \
    X(PQenterPipelineMode) \
    X(PQerrorMessage) \
    X(PQexec) \
    X(PQexecParams) \
    X(PQexitPipelineMode) \
    X(PQfinish) \
    X(PQgetResult) \
    X(PQgetisnull) \
    X(PQgetlength) \
    X(PQgetvalue) \
    X(PQntuples) \
    X(PQpipelineSync) \
    X(PQputCopyData) \
    X(PQputCopyEnd) \
    X(PQresultErrorMessage) \
    X(PQresultStatus) \
    X(PQsendQueryParams) \
    X(PQstatus)

/* One pointer per function, of the type libpq-fe.h declares. */
struct pq_fn {
#define PQ_MEMBER(name) __typeof__(name) *name;
    PQ_FUNCTIONS(PQ_MEMBER)
#undef PQ_MEMBER
};

/* The backend's table.  Before a successful pq_load() only PQclear and
 * PQfinish may be called, and only with NULL (as a failed open's cleanup
 * does): both then do nothing, as libpq's do. */
extern struct pq_fn pq_fn;

/**
 * pq_load() - load libpq into pq_fn, once per process.
 * @err: receives why it failed (at least @size bytes).
 *
 * Return: true when pq_fn is filled; false with @err "the PostgreSQL
 * store needs libpq.so.5: <dlerror()>" (armmapd prints it after
 * "armmapd: store: "), the same text on every call after a failed load.
 */
bool pq_load(char *err, size_t size);

/**
 * pq_load_from() - dlopen @library and fill @fn from it (pq_load()'s work,
 * for any library name and table; not once-only).
 * @library: a name or path for dlopen().
 * @fn: receives every function, or is left untouched on failure.
 * @err: receives why it failed (at least @size bytes): "the PostgreSQL
 *       store needs <library>: <dlerror()>".
 *
 * The library stays loaded after success (pq_fn's functions are called
 * for the life of the process) and is closed after a failure.
 * Return: true on success.
 */
bool pq_load_from(const char *library, struct pq_fn *fn, char *err,
                  size_t size);

#endif /* ARMMAP_STORE_STORE_PG_LOAD_H */
