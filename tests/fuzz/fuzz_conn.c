/* tests/fuzz/fuzz_conn.c - bytes on a socket, through the whole daemon.
 *
 * Each input is what a client writes on one connection: it reaches a real
 * server (srv_create(): the real engine, the real store on SQLite's
 * in-memory database, the real event loop) through one end of a
 * socketpair handed to srv_conn_accept(), exactly as an accepted socket
 * is.  Framing, decoding, Hello and its token, dispatch, the handlers, the
 * store's commits and the ordered replies all run as in armmapd.
 *
 * Input layout: byte 0 picks the server (bit 7 clear: the one with the
 * shared token; set: the one with the tenants file, below) and, in its
 * low 7 bits, the write size (0: everything in one write, else that many
 * bytes per write with the loop run between writes, so frames arrive in
 * pieces); the rest is the byte stream.  After the last
 * write the harness shuts down its sending side (EOF) and runs the loop
 * until the daemon has answered what it read and closed the connection;
 * a connection still open after CONN_WAIT_MS of wall time is a hang and
 * aborts.
 *
 * Oracles beyond the sanitizers: what comes back must be well-framed
 * Responses (each decodes; none answers INTERNAL) and afterwards no
 * machine may be broken and every machine must pass mm_check().
 *
 * What is sampled, and why the guarantee holds: mm_check() of every
 * machine cost about 300 us an input under ASan (a page-table walk per
 * machine), 12% of the harness.  Under libFuzzer it runs at the end of
 * one input in CHECK_EVERY, those whose bytes hash to 0 modulo
 * CHECK_EVERY (FNV-1a: the choice depends on the input alone, so a
 * failure reproduces from its file); the replay build (tests/fuzz/
 * replay.c: make fuzz-replay, make check, the regression inputs) checks
 * every input.  Everything else runs on every input: the sanitizers, the
 * reply checks, the broken-machine check (a machine the daemon found
 * inconsistent).  mm_check() looks only at the state an input leaves, and
 * the fuzzer runs each kept input's mutations thousands of times, so a
 * state that breaks an invariant is reached and checked again within a
 * few CHECK_EVERY inputs; every corpus input is checked whole by the
 * replays.
 *
 * Machines are booted once per distinct config: the harness is linked
 * with -Wl,--wrap=mm_create (Makefile, FUZZ_LIBS_conn), so the daemon's
 * creates, forks at seq 0 and replays get an mm_clone() of a machine the
 * real mm_create() booted from an identical struct mm_config earlier in
 * the process (BOOT_CACHE configs are kept; others boot each time).  The
 * engine is pure, so the clone is the state that booting gives; booting
 * cost 270-700 us under ASan, a clone about 100 us.  The boot code itself
 * still runs for every new config (fuzzed configs included) and in the
 * engine harness.
 *
 * Coverage: only daemon/ and proto/ (and this file) carry libFuzzer's
 * hooks; the engine and the store are built with ASan and UBSan but no
 * coverage (Makefile, FUZZ_NC_*): this harness is for the protocol and
 * the daemon, tests/fuzz/fuzz_engine.c is for the engine, and the
 * engine's edges were most of the features whose bookkeeping libFuzzer
 * pays per input.  No check is sampled for it: the engine code still
 * runs, sanitized, on every input.
 *
 * Where an input's time goes (perf, 9,000 fuzzed inputs after the
 * corpus): the conversation on the loop (libevent, conn.c, dispatch and
 * the handlers, a third), the store's writer thread (SQLite, a quarter;
 * srv_reset()'s DELETEs are a third of that), ASan's allocator (a tenth,
 * SQLite's allocations the most), srv_reset() dropping the machines
 * (mm_destroy(), 6%), libFuzzer's feature bookkeeping (8%), system calls
 * (the socketpair, epoll, futex hand-offs).  Sending in pieces (byte 0)
 * costs nothing measurable.  srv_reset() empties the store only if the
 * input wrote to it (daemon/persist.c): 59% of fuzzed inputs do not (no
 * Hello, a bad token, reads only), and for those the store's reset
 * transaction was half of their CPU.  FUZZ_CONN_STATS=1 prints, at exit,
 * the inputs each server held, the resets that emptied its store and
 * the tables those found holding rows (of 5 each).  For those that did write, store_reset() deletes only from the tables
 * that hold rows (a DELETE on an empty one journalled its 16 KiB root
 * page).  The harness waits on the server's loop: one event on its end
 * of the socketpair reads the replies when the daemon wrote them and
 * writes the next piece when there is room, and a timer of the loop is
 * the deadline (it used to recv() after every pass of the loop, ~13
 * calls an input that found nothing: under strace, the corpus's EAGAIN
 * recv() calls went 179 -> 3).  Fork replays' worker threads are still
 * made and joined per job (daemon/jobs.c): perf of 6,000 fuzzed inputs
 * puts thread create and exit (clone3, ASan's thread set-up, do_exit)
 * at 0.4% of the CPU, too little to pool them.  The second pass's
 * profile: kernel time 39% (pvm_irq_enable alone 25%: system calls and
 * futex hand-offs on this paravirtualised machine), ASan's allocator
 * and memset about a fifth, libFuzzer's bookkeeping 6%, SQLite 3%.
 *
 * The store's writer runs on this thread (the third pass): server() makes
 * the store inline (sq_test_inline_writer(), store/store_backend.h) and
 * loop_once() pumps it after every pass of the loop, committing what the
 * pass submitted in one transaction, as the writer thread would; the
 * completions come back through the store's eventfd and sq_reap(), as in
 * armmapd, and flushes, resets and the admin's purges (purge.c's thread)
 * run the writer's code on their caller's thread.  The daemon's code is
 * the same; only where a batch is cut differs (at the end of a pass; the
 * writer thread cuts one whenever it wakes), and the daemon takes either.
 * perf trace of 5,000 fuzzed inputs: 43,000 futex calls before (7 an
 * input, the loop's and the writer's), none after; system calls 40 an
 * input, 30 for a typical seed once converse() wrote the first piece
 * before the loop (the socketpair's conversation, epoll, the store's
 * eventfd).  Under libFuzzer ASan
 * also keeps no allocation stacks (malloc_context_size=0, 4% of the CPU)
 * and returns no memory to the OS (its madvise()s cost TLB shootdowns
 * and page faults, 3%): __asan_default_options() below.  20,000 fuzzed
 * inputs from the corpus (-seed=1, the Makefile's ASAN_OPTIONS), beside
 * the old binary on the loaded machine: 1,020-1,030 -> 1,350-1,490
 * inputs per CPU-second (system time halved); the corpus's files run 10
 * times each: 470 -> 630; 60 s of make fuzz side by side: 272 -> 401
 * inputs a second of wall clock.  What is
 * left (perf): libFuzzer's feature bookkeeping and leak checks a quarter,
 * kernel (system calls) 12-25%, SQLite's commits and resets 15%, ASan's
 * allocator 12%, booting clones and mm_destroy() 8%.
 *
 * The fourth pass.  perf (DWARF stacks) of 6,000 fuzzed inputs from the
 * corpus (-seed=1): 11% of the CPU went to libFuzzer re-reading its
 * corpus directory, which it does each second that it wrote an input
 * there: it ran again every file it had not added to its corpus (the
 * seeds that brought no new coverage, some 370 of the 759), runs that
 * count as inputs but mutate nothing.  make fuzz and make fuzz-long now
 * pass -reload=0 (Makefile, FUZZ_XOPTS_conn), as they did for
 * fuzz_engine.  SQLite keeps no memory statistics here (setup()): they
 * took a global mutex on every allocation, and the memdb journal makes
 * 16 (1 KiB chunks) per 16 KiB page it saves; the mutex went from 2.0%
 * to 0.5% of the samples of the corpus run 3 times.  The inline store
 * empties its tables at a reset without the rollback journal and turns
 * it back on before any other write (store_writer.c, journal_off(); test:
 * check_store's test_inline_reset_turns_the_journal_back_on): copying
 * the freed 16 KiB pages into the journal was half of a reset; the
 * store's part of srv_reset() went from 7.0% to 2.9% of the samples, and
 * the journal's memory barriers (below) from 4.0% to 1.8%.  Looked at and
 * left: leak checks are 0.6% (libFuzzer runs an input again only when
 * it ended with more mallocs than frees), so -detect_leaks stays on;
 * -entropic=0 would drop the entropic schedule's feature frequencies
 * (12%, perf annotate: a linear search of its list of the 100 rarest
 * features for each feature of an input seen no more often than the
 * most frequent of them) but gave neither more inputs per CPU-second
 * nor more coverage in two runs of 20,000; system calls are 8%
 * (strace -c of 3,000 inputs: 45 an input, epoll_wait 8, sendto 6,
 * epoll_ctl 5, readv 5, recvfrom 4),
 * most of them the pieces an input is sent in, which are the point of
 * byte 0; the memdb journal's chunks each pass sqlite3_malloc(), whose
 * sqlite3_initialize() check is a memory barrier (3.5%): the chunk and
 * page sizes are SQLite's and the store's (store_open.c).  The corpus
 * held 1.66 commits an input (FUZZ_CONN_STATS=1 prints them), 3 tables
 * emptied per reset that had any.  Where the corpus's inputs spend it
 * (perf, each file 3 times, before the reset without journal): the
 * daemon on the loop 54%, the store's commits (sq_test_pump()) 16%,
 * srv_reset() 14% (the store's DELETEs 7%, dropping the machines 6%),
 * mm_check() 2%, the socketpair and accepting it 1%; after it: the loop
 * 57%, the commits 14%, srv_reset() 10%.
 *
 * 20,000 fuzzed inputs from the corpus, beside the old binary as make
 * fuzz ran it, on a machine at a load of 8-11 on 2 cores: seeds 1-5
 * (before the reset without journal), 1,730-2,420 -> 1,670-2,900 inputs
 * per CPU-second; seeds 1-3 an hour later, the old build, this pass
 * without and with the reset change: 2,620-3,810, 3,680-3,780,
 * 2,990-3,690.  One build ran at 1,700 and at 3,800 within the hour: no
 * change of this pass shows above that noise in inputs per CPU-second
 * (the runs -reload=0 saves were cheap ones; the profile's shares above
 * are what moved).  Coverage did not drop: cov 1,690-1,730, median
 * 1,698, over ten runs of the old way, 1,693-1,724, median 1,701, over
 * nineteen with -reload=0.  With -entropic_number_of_rarest_features=25
 * (a shorter search) three runs differed from the default's by no more
 * than the noise; left at 100.  Still short of 5,000.
 *
 * The fifth pass (make fuzz-speed: -seed=1 -runs=20000 from the corpus,
 * best of 3, CPU time).  callgrind of 4,000 such runs (the UBSan build)
 * put 42% of the instructions in that rare-feature search (a find in the
 * list for every feature seen no more often than its most frequent
 * member, up to libFuzzer's threshold of 255 sightings);
 * -entropic_feature_frequency_threshold=8 (FUZZ_XOPTS_conn) drops a
 * feature from the list after 8, and the runs took 5.99 G instructions
 * instead of 9.84 G, with the same edges.  perf of the UBSan build then
 * put 8% in the compare hooks of three walks over 256 hash buckets,
 * nearly all empty, on every input (srv_reset()'s of the registry and
 * the request keys, srv_registry_foreach() of check_machine()), and
 * check_sampled()'s per-byte loop: tests/fuzz/nocov.txt.  Under ASan
 * conn still stays below 5,000 (3,484-4,246, three times best of 3, at a
 * load of 4 on 2 cores; UBSan alone 5,390-8,230), so make fuzz fuzzes it
 * with UBSan by default and replays what it kept with ASan (Makefile,
 * FUZZ_SANITIZE_conn; README, Fuzzing, says what that gives up).
 *
 * The sixth pass (issue #19: 5,000 a CPU-second steady under UBSan; the
 * lead measured 4,275).  perf with DWARF stacks of 25,000 runs of the
 * UBSan build from the corpus (-seed=1, make fuzz's options): the
 * conversation on the loop 56% (dispatch 32%: create 8%, report 5%,
 * clone 4%, fork 3%, op 2.5%), the store's commits 11%, srv_reset() 8%,
 * libFuzzer's feature collection 9%, compare hooks 14.5% spread over the
 * protocol code, system calls 16% (~20-40 an input).  Cut: formatting a
 * create's config text (mm_config_text(), two passes of ~20 snprintf()s
 * each, 5% of the CPU): mm_boots_create() formats it for its key and
 * h_create() again for the event; the daemon now takes the second from
 * srv_config_text() (daemon/boots.c: the last 8 configs' texts),
 * callgrind of the corpus: h_create() 210.7 M -> 153.1 M instructions;
 * check_sampled() had been inlined here, so its nocov.txt entry missed
 * and each input byte paid a compare hook (1.2%): noinline;
 * check_strings() (daemon/dispatch.c) formats a field's path only for an
 * error or a nested prefix; SHA-256's compression function carries no
 * coverage (nocov.txt, 0.6%); FUZZ_CONN_VERBOSE is read once; the
 * socketpair is non-blocking from the start (one fcntl() less).  The
 * sampling is as before (mm_check() on one input in CHECK_EVERY, by the
 * hash of its bytes, every input in the replays); every input still gets
 * the sanitizers, the reply checks and the broken-machine check, and
 * SHA-256 still runs sanitized.  The corpus replayed: 2.78 G -> 2.69 G
 * instructions (callgrind, -3.4%).  Side by side on a machine at a load
 * of 10-14 on 2 cores (make fuzz's options, -seed=1 -runs=20000; steady
 * = the inputs after the seed pass per CPU-second after it): UBSan, nine
 * pairs, 3,817-4,933 (mean 4,245) -> 4,201-5,497 (mean 4,673), the new
 * build ahead in eight; ASan, three pairs, 2,124-2,680 -> 2,277-2,752;
 * none 4,727-6,413 -> 5,642-6,206 (noise).  The corpus each run left,
 * replayed by the old UBSan build, gave the same edges (1,676-1,691) and
 * features.  At that load 5,000 is reached by the best runs only; what
 * is left is the engine (the boot key's format, config_hash() in a
 * clone's checkpoint, ptdump), SQLite's commits and the kernel.
 *
 * Measuring (a shared machine: CPU time, user + sys, not exec/s): every
 * file of tests/fuzz/corpus/conn given as arguments with -runs=1 (each
 * run once, no mutation, no feature bookkeeping), or -seed=1 -runs=N on
 * a copy of the corpus (with -reload=0, as make fuzz runs it), both under
 * /usr/bin/time.
 *
 * One server per process, reset after every input with srv_reset() (no
 * connection, no machine, an empty in-memory store handing out machine
 * ids from 1, counters and tenants forgotten): every input meets the
 * server srv_create() made, so a crash reproduces from its file alone,
 * and tests/daemon/test_reset.c checks that the same requests get the
 * same replies across a reset.  Creating a server per input cost 6.4 ms
 * (the store's two threads, SQLite's schema), 95% of an input's time.
 * The first server requires the token "fuzz-token" (tests/fuzz/mkseeds.c
 * writes it into the seeds' Hello) so that authentication is fuzzed too;
 * the second, made at the first input that asks for it, has a tenants
 * file instead (the two modes exclude each other): tenant "fuzz-a" with
 * token "fuzz-token-a" and small quotas, "fuzz-ops" with "fuzz-token-ops"
 * and admin rights, so that Hello's digest lookup (tenants.c, sha256.c),
 * the per-tenant quotas and the admin's stats and purge are fuzzed.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "armmap.pb-c.h"
#include "srv.h"
#include "store.h"
#include "store_backend.h" /* sq_test_inline_writer() */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CONN_WAIT_MS    10000           /* a connection must close by then */
#define CHECK_EVERY     8               /* mm_check() on 1 input in this */
#define BOOT_CACHE      32              /* booted configs kept */
#define FUZZ_TOKEN      "fuzz-token"

