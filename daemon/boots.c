/* daemon/boots.c - machines created as clones of booted templates.
 *
 * Every path that boots a machine from its config (Create, a Fork at seq
 * 0, recovery, a Fork's or a rebuild's replay on a worker thread, the
 * /at/ cache) goes through srv_boot(), which takes a clone of a booted
 * template from one process-wide mm_boots cache (engine/boots.c) instead
 * of booting: a 6.1 reference boot replays its vmalloc table and early
 * allocations, several times a clone's cost.  The machine is the one
 * mm_create() gives (tests/engine/test_boots.c).
 *
 * Process-wide, not per struct srv: the recovery workers and the fork
 * jobs see only their store reader, and a template depends on nothing but
 * its config, so any daemon in the process may share it.  Made on first
 * use, kept to the process's end (reachable from here, so no leak).
 * Bounded: SRV_BOOTS_MAX templates and SRV_BOOTS_BYTES host bytes (an
 * idle 2 GiB 6.1 machine is about 100 KB), least recently used dropped.
 */
#include "srv.h"

#include <pthread.h>

static struct mm_boots *boots;
static pthread_once_t boots_once = PTHREAD_ONCE_INIT;

static void boots_init(void)
{
    boots = mm_boots_new(SRV_BOOTS_MAX, SRV_BOOTS_BYTES);
}

enum mm_status srv_boot(const struct mm_config *cfg, struct mm_machine **out,
                        char err[MM_MSG_MAX])
{
    pthread_once(&boots_once, boots_init);
    if (boots == NULL) /* no host memory for the cache: boot */
        return mm_create(cfg, out, err);
    return mm_boots_create(boots, cfg, out, err);
}
