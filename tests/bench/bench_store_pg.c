/* tests/bench/bench_store_pg.c - events persisted per second by the store
 * alone, SQLite beside PostgreSQL in the same run.
 *
 * One thread submits BENCH_EVENTS events (two argument words each) over
 * BENCH_MACHINES machines, reaping when the queue answers STORE_BUSY, and
 * waits until every write is committed: group commit as the daemon uses
 * it, durability normal.  SQLite writes a file in a temporary directory;
 * PostgreSQL is a private server started here (tests/common/pgserver.c,
 * Unix socket only).  Prints both rates and their ratio; without the
 * server binaries it says so and prints SQLite's alone.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/pgserver.h"
#include "store.h"

#define BENCH_EVENTS    200000
#define BENCH_MACHINES  4

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct tally {
    uint64_t ok;
    uint64_t failed;
    char msg[STORE_MSG_MAX];
};

static void count(void *arg, void *cookie, enum store_status st,
                  const char *msg)
{
    struct tally *t = arg;

    (void)cookie;
    if (st == STORE_OK) {
        t->ok++;
    } else {
        t->failed++;
        snprintf(t->msg, sizeof(t->msg), "%s", msg);
    }
}

/* Events per second into the store at @path; < 0 after printing why. */
static double persist_rate(const char *what, const char *path)
{
    char err[STORE_MSG_MAX];
    struct store *s = NULL;
    struct tally t = { 0 };
    uint64_t ids[BENCH_MACHINES], seq[BENCH_MACHINES] = { 0 }, i;
    uint32_t args[2] = { 0x1000, 0xc0000000u };
    double t0, dt;

    if (store_open(path, NULL, &s, err) != STORE_OK) {
        fprintf(stderr, "bench_store_pg: %s: %s\n", what, err);
        return -1;
    }
    for (i = 0; i < BENCH_MACHINES; i++)
        if (store_submit_machine_create(s, "bench", "m", "cfg", 1, NULL,
                                        &ids[i]) != STORE_OK)
            return -1;
    store_flush(s);
    store_reap(s, count, &t);
    t0 = now_s();
    for (i = 0; i < BENCH_EVENTS; i++) {
        unsigned m = (unsigned)(i % BENCH_MACHINES);
        struct store_event ev = {
            .machine = ids[m], .seq = seq[m] + 1, .time_ms = 1, .op = 3,
            .nargs = 2, .args = args, .value = (uint32_t)i,
        };
        enum store_status st;
        int tries;

        for (tries = 0; tries < 1000000; tries++) {
            st = store_submit_event(s, &ev, NULL);
            if (st != STORE_BUSY)
                break;
            store_flush(s);
            store_reap(s, count, &t);
        }
        if (st != STORE_OK) {
            fprintf(stderr, "bench_store_pg: %s: submit: %s\n", what,
                    store_errmsg(s));
            store_close(s);
            return -1;
        }
        seq[m]++;
    }
    store_flush(s);
    store_reap(s, count, &t);
    dt = now_s() - t0;
    store_close(s);
    if (t.ok != BENCH_EVENTS + BENCH_MACHINES || t.failed != 0) {
        fprintf(stderr, "bench_store_pg: %s: %" PRIu64 " writes failed: "
                "%s\n", what, t.failed, t.msg);
        return -1;
    }
    return BENCH_EVENTS / dt;
}

int main(void)
{
    char dir[] = "/tmp/armmap-bench-XXXXXX", path[64], url[256];
    char why[256];
    struct pgserver pg;
    double sq, pq;
    int rc;

    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/bench.db", dir);
    sq = persist_rate("sqlite", path);
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    rc = system(path);
    (void)rc;
    if (sq < 0)
        return 1;
    printf("events persisted per second, store alone, group commit, "
           "normal: sqlite %.0f\n", sq);
    if (!pgserver_available(why)) {
        printf("  postgresql: skipped (%s)\n", why);
        return 0;
    }
    if (pgserver_start(&pg, why) != 0) {
        printf("  postgresql: server did not start: %s\n", why);
        pgserver_stop(&pg);
        return 1;
    }
    if (pgserver_create_db(&pg, "armmap_bench", url) != 0) {
        printf("  postgresql: %s\n", url);
        pgserver_stop(&pg);
        return 1;
    }
    pq = persist_rate("postgresql", url);
    pgserver_stop(&pg);
    if (pq < 0)
        return 1;
    printf("  postgresql %.0f (%.2fx slower than sqlite; target: within "
           "2x)\n", pq, sq / pq);
    return 0;
}