static char state_dir[64];
static char token_path[96];
static char tenants_path[96];
static char socket_path[96];
static char socket2_path[96];
static char idkey_path[96];
static bool verbose; /* FUZZ_CONN_VERBOSE: print each reply (setup()) */

#define ID_KEY "fuzz_conn id key, fixed: 32 byte"
_Static_assert(sizeof(ID_KEY) == 33, "the id key is 32 bytes");

/* The tenants file: names, SHA-256 of "fuzz-token-a" and "fuzz-token-ops"
 * (printf %s TOKEN | sha256sum), options. */
static const char tenants_text[] =
    "# fuzz_conn's tenants\n"
    "fuzz-a 9c31dcd969bec098877423d99024baff7aa6448bcf7e710fd42cb958a5084beb"
    " max-machines-per-tenant=3 max-events-per-tenant=400"
    " max-parked-kmaps=2 max-host-bytes-per-tenant=16M\n"
    "fuzz-ops 80b657a29392710cfd7367d905c6849b17b29c3a1b8abf4bbe6fc7154655b78d"
    " admin\n";

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_conn: %s\n", what);
    abort();
}

static void cleanup(void)
{
    unlink(token_path);
    unlink(tenants_path);
    unlink(socket_path);
    unlink(socket2_path);
    unlink(idkey_path);
    rmdir(state_dir);
}

