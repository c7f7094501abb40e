/* store/store_nopg.c - the PostgreSQL backend of a build without libpq
 * (the Makefile compiles it instead of store_pg*.c when libpq-dev is
 * missing): a "postgresql://" database string is refused, saying why.
 */
#include <stdio.h>

#include "store_backend.h"

/* Built without libpq: a PostgreSQL database string is refused. */
static enum store_status no_pg_open(const char *path,
                                    const struct store_options *opt,
                                    struct store **out, char err[STORE_MSG_MAX])
{
    (void)path;
    (void)opt;
    (void)out;
    snprintf(err, STORE_MSG_MAX,
             "postgresql: this armmapd was built "
             "without PostgreSQL support (libpq-dev)");
    return STORE_UNAVAILABLE;
}

static enum store_status no_pg_verify(
    const char *path, void (*report)(void *arg, const char *line), void *arg,
    uint64_t *problems, char err[STORE_MSG_MAX])
{
    (void)report;
    (void)arg;
    (void)problems;
    return no_pg_open(path, NULL, NULL, err);
}

const struct store_backend store_pg_backend = {
    .name = "postgresql",
    .open = no_pg_open,
    .verify = no_pg_verify,
};
