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
#include <stdlib.h>
#include <string.h>

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

/*
 * Config texts: h_create() logs the canonical text of every new machine's
 * config, which mm_boots_create() has just formatted for its key (two
 * mm_config_format()s per create, ~20 snprintf()s each).  The last
 * SRV_TEXTS_MAX distinct configs keep their text here, compared by every
 * byte of the struct: equal bytes are equal fields, so the text is the
 * one mm_config_text() gives (a padding difference only costs a format).
 */
#define SRV_TEXTS_MAX 8

static struct config_text {
    struct mm_config cfg;
    char *text; /* NULL: unused */
} texts[SRV_TEXTS_MAX];
static size_t texts_next; /* the slot replaced next */
static pthread_mutex_t texts_lock = PTHREAD_MUTEX_INITIALIZER;

char *srv_config_text(const struct mm_config *cfg)
{
    struct config_text *t;
    char *text, *kept;
    size_t i;

    pthread_mutex_lock(&texts_lock);
    for (i = 0; i < SRV_TEXTS_MAX && texts[i].text != NULL; i++) {
        if (memcmp(&texts[i].cfg, cfg, sizeof(*cfg)) == 0) {
            text = strdup(texts[i].text);
            pthread_mutex_unlock(&texts_lock);
            return text;
        }
    }
    pthread_mutex_unlock(&texts_lock);
    text = mm_config_text(cfg);
    kept = text != NULL ? strdup(text) : NULL;
    if (kept == NULL)
        return text;
    pthread_mutex_lock(&texts_lock);
    t = &texts[texts_next];
    texts_next = (texts_next + 1) % SRV_TEXTS_MAX;
    free(t->text);
    t->cfg = *cfg;
    t->text = kept;
    pthread_mutex_unlock(&texts_lock);
    return text;
}