/* libevent's own messages: errors only.  Its warning that two event bases
 * (the two servers) both have signal events is expected here: the
 * harness sends no signal. */
static void event_log(int severity, const char *msg)
{
    if (severity >= EVENT_LOG_ERR)
        fprintf(stderr, "fuzz_conn: libevent: %s\n", msg);
}

/* Once per process: the state directory, the token, tenants and id-key
 * files. */
static void setup(void)
{
    FILE *f;

    event_set_log_callback(event_log);
    verbose = getenv("FUZZ_CONN_VERBOSE") != NULL;
    /* No memory statistics in SQLite (before its first use): they cost a
     * global mutex on every allocation, and the memdb journal allocates
     * 1 KiB chunks, 16 per page it saves; nothing here reads them. */
    if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
        fail("sqlite3_config(SQLITE_CONFIG_MEMSTATUS) failed");
    snprintf(state_dir, sizeof(state_dir), "/tmp/armmap-fuzz-XXXXXX");
    if (mkdtemp(state_dir) == NULL)
        fail("mkdtemp failed");
    snprintf(token_path, sizeof(token_path), "%s/token", state_dir);
    snprintf(socket_path, sizeof(socket_path), "%s/s.sock", state_dir);
    snprintf(tenants_path, sizeof(tenants_path), "%s/tenants", state_dir);
    snprintf(socket2_path, sizeof(socket2_path), "%s/t.sock", state_dir);
    f = fopen(token_path, "w");
    if (f == NULL || fputs(FUZZ_TOKEN "\n", f) < 0 || fclose(f) != 0)
        fail("cannot write the token file");
    f = fopen(tenants_path, "w");
    if (f == NULL || fputs(tenants_text, f) < 0 || fclose(f) != 0)
        fail("cannot write the tenants file");
    /* A fixed key for the opaque machine ids of the tenants server, so
     * that an input names the same machines in every process (machine 1
     * is 141840823724283: tests/fuzz/mkseeds.c). */
    snprintf(idkey_path, sizeof(idkey_path), "%s/id-key", state_dir);
    f = fopen(idkey_path, "w");
    if (f == NULL || fwrite(ID_KEY, 1, 32, f) != 32 || fclose(f) != 0)
        fail("cannot write the id key");
    atexit(cleanup);
    if (srv_log_open(SRV_LOG_ERROR, NULL) != 0)
        fail("srv_log_open failed");
}

