/* daemon/copy.c - armmapd --copy-to: moves a single node's SQLite
 * database into the PostgreSQL database a cluster will share
 * (store_copy(); docs/deploy.md).  Offline: no daemon may have either
 * open. */
#include "srv.h"
#include "../store/store.h"

#include <inttypes.h>
#include <stdio.h>

int srv_copy_store(const struct srv_settings *st)
{
    struct store_copy_counts n;
    char err[STORE_MSG_MAX];

    if (store_copy(st->database, st->copy_to, &n, err) != STORE_OK) {
        fprintf(stderr, "armmapd: --copy-to: %s\n", err);
        return 1;
    }
    printf("armmapd: copied %s: %" PRIu64 " machines (%" PRIu64
           " destroyed), %" PRIu64 " events, %" PRIu64 " checkpoints, %" PRIu64
           " request keys\n",
           st->database, n.machines, n.destroyed, n.events, n.checkpoints,
           n.rkeys);
    return 0;
}
