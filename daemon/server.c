/* daemon/server.c - the server's life: start, signals, drain, stop.
 *
 * srv_create() does everything that can fail before the loop, in an order
 * that keeps clients out until the machines are back: read the auth token,
 * create the state directory, open the store and recover every machine,
 * then install the signal events and bind the listeners.  systemd hears
 * READY=1 only then.
 *
 * SIGTERM and SIGINT stop accepting, answer every request already read
 * (changes wait for their commits as always), then leave the loop; the
 * store is flushed and closed and the process exits 0.  A grace period
 * bounds the drain.  SIGHUP reopens the log file.  SIGPIPE is ignored
 * (writes to closed peers fail with EPIPE instead).
 */
#include "srv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "token.h"

#define DRAIN_GRACE_S 30 /* longest shutdown drain */

int64_t srv_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
    struct srv *s = arg;
    struct timeval grace = { DRAIN_GRACE_S, 0 };

    (void)what;
    if (s->stopping)
        return;
    srv_log(SRV_LOG_INFO, "signal %d: stopping", (int)sig);
    srv_notify("STOPPING=1");
    s->stopping = true;
    srv_listen_stop(s);
    srv_http_stop_accepting(s);
    srv_conn_drain_all(s);
    if (TAILQ_EMPTY(&s->conns))
        event_base_loopbreak(s->base);
    else
        event_base_loopexit(s->base, &grace);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    if (srv_log_reopen() != 0)
        srv_log(SRV_LOG_ERROR, "SIGHUP: cannot reopen the log: %s",
                strerror(errno));
    else
        srv_log(SRV_LOG_INFO, "SIGHUP: log reopened");
    srv_tenants_reload(arg);
}

static void on_ignore(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
}

/* The shared token (simple mode); the same reader as libarmmap's. */
static int read_token(struct srv *s, char *err, size_t errsz)
{
    const char *path = s->st->auth_token_file;
    uint8_t buf[TOKEN_MAX];
    char msg[512];
    size_t n;

    if (path == NULL)
        return 0;
    if (token_read_file(path, buf, &n, msg, sizeof(msg)) != 0) {
        snprintf(err, errsz, "armmapd: --auth-token-file: %s", msg);
        return -1;
    }
    s->token = malloc(n);
    if (s->token == NULL) {
        snprintf(err, errsz, "armmapd: out of memory");
        return -1;
    }
    memcpy(s->token, buf, n);
    memset(buf, 0, sizeof(buf));
    s->token_len = n;
    return 0;
}

/* --tenants-file: machine ids are opaque (machines.c), keyed by 32 random
 * bytes kept in STATE_DIR/id-key so that ids survive restarts.  A key
 * file that is not exactly 32 bytes is an error rather than replaced:
 * replacing it would change every id clients hold. */
static int load_id_key(struct srv *s, char *err, size_t errsz)
{
    char path[4200];
    uint8_t key[32];
    ssize_t n;
    int fd;

    if (s->st->tenants_file == NULL)
        return 0;
    snprintf(path, sizeof(path), "%s/id-key", s->st->state_dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, key, sizeof(key));
        close(fd);
        if (n != (ssize_t)sizeof(key)) {
            snprintf(err, errsz, "armmapd: '%s' is not a 32-byte id key", path);
            return -1;
        }
    } else {
        if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
            snprintf(err, errsz, "armmapd: getrandom: %s", strerror(errno));
            return -1;
        }
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) ||
            fsync(fd) != 0) {
            snprintf(err, errsz, "armmapd: cannot write '%s': %s", path,
                     strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        close(fd);
    }
    srv_registry_set_id_key(s->reg, key);
    memset(key, 0, sizeof(key));
    return 0;
}

static int make_state_dir(const char *dir, char *err, size_t errsz)
{
    struct stat sb;

    if (mkdir(dir, 0750) == 0 || errno == EEXIST) {
        if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
            return 0;
        snprintf(err, errsz, "armmapd: --state-dir: '%s' is not a directory",
                 dir);
        return -1;
    }
    snprintf(err, errsz, "armmapd: --state-dir: cannot create '%s': %s", dir,
             strerror(errno));
    return -1;
}

static struct event *add_signal(struct srv *s, int sig, event_callback_fn fn)
{
    struct event *ev = evsignal_new(s->base, sig, fn, s);

    if (ev != NULL)
        event_add(ev, NULL);
    return ev;
}