/* Once per process and server: the settings it is created from (the
 * server only reads them); @tenants: the tenants file, else the token. */
static void settings(struct srv_settings *st, bool tenants)
{
    char *argv[] = {
        "armmapd", "--state-dir", state_dir, "--database", ":memory:",
        "--socket", tenants ? socket2_path : socket_path,
        tenants ? "--tenants-file" : "--auth-token-file",
        tenants ? tenants_path : token_path,
        "--log-level", "error", "--idle-timeout", "2",
        "--max-machines", "64", "--max-machines-per-tenant", "16",
        "--max-frame", "1M", "--max-translate-batch", "4096",
        "--max-batch-ops", "256", "--max-history-rows", "256",
        "--max-queued-bytes", "1M", NULL
    };
    char err[1024];

    srv_settings_init(st);
    if (srv_settings_parse(st, (int)(sizeof(argv) / sizeof(argv[0])) - 1,
                           argv, err, sizeof(err)) != 0 ||
        srv_settings_finish(st, err, sizeof(err)) != 0)
        fail(err);
}

static struct srv *server(struct srv_settings *st)
{
    char err[1024];
    struct srv *s;

    s = srv_create(st, err, sizeof(err));
    if (s == NULL)
        fail(err);
    /* Group commit on this thread (loop_once()): the hand-offs to the
     * writer thread and back were a third of the harness's CPU. */
    if (sq_test_inline_writer(srv_persist_store(s)) != 0)
        fail("the store cannot run its writer inline");
    return s;
}

