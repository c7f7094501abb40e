/* daemon/tenants.c - the tenants file, per-tenant state and quotas, and
 * the reaping of idle machines.
 *
 * Three modes decide who a connection is (man armmapd, SECURITY):
 *   - no credentials: Hello names any tenant;
 *   - --auth-token-file: one shared token, Hello still names the tenant;
 *   - --tenants-file: each line gives a tenant, the SHA-256 of its token
 *     and its quotas; Hello's token decides the tenant, and a name in
 *     Hello may only repeat it.
 * The file holds digests, not tokens, so reading it gives no credential.
 * A token is hashed once per Hello and its digest compared with every
 * line's, each comparison in constant time and without an early exit.
 * SIGHUP rereads the file; one with an error leaves the old table in use.
 *
 * struct srv_tenant is a tenant as served: its counters (what stats shows
 * to it) and its effective quotas (the file's override, else the
 * setting's default), made at its first Hello and freed once it has no
 * connection, machine or parked kmap left.  Tenants are few next to
 * machines and requests, so they sit on a list.
 *
 * The reaper: every second, machines of a tenant whose --machine-idle-ttl
 * (or the file's machine-idle-ttl) is not 0, and that no request has named
 * for that long, are destroyed as a destroy request would, their history
 * kept for history requests until purged.
 */
#include "srv.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#define LINE_MAX_BYTES 1024

struct srv_tenants {
    struct srv_tenant_conf *v;
    size_t n, cap;
};

int64_t srv_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* The file                                                            */
/* ------------------------------------------------------------------ */