struct srv *srv_create(struct srv_settings *st, char *err, size_t errsz)
{
    struct srv *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        snprintf(err, errsz, "armmapd: out of memory");
        return NULL;
    }
    s->st = st;
    s->start_ms = srv_now_ms();
    TAILQ_INIT(&s->conns);
    TAILQ_INIT(&s->waiting);
    TAILQ_INIT(&s->to_send);
    s->base = event_base_new();
    s->reg = srv_registry_create();
    if (s->base == NULL || s->reg == NULL) {
        snprintf(err, errsz, "armmapd: out of memory");
        goto err;
    }
    if (read_token(s, err, errsz) != 0 ||
        srv_tenants_open(s, err, errsz) != 0 ||
        make_state_dir(st->state_dir, err, errsz) != 0 ||
        load_id_key(s, err, errsz) != 0)
        goto err;
    srv_notify("STATUS=recovering machines");
    if (srv_rkeys_open(s) != 0) {
        snprintf(err, errsz, "armmapd: out of memory");
        goto err;
    }
    if (srv_persist_open(s, err, errsz) != 0 ||
        srv_persist_recover(s, err, errsz) != 0)
        goto err;
    if (srv_tenants_count_events(s) != MM_OK) {
        snprintf(err, errsz,
                 "armmapd: store %s: cannot count the events of "
                 "destroyed machines",
                 st->database);
        goto err;
    }
    /* Signals before listeners: once a client can connect, a SIGHUP (log
     * rotation) must reopen the log, not kill the daemon by default. */
    s->sig_term = add_signal(s, SIGTERM, on_term);
    s->sig_int = add_signal(s, SIGINT, on_term);
    s->sig_hup = add_signal(s, SIGHUP, on_hup);
    s->sig_pipe = add_signal(s, SIGPIPE, on_ignore);
    if (s->sig_term == NULL || s->sig_int == NULL || s->sig_hup == NULL ||
        s->sig_pipe == NULL) {
        snprintf(err, errsz, "armmapd: cannot install signal handlers");
        goto err;
    }
    if (srv_reaper_start(s) != 0) {
        snprintf(err, errsz, "armmapd: out of memory");
        goto err;
    }
    if (srv_listen_start(s, err, errsz) != 0 ||
        srv_http_start(s, err, errsz) != 0)
        goto err;
    srv_notify("READY=1\nSTATUS=serving %zu machines",
               srv_registry_count(s->reg));
    return s;
err:
    srv_destroy(s);
    return NULL;
}

int srv_run(struct srv *s)
{
    uint64_t commits;

    event_base_dispatch(s->base);
    srv_listen_stop(s);
    srv_http_free(s);
    srv_conn_close_all(s);
    srv_purge_close(s);
    srv_history_close(s);
    commits = srv_persist_commits(s);
    srv_persist_close(s);
    srv_conn_free_waiting(s);
    srv_log(SRV_LOG_INFO,
            "stopped: %" PRIu64 " requests, %" PRIu64 " changes (%" PRIu64
            " answered after commit), %" PRIu64 " group commits",
            s->n.requests, s->n.changes, s->n.committed, commits);
    return 0;
}

void srv_destroy(struct srv *s)
{
    if (s == NULL)
        return;
    srv_listen_stop(s);
    srv_http_free(s);
    if (s->base != NULL)
        srv_conn_close_all(s);
    srv_purge_close(s);
    srv_history_close(s);
    srv_persist_close(s);
    srv_conn_free_waiting(s);
    if (s->sig_term != NULL)
        event_free(s->sig_term);
    if (s->sig_int != NULL)
        event_free(s->sig_int);
    if (s->sig_hup != NULL)
        event_free(s->sig_hup);
    if (s->sig_pipe != NULL)
        event_free(s->sig_pipe);
    if (s->reaper != NULL)
        event_free(s->reaper);
    srv_registry_destroy(s->reg);
    srv_rkeys_close(s);
    srv_tenants_close(s);
    if (s->base != NULL)
        event_base_free(s->base);
    free(s->token);
    free(s);
}

/* The served tenants (their usage, counters and quotas) go; the next
 * Hello makes them again from the settings and the tenants file. */
static void forget_tenants(struct srv *s)
{
    struct srv_tenant *t, *next;

    for (t = s->tenants; t != NULL; t = next) {
        next = t->next;
        free(t);
    }
    s->tenants = NULL;
}

int srv_reset(struct srv *s, char *err, size_t errsz)
{
    if (strcmp(s->st->database, ":memory:") != 0) {
        snprintf(err, errsz, "armmapd: reset: the store %s is not :memory:",
                 s->st->database);
        return -1;
    }
    srv_conn_close_all(s);
    srv_purge_close(s);
    srv_history_close(s);
    if (srv_persist_reset(s, err, errsz) != MM_OK)
        return -1;
    srv_conn_free_waiting(s);
    srv_commit_close(s);
    srv_registry_destroy(s->reg);
    srv_rkeys_close(s);
    forget_tenants(s);
    s->reg = srv_registry_create();
    if (s->reg == NULL || srv_commit_open(s) != 0 || srv_rkeys_open(s) != 0) {
        snprintf(err, errsz, "armmapd: out of memory");
        return -1;
    }
    if (load_id_key(s, err, errsz) != 0)
        return -1;
    memset(&s->n, 0, sizeof(s->n));
    s->store_waiters = 0;
    s->start_ms = srv_now_ms();
    return 0;
}