/* libFuzzer's driver entry point: present only under libFuzzer, absent
 * (NULL) in the replay build, which checks every input. */
int LLVMFuzzerRunDriver(int *argc, char ***argv,
                        int (*cb)(const uint8_t *data, size_t size))
    __attribute__((weak));

/* ASan's defaults under libFuzzer (ASAN_OPTIONS, e.g. the Makefile's
 * FUZZ_ASAN, adds to and overrides them): no allocation stack per
 * malloc() (unwinding and storing it was 4% of the CPU; a report still
 * names the faulting access's stack, and replaying the input with
 * ASAN_OPTIONS=malloc_context_size=30 gives the allocation's too).  The
 * replay build keeps ASan's defaults. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return LLVMFuzzerRunDriver != NULL
               ? "malloc_context_size=0:allocator_release_to_os_interval_ms=-1"
               : "";
}

/* Whether this input's machines get mm_check(): see the header.  Not
 * inlined: tests/fuzz/nocov.txt names it, and inlined into
 * LLVMFuzzerTestOneInput() its loop kept a compare hook per input byte
 * (1.2% of the UBSan build's CPU, perf). */
__attribute__((noinline)) static bool check_sampled(const uint8_t *data,
                                                    size_t size)
{
    uint32_t h = 2166136261u;

    if (LLVMFuzzerRunDriver == NULL)
        return true;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    return h % CHECK_EVERY == 0;
}