bool srv_valid_tenant(const char *name)
{
    size_t n, i;

    if (name == NULL)
        return false;
    n = strlen(name);
    if (n == 0 || n > SRV_TENANT_MAX)
        return false;
    for (i = 0; i < n; i++) {
        char ch = name[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

void srv_tenants_free(struct srv_tenants *t)
{
    if (t == NULL)
        return;
    free(t->v);
    free(t);
}

size_t srv_tenants_count(const struct srv_tenants *t)
{
    return t != NULL ? t->n : 0;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

static bool parse_digest(const char *text, uint8_t out[32])
{
    size_t i;

    if (strlen(text) != 64)
        return false;
    for (i = 0; i < 32; i++) {
        int hi = hexval((unsigned char)text[2 * i]);
        int lo = hexval((unsigned char)text[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static bool parse_count(const char *text, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!isdigit((unsigned char)text[0]))
        return false;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

/* One "key=value" or "admin" of a line into @e; -1 with @err. */
static int parse_option(struct srv_tenant_conf *e, char *opt, const char *where,
                        char *err, size_t errsz)
{
    char *eq = strchr(opt, '=');
    const char *val = eq != NULL ? eq + 1 : NULL;
    uint64_t v;

    if (strcmp(opt, "admin") == 0) {
        e->admin = true;
        return 0;
    }
    if (eq != NULL)
        *eq = '\0';
    if (val != NULL && strcmp(opt, "max-machines-per-tenant") == 0 &&
        parse_count(val, 100000000, &v) && v > 0) {
        e->max_machines = v;
        return 0;
    }
    if (val != NULL && strcmp(opt, "max-parked-kmaps") == 0 &&
        parse_count(val, 100000000, &v) && v > 0) {
        e->max_parked_kmaps = v;
        return 0;
    }
    if (val != NULL && strcmp(opt, "max-host-bytes-per-tenant") == 0 &&
        srv_parse_size(val, &v) && v > 0 && v <= (1ull << 40)) {
        e->max_host_bytes = v;
        return 0;
    }
    if (val != NULL && strcmp(opt, "max-inflight-bytes-per-tenant") == 0 &&
        srv_parse_size(val, &v) && v > 0 && v <= (1ull << 40)) {
        e->max_inflight_bytes = v;
        return 0;
    }
    if (val != NULL && strcmp(opt, "max-events-per-tenant") == 0 &&
        parse_count(val, 1ull << 50, &v) && v > 0) {
        e->max_events = v;
        return 0;
    }
    if (val != NULL && strcmp(opt, "machine-idle-ttl") == 0 &&
        parse_count(val, 86400u * 365, &v)) {
        e->machine_idle_ttl = v;
        e->has_idle_ttl = true;
        return 0;
    }
    if (strcmp(opt, "max-machines-per-tenant") == 0 ||
        strcmp(opt, "max-parked-kmaps") == 0 ||
        strcmp(opt, "max-host-bytes-per-tenant") == 0 ||
        strcmp(opt, "max-inflight-bytes-per-tenant") == 0 ||
        strcmp(opt, "max-events-per-tenant") == 0 ||
        strcmp(opt, "machine-idle-ttl") == 0) {
        snprintf(err, errsz, "armmapd: %s: %s: '%s' is not a valid value",
                 where, opt, val != NULL ? val : "");
        return -1;
    }
    snprintf(err, errsz,
             "armmapd: %s: unknown option '%s' "
             "(max-machines-per-tenant, max-parked-kmaps, "
             "max-host-bytes-per-tenant, max-inflight-bytes-per-tenant, "
             "machine-idle-ttl, admin)",
             where, opt);
    return -1;
}

/* Checks @e against the lines before it. */
static int check_unique(const struct srv_tenants *t,
                        const struct srv_tenant_conf *e, const char *where,
                        char *err, size_t errsz)
{
    size_t i;

    for (i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].name, e->name) == 0) {
            snprintf(err, errsz,
                     "armmapd: %s: tenant '%s' is already on "
                     "line %u",
                     where, e->name, t->v[i].line);
            return -1;
        }
        if (memcmp(t->v[i].digest, e->digest, 32) == 0) {
            snprintf(err, errsz,
                     "armmapd: %s: tenant '%s' has the same token "
                     "as tenant '%s'",
                     where, e->name, t->v[i].name);
            return -1;
        }
    }
    return 0;
}

/* One non-empty line: "NAME DIGEST [OPTION]..." */
static int parse_line(struct srv_tenants *t, char *line, const char *where,
                      unsigned lineno, char *err, size_t errsz)
{
    struct srv_tenant_conf e;
    char *save = NULL, *name, *digest, *opt;

    memset(&e, 0, sizeof(e));
    e.line = lineno;
    name = strtok_r(line, " \t\r\n", &save);
    digest = strtok_r(NULL, " \t\r\n", &save);
    if (!srv_valid_tenant(name)) {
        snprintf(err, errsz,
                 "armmapd: %s: tenant '%.80s' is not 1-64 bytes "
                 "of [A-Za-z0-9._-]",
                 where, name);
        return -1;
    }
    snprintf(e.name, sizeof(e.name), "%s", name);
    if (digest == NULL || !parse_digest(digest, e.digest)) {
        snprintf(err, errsz,
                 "armmapd: %s: '%.80s' is not the 64 hex digits "
                 "of a SHA-256",
                 where, digest != NULL ? digest : "");
        return -1;
    }
    while ((opt = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
        if (parse_option(&e, opt, where, err, errsz) != 0)
            return -1;
    }
    if (check_unique(t, &e, where, err, errsz) != 0)
        return -1;
    if (t->n == t->cap) {
        size_t cap = t->cap != 0 ? t->cap * 2 : 16;
        struct srv_tenant_conf *v = realloc(t->v, cap * sizeof(*v));

        if (v == NULL) {
            snprintf(err, errsz, "armmapd: out of memory");
            return -1;
        }
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = e;
    return 0;
}

int srv_tenants_load(const char *path, struct srv_tenants **out, char *err,
                     size_t errsz)
{
    struct srv_tenants *t = calloc(1, sizeof(*t));
    char line[LINE_MAX_BYTES], where[600];
    unsigned lineno = 0;
    FILE *f;
    int rc = 0;

    if (t == NULL) {
        snprintf(err, errsz, "armmapd: out of memory");
        return -1;
    }
    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errsz, "armmapd: --tenants-file: cannot open '%s': %s",
                 path, strerror(errno));
        free(t);
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        char *hash = strchr(line, '#'), *p = line;

        lineno++;
        snprintf(where, sizeof(where), "%s:%u", path, lineno);
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errsz, "armmapd: %s: line longer than %d bytes",
                     where, LINE_MAX_BYTES - 2);
            rc = -1;
            break;
        }
        if (hash != NULL)
            *hash = '\0';
        while (isspace((unsigned char)*p))
            p++;
        if (*p != '\0')
            rc = parse_line(t, p, where, lineno, err, errsz);
    }
    fclose(f);
    if (rc != 0) {
        srv_tenants_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

const struct srv_tenant_conf *srv_tenants_match(const struct srv_tenants *t,
                                                const uint8_t *token,
                                                size_t len)
{
    const struct srv_tenant_conf *found = NULL;
    uint8_t dg[32];
    size_t i, k;

    if (t == NULL)
        return NULL;
    srv_sha256(token, len, dg);
    for (i = 0; i < t->n; i++) {
        volatile uint8_t diff = 0;

        for (k = 0; k < 32; k++)
            diff |= (uint8_t)(t->v[i].digest[k] ^ dg[k]);
        if (diff == 0)
            found = &t->v[i];
    }
    return found;
}

static const struct srv_tenant_conf *conf_by_name(const struct srv *s,
                                                  const char *name)
{
    size_t i;

    if (s->tenants_file == NULL)
        return NULL;
    for (i = 0; i < s->tenants_file->n; i++) {
        if (strcmp(s->tenants_file->v[i].name, name) == 0)
            return &s->tenants_file->v[i];
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Tenants as served                                                   */
/* ------------------------------------------------------------------ */

/* Quotas of @t: the file's, else the settings'. */
static void apply_conf(const struct srv *s, struct srv_tenant *t,
                       const struct srv_tenant_conf *conf)
{
    /* With a tenants file its lines say who is admin; without one,
     * --admin-tenant names the tenant (a name any client may claim). */
    t->admin = conf != NULL ? conf->admin
                            : s->st->admin_tenant != NULL &&
                                  strcmp(t->name, s->st->admin_tenant) == 0;
    t->own_max_machines = conf != NULL && conf->max_machines != 0;
    t->max_machines = conf != NULL && conf->max_machines != 0
                          ? conf->max_machines
                          : s->st->max_machines_per_tenant;
    t->max_parked_kmaps = conf != NULL && conf->max_parked_kmaps != 0
                              ? conf->max_parked_kmaps
                              : s->st->max_parked_kmaps;
    t->own_max_inflight_bytes = conf != NULL && conf->max_inflight_bytes != 0;
    t->max_inflight_bytes = t->own_max_inflight_bytes
                                ? conf->max_inflight_bytes
                                : s->st->max_inflight_bytes;
    t->own_max_events = conf != NULL && conf->max_events != 0;
    t->max_events = t->own_max_events ? conf->max_events : s->st->max_events;
    t->own_max_host_bytes = conf != NULL && conf->max_host_bytes != 0;
    t->max_host_bytes = t->own_max_host_bytes ? conf->max_host_bytes
                                              : s->st->max_host_bytes;
    t->machine_idle_ttl = conf != NULL && conf->has_idle_ttl
                              ? conf->machine_idle_ttl
                              : s->st->machine_idle_ttl;
}

struct srv_tenant *srv_tenant_get(struct srv *s, const char *name,
                                  const struct srv_tenant_conf *conf)
{
    struct srv_tenant *t;

    for (t = s->tenants; t != NULL; t = t->next) {
        if (strcmp(t->name, name) != 0)
            continue;
        if (conf != NULL) {
            /* A Hello with the file's current token: connections revoked
             * at a reload are closing already; this one is served. */
            memcpy(t->digest, conf->digest, sizeof(t->digest));
            t->revoked = false;
            apply_conf(s, t, conf);
        }
        return t;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    snprintf(t->name, sizeof(t->name), "%s", name);
    if (conf == NULL)
        conf = conf_by_name(s, name);
    if (conf != NULL)
        memcpy(t->digest, conf->digest, sizeof(t->digest));
    apply_conf(s, t, conf);
    t->next = s->tenants;
    s->tenants = t;
    return t;
}

void srv_tenant_release(struct srv *s, struct srv_tenant *t)
{
    struct srv_tenant **pp;

    if (t == NULL || t->connections > 0 || t->parked_kmaps > 0 ||
        srv_registry_tenant_count(s->reg, t->name) > 0)
        return;
    for (pp = &s->tenants; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            free(t);
            return;
        }
    }
}

void srv_tenants_close(struct srv *s)
{
    struct srv_tenant *t, *next;

    for (t = s->tenants; t != NULL; t = next) {
        next = t->next;
        free(t);
    }
    s->tenants = NULL;
    srv_tenants_free(s->tenants_file);
    s->tenants_file = NULL;
}

int srv_tenants_open(struct srv *s, char *err, size_t errsz)
{
    if (s->st->tenants_file == NULL)
        return 0;
    if (srv_tenants_load(s->st->tenants_file, &s->tenants_file, err, errsz) !=
        0)
        return -1;
    srv_log(SRV_LOG_INFO, "tenants file: %zu tenants",
            srv_tenants_count(s->tenants_file));
    return 0;
}

void srv_tenants_reload(struct srv *s)
{
    struct srv_tenants *fresh = NULL;
    struct srv_tenant *t;
    char err[1024];

    if (s->st->tenants_file == NULL)
        return;
    if (srv_tenants_load(s->st->tenants_file, &fresh, err, sizeof(err)) != 0) {
        srv_log(SRV_LOG_ERROR,
                "SIGHUP: %s; keeping the %zu tenants loaded "
                "before",
                err, srv_tenants_count(s->tenants_file));
        return;
    }
    srv_tenants_free(s->tenants_file);
    s->tenants_file = fresh;
    for (t = s->tenants; t != NULL; t = t->next) {
        const struct srv_tenant_conf *conf = conf_by_name(s, t->name);

        /* A tenant gone from the file, or whose token changed, loses the
         * connections its old token opened. */
        if (conf == NULL || memcmp(conf->digest, t->digest, 32) != 0) {
            t->revoked = t->connections > 0;
            if (t->revoked)
                srv_log(SRV_LOG_WARN,
                        "SIGHUP: tenant '%s' %s; closing its "
                        "%" PRIu64 " connections",
                        t->name,
                        conf == NULL ? "is no longer in the tenants file"
                                     : "has a new token",
                        t->connections);
        }
        apply_conf(s, t, conf);
    }
    srv_log(SRV_LOG_INFO, "SIGHUP: tenants file reloaded: %zu tenants",
            fresh->n);
    srv_conn_revoke(s);
}

/* ------------------------------------------------------------------ */
/* Reaping idle machines                                               */
/* ------------------------------------------------------------------ */

#define REAP_PERIOD_S 1

/* Seconds machines of @tenant may stay untouched; 0 = forever. */
static uint64_t ttl_of(struct srv *s, const char *tenant)
{
    const struct srv_tenant_conf *conf;
    struct srv_tenant *t;

    for (t = s->tenants; t != NULL; t = t->next) {
        if (strcmp(t->name, tenant) == 0)
            return t->machine_idle_ttl;
    }
    conf = conf_by_name(s, tenant);
    if (conf != NULL && conf->has_idle_ttl)
        return conf->machine_idle_ttl;
    return s->st->machine_idle_ttl;
}

struct reap_list {
    struct srv *s;
    int64_t now;
    uint64_t *ids;
    size_t n, cap;
};

static void reap_collect(void *arg, struct srv_machine *sm)
{
    struct reap_list *rl = arg;
    uint64_t ttl = ttl_of(rl->s, sm->tenant);

    if (ttl == 0 || rl->now - sm->touched_ms < (int64_t)(ttl * 1000))
        return;
    if (rl->n == rl->cap) {
        size_t cap = rl->cap != 0 ? rl->cap * 2 : 64;
        uint64_t *v = realloc(rl->ids, cap * sizeof(*v));

        if (v == NULL)
            return; /* the next round takes the rest */
        rl->ids = v;
        rl->cap = cap;
    }
    rl->ids[rl->n++] = sm->id;
}

/* Destroys @sm as h_destroy() does, with nobody to answer. */
static void reap_one(struct srv *s, struct srv_machine *sm)
{
    char err[SRV_MSG_MAX], msg[SRV_MSG_MAX];
    uint64_t ticket, ttl = ttl_of(s, sm->tenant);

    if (!srv_persist_has_room(s) || sm->fenced)
        return; /* the next round */
    ticket = srv_persist_destroy(s, sm, err, sizeof(err));
    if (ticket == 0) {
        srv_log(SRV_LOG_ERROR,
                "machine %" PRIu64 ": idle, but cannot be "
                "destroyed: %s",
                sm->id, err);
        return;
    }
    srv_machine_unlink(s->reg, sm->id);
    snprintf(msg, sizeof(msg),
             "kmap: machine %" PRIu64 " was destroyed "
             "(--machine-idle-ttl)",
             sm->ext_id);
    srv_park_fail_machine(s, sm, MM_NOT_FOUND, msg);
    s->n.changes++;
    srv_log(SRV_LOG_INFO,
            "machine %" PRIu64 " of tenant '%s': untouched for "
            "%" PRIu64 " s (--machine-idle-ttl); destroyed",
            sm->ext_id, sm->tenant, ttl);
}

static bool any_ttl(const struct srv *s)
{
    const struct srv_tenant *t;
    size_t i;

    if (s->st->machine_idle_ttl != 0)
        return true;
    for (t = s->tenants; t != NULL; t = t->next) {
        if (t->machine_idle_ttl != 0)
            return true;
    }
    for (i = 0; s->tenants_file != NULL && i < s->tenants_file->n; i++) {
        if (s->tenants_file->v[i].machine_idle_ttl != 0)
            return true;
    }
    return false;
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    struct srv *s = arg;
    struct reap_list rl;
    size_t i;

    (void)fd;
    (void)what;
    if (s->stopping || !any_ttl(s))
        return;
    memset(&rl, 0, sizeof(rl));
    rl.s = s;
    rl.now = srv_mono_ms();
    srv_registry_foreach(s->reg, NULL, reap_collect, &rl);
    for (i = 0; i < rl.n; i++) {
        struct srv_machine *sm = srv_machine_get(s->reg, rl.ids[i]);

        if (sm != NULL)
            reap_one(s, sm);
    }
    free(rl.ids);
    srv_conn_send_pending(s);
}

static void add_destroyed(void *arg, const char *tenant, uint64_t events)
{
    srv_registry_add_events(arg, tenant, events);
}

enum mm_status srv_tenants_count_events(struct srv *s)
{
    srv_registry_reset_events(s->reg);
    return srv_persist_foreach_destroyed(s, add_destroyed, s->reg);
}

int srv_reaper_start(struct srv *s)
{
    struct timeval tv = { REAP_PERIOD_S, 0 };

    s->reaper = event_new(s->base, -1, EV_PERSIST, on_reap, s);
    if (s->reaper == NULL)
        return -1;
    return event_add(s->reaper, &tv);
}