/* The boot cache (see the header): a booted machine per config, compared
 * by every byte of the struct (a padding difference only costs a boot).
 * Fork replays call mm_create() on worker threads: under boot_lock. */
enum mm_status __real_mm_create(const struct mm_config *cfg,
                                struct mm_machine **out, char err[MM_MSG_MAX]);
enum mm_status __wrap_mm_create(const struct mm_config *cfg,
                                struct mm_machine **out, char err[MM_MSG_MAX]);

static struct boot {
    struct mm_config cfg;
    struct mm_machine *m;
} boots[BOOT_CACHE];
static size_t nboots;
static pthread_mutex_t boot_lock = PTHREAD_MUTEX_INITIALIZER;

static enum mm_status boot(const struct mm_config *cfg,
                           struct mm_machine **out, char err[MM_MSG_MAX])
{
    enum mm_status st;
    size_t i;

    for (i = 0; i < nboots; i++) {
        if (memcmp(&boots[i].cfg, cfg, sizeof(*cfg)) != 0)
            continue;
        *out = mm_clone(boots[i].m);
        if (*out == NULL) {
            snprintf(err, MM_MSG_MAX, "out of host memory");
            return MM_NO_MEMORY;
        }
        err[0] = '\0';
        return MM_OK;
    }
    st = __real_mm_create(cfg, out, err);
    if (st == MM_OK && nboots < BOOT_CACHE) {
        /* Keep the boot, hand out a clone: as the daemon's mm_boots does,
         * so host bytes are a clone's on every create (a clone sizes its
         * area array to its areas: a 6.1 boot's is larger). */
        boots[nboots].cfg = *cfg;
        boots[nboots].m = *out;
        nboots++;
        *out = mm_clone(*out);
        if (*out == NULL)
            fail("out of memory");
    }
    return st;
}

enum mm_status __wrap_mm_create(const struct mm_config *cfg,
                                struct mm_machine **out, char err[MM_MSG_MAX])
{
    enum mm_status st;

    pthread_mutex_lock(&boot_lock);
    st = boot(cfg, out, err);
    pthread_mutex_unlock(&boot_lock);
    return st;
}

static void boots_free(void)
{
    while (nboots > 0)
        mm_destroy(boots[--nboots].m);
}

/* The replies, as they arrive: whole frames are checked and dropped. */
struct replies {
    uint8_t *buf;
    size_t len, cap;
};
static struct replies replies;  /* kept: no allocation per input */

/* INTERNAL means a bug (or a broken machine, which is one too). */
static void internal(const Armmap__V1__Status *st)
{
    if (st != NULL && st->code == ARMMAP__V1__CODE__INTERNAL) {
        fprintf(stderr, "fuzz_conn: INTERNAL: %s\n", st->message);
        fail("the daemon answered INTERNAL");
    }
}

static void check_frames(struct replies *r, bool at_end)
{
    size_t off = 0;

    while (r->len - off >= 4) {
        const uint8_t *p = r->buf + off;
        uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                     (uint32_t)p[2] << 8 | p[3];
        Armmap__V1__Response *resp;

        if (r->len - off - 4 < n)
            break;
        resp = armmap__v1__response__unpack(NULL, n, p + 4);
        if (resp == NULL)
            fail("a reply does not decode as a Response");
        internal(resp->status);
        if (resp->body_case == ARMMAP__V1__RESPONSE__BODY_OP)
            internal(resp->op->status);
        if (resp->body_case == ARMMAP__V1__RESPONSE__BODY_BATCH) {
            for (size_t i = 0; i < resp->batch->n_results; i++)
                internal(resp->batch->results[i]->status);
        }
        if (verbose)
            fprintf(stderr, "fuzz_conn: reply %llu: %d %s\n",
                    (unsigned long long)resp->id,
                    resp->status != NULL ? (int)resp->status->code : 0,
                    resp->status != NULL ? resp->status->message : "");
        armmap__v1__response__free_unpacked(resp, NULL);
        off += 4 + n;
    }
    memmove(r->buf, r->buf + off, r->len - off);
    r->len -= off;
    if (at_end && r->len != 0)
        fail("the daemon closed in the middle of a reply");
}

/* One conversation: the harness's end of the socketpair, watched by
 * @ev on the server's loop (reading the replies, and writing the input
 * while some is left), and the wall-clock deadline. */
struct talk {
    struct event *ev;
    int fd;
    const uint8_t *data;
    size_t size, off, chunk;
    bool closed;    /* the daemon closed its end (EOF or reset) */
    bool late;      /* CONN_WAIT_MS passed */
};

/* Reads what one recv() finds (the loop calls again while more is
 * there); at EOF or a reset, @t->closed. */
static void take_replies(struct talk *t)
{
    struct replies *r = &replies;
    ssize_t n;

    if (r->cap - r->len < 65536) {
        uint8_t *nb = realloc(r->buf, r->cap + 65536);

        if (nb == NULL)
            fail("out of memory");
        r->buf = nb;
        r->cap += 65536;
    }
    n = recv(t->fd, r->buf + r->len, r->cap - r->len, MSG_DONTWAIT);
    if (n > 0) {
        r->len += (size_t)n;
        check_frames(r, false);
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        t->closed = true;
    }
}

/* Writes the next piece of the input; after the last, shuts the sending
 * side (EOF) and watches for replies only. */
static void give_input(struct talk *t)
{
    size_t want = t->size - t->off;
    ssize_t n = 0;

    if (t->chunk != 0 && want > t->chunk)
        want = t->chunk;
    if (want > 0)
        n = send(t->fd, t->data + t->off, want, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0)
        t->off += (size_t)n;
    else if (n < 0 && errno != EAGAIN && errno != EINTR)
        t->off = t->size;       /* the daemon closed: stop sending */
    if (t->off == t->size) {
        shutdown(t->fd, SHUT_WR);
        event_del(t->ev);
        event_assign(t->ev, event_get_base(t->ev), t->fd,
                     EV_READ | EV_PERSIST, event_get_callback(t->ev), t);
        if (event_add(t->ev, NULL) != 0)
            fail("event_add failed");
    }
}

static void talk_cb(evutil_socket_t fd, short what, void *arg)
{
    struct talk *t = arg;

    (void)fd;
    if ((what & EV_READ) && !t->closed)
        take_replies(t);
    if ((what & EV_WRITE) && t->off < t->size)
        give_input(t);
}

/* The deadline: a conversation still open at CONN_WAIT_MS. */
static void late_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ((struct talk *)arg)->late = true;
}

/* One pass of @s's loop, then the store's commits of what the pass
 * submitted: the writer's work runs here, on this thread (the store is
 * inline: see server()), and its completions wake the next pass through
 * the store's eventfd, as the writer thread's do.  Every pass ends with a
 * pump, so the loop never sleeps on an uncommitted write. */
static void loop_once(struct srv *s)
{
    event_base_loop(s->base, EVLOOP_ONCE);
    sq_test_pump(srv_persist_store(s));
}

/* @arg: non-NULL if mm_check() runs too (a sampled input). */
static void check_machine(void *arg, struct srv_machine *sm)
{
    char err[MM_MSG_MAX];

    if (sm->broken != NULL) {
        fprintf(stderr, "fuzz_conn: machine %llu broken: %s\n",
                (unsigned long long)sm->id, sm->broken);
        fail("a machine is broken");
    }
    if (arg != NULL && sm->m != NULL && mm_check(sm->m, err) != MM_OK) {
        fprintf(stderr, "fuzz_conn: machine %llu: %s\n",
                (unsigned long long)sm->id, err);
        fail("mm_check failed");
    }
}

/* Feeds @data to the daemon in pieces of @chunk, one per pass of the
 * loop, and waits for the close, all on @s's loop: @ev (made once per
 * server, assigned here) reads the replies when they arrive and writes
 * when there is room; @tick is the deadline. */
static void converse(struct srv *s, struct event *ev, struct event *tick,
                     const uint8_t *data, size_t size, size_t chunk)
{
    struct timeval wait = { CONN_WAIT_MS / 1000, 0 };
    struct talk t = { .ev = ev, .data = data, .size = size, .chunk = chunk };
    int sv[2];

    /* Non-blocking, as the listener's accept4() hands armmapd a socket
     * (the daemon's fcntl() then only reads the flags). */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
                   sv) != 0)
        fail("socketpair failed");
    t.fd = sv[1];
    srv_conn_accept(s, sv[0]);
    evtimer_assign(tick, s->base, late_cb, &t);
    event_assign(ev, s->base, t.fd, EV_READ | EV_WRITE | EV_PERSIST, talk_cb,
                 &t);
    if (evtimer_add(tick, &wait) != 0)
        fail("event_add failed");
    /* The first piece now (the first pass of the loop found only room to
     * write it); an input sent whole watches for replies alone from the
     * start (give_input()), which saves a pass and two epoll_ctl()s. */
    give_input(&t);
    if (t.off < t.size && event_add(ev, NULL) != 0)
        fail("event_add failed");
    while (!t.closed && !t.late)
        loop_once(s);
    event_del(ev);
    if (t.late)
        fail("the connection did not close in time (hang)");
    check_frames(&replies, true);
    replies.len = 0;
    close(sv[1]);
    /* A lingering close (daemon/conn.c) ends when it reads our close. */
    while (s->n.connections != 0 && !t.late)
        loop_once(s);
    evtimer_del(tick);
    if (s->n.connections != 0)
        fail("the daemon closed the socket but kept the connection");
}

/* [0]: the token server, [1]: the tenants server; each made once. */
static struct srv_settings st[2];
static struct srv *srvs[2];
static struct event *ticks[2];
static struct event *talks[2];  /* converse()'s socket event, per server */
static uint64_t inputs[2]; /* conversations held, per server */
static uint64_t emptied[2]; /* tables its store's resets deleted from */
static uint64_t commits[2]; /* transactions its store committed */

static void teardown(void)
{
    for (int i = 0; i < 2; i++) {
        if (srvs[i] != NULL) {
            if (getenv("FUZZ_CONN_STATS") != NULL)
                fprintf(stderr,
                        "fuzz_conn: server %d: %" PRIu64 " inputs, %" PRIu64
                        " commits, the store emptied after %" PRIu64
                        " (%" PRIu64 " of their tables held rows)\n",
                        i, inputs[i], commits[i],
                        srv_persist_store_resets(srvs[i]), emptied[i]);
            event_free(ticks[i]);
            event_free(talks[i]);
            srv_destroy(srvs[i]);
            srv_settings_free(&st[i]);
            srvs[i] = NULL;
        }
    }
    boots_free();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    char err[1024];
    struct store_stats ss;
    uint64_t resets;
    int which;
    struct srv *s;

    if (size == 0)
        return 0;
    if (!ready) {
        setup();
        atexit(teardown);
        ready = true;
    }
    which = data[0] >> 7;
    if (srvs[which] == NULL) {
        settings(&st[which], which == 1);
        srvs[which] = server(&st[which]);
        ticks[which] = evtimer_new(srvs[which]->base, late_cb, NULL);
        talks[which] = event_new(srvs[which]->base, -1, 0, talk_cb, NULL);
        if (ticks[which] == NULL || talks[which] == NULL)
            fail("out of memory");
    }
    s = srvs[which];
    inputs[which]++;
    converse(s, talks[which], ticks[which], data + 1, size - 1,
             data[0] & 0x7f);
    srv_persist_flush(s);
    srv_registry_foreach(s->reg, NULL, check_machine,
                         check_sampled(data, size) ? s : NULL);
    resets = srv_persist_store_resets(s);
    store_stats(srv_persist_store(s), &ss);
    commits[which] += ss.commits; /* the reset zeroes the count */
    if (srv_reset(s, err, sizeof(err)) != 0)
        fail(err);
    if (srv_persist_store_resets(s) != resets) {
        store_stats(srv_persist_store(s), &ss);
        emptied[which] += ss.reset_deletes;
    }
    return 0;
}
