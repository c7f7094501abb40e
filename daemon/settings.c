/* daemon/settings.c - armmapd's settings: flags, config file, --help.
 *
 * One table lists every setting once: its name (the flag without "--" and
 * the config file key), its kind, where it lives in struct srv_settings,
 * its default as text and a one-line description.  The defaults are
 * applied by parsing that text, --help prints the table, and the config
 * file and the command line go through the same setter, so the three can
 * never disagree.
 *
 * Order: defaults, then the file named by --config (lines "name = value",
 * '#' starts a comment, blank lines ignored), then the other flags, so a
 * flag wins over the file.  Every bad value gets a message naming the
 * setting and the value: "armmapd: --max-frame: 'abc' is not a size".
 */
#include "srv.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "token.h"

enum kind {
    K_STRING,     /* a path or address */
    K_SIZE,       /* bytes, with K/M/G suffixes */
    K_SIZE0,      /* the same, 0 allowed (= none) */
    K_COUNT,      /* a positive integer */
    K_COUNT0,     /* an integer >= 0; 0 = never/off */
    K_SECONDS,    /* an integer >= 0; 0 = never */
    K_LEVEL,      /* error|warn|info|debug */
    K_DURABILITY, /* normal|full */
    K_FLAG        /* no value */
};

struct setting {
    const char *name;
    enum kind kind;
    size_t off;      /* offsetof(struct srv_settings, ...) */
    const char *def; /* default as text; NULL = none */
    const char *help;
    uint64_t max; /* largest value; 0 = the kind's */
};

#define OFF(f) offsetof(struct srv_settings, f)

static const struct setting table[] = {
    { "config", K_STRING, OFF(config), NULL,
      "read settings from FILE (lines \"name = value\", '#' comments)", 0 },
    { "state-dir", K_STRING, OFF(state_dir), "./armmapd-state",
      "database and socket directory ($STATE_DIRECTORY under systemd)", 0 },
    { "database", K_STRING, OFF(database), "STATE_DIR/armmapd.db",
      "SQLite database; \":memory:\" keeps history only until exit; "
      "\"postgresql://...\" a PostgreSQL database (libpq URI)",
      0 },
    { "socket", K_STRING, OFF(socket_path), "STATE_DIR/armmapd.sock",
      "Unix socket path, created mode 0660", 0 },
    { "listen", K_STRING, OFF(listen), "off",
      "TCP HOST:PORT; non-loopback needs a token or tenants file", 0 },
    { "http", K_STRING, OFF(http), "off",
      "HTTP/JSON API on HOST:PORT; non-loopback needs a token or tenants "
      "file",
      0 },
    { "http-max-body", K_SIZE, OFF(http_max_body), "1M",
      "largest HTTP request body", 0 },
    { "http-cors", K_STRING, OFF(http_cors), "none",
      "web origins (comma-separated) whose pages may call the HTTP API", 0 },
    { "http-root", K_STRING, OFF(http_root), SRV_WEB_ROOT,
      "directory of the teaching page --http serves outside /api/", 0 },
    { "http-heartbeat", K_SECONDS, OFF(http_heartbeat), "15",
      "seconds between heartbeat comments on event streams; 0 = none", 0 },
    { "http-max-subscribers", K_COUNT, OFF(http_max_subscribers), "256",
      "event streams (GET .../events) one tenant may hold open", 1000000 },
    { "http-rate", K_COUNT0, OFF(http_rate), "0",
      "HTTP requests per second one tenant may make; 0 = no limit", 1000000 },
    { "http-burst", K_COUNT0, OFF(http_burst), "0",
      "requests above --http-rate a tenant may make at once; 0 = the rate",
      1000000 },
    { "http-at-cache", K_COUNT, OFF(http_at_cache), "16",
      "past states (GET .../at/SEQ/...) kept for reads", 100000 },
    { "http-at-cache-bytes", K_SIZE, OFF(http_at_cache_bytes), "64M",
      "host bytes those past states may hold together", 1ull << 40 },
    { "auth-token-file", K_STRING, OFF(auth_token_file), "none",
      "clients must send this file's contents in Hello.token", 0 },
    { "tenants-file", K_STRING, OFF(tenants_file), "none",
      "tokens (as SHA-256) of each tenant, its quotas; reread on SIGHUP", 0 },
    { "admin-tenant", K_STRING, OFF(admin_tenant), "none",
      "without --tenants-file: the tenant that sees daemon-wide stats and "
      "purges every tenant's machines",
      0 },
    { "log-file", K_STRING, OFF(log_file), "stderr",
      "log to FILE instead of stderr (reopened on SIGHUP)", 0 },
    { "durability", K_DURABILITY, OFF(durability), "normal",
      "normal|full: full syncs every group commit to disk", 0 },
    { "log-level", K_LEVEL, OFF(log_level), "warn", "error|warn|info|debug",
      0 },
    { "max-frame", K_SIZE, OFF(max_frame), "16M",
      "largest request frame, bytes", 0 },
    { "max-hello-frame", K_SIZE, OFF(max_hello_frame), "8K",
      "largest frame before Hello succeeds, bytes", 65536 },
    { "hello-timeout", K_SECONDS, OFF(hello_timeout), "10",
      "seconds a new connection has to complete Hello; 0 = never", 0 },
    { "max-connections", K_COUNT, OFF(max_connections), "1024",
      "open connections", 1000000 },
    { "max-machines", K_COUNT, OFF(max_machines), "100000", "machines in total",
      100000000 },
    { "max-machines-per-tenant", K_COUNT, OFF(max_machines_per_tenant), "10000",
      "machines per tenant", 100000000 },
    { "max-parked-kmaps", K_COUNT, OFF(max_parked_kmaps), "1024",
      "kmaps waiting for a pkmap slot, per tenant", 100000000 },
    { "max-host-bytes-per-tenant", K_SIZE, OFF(max_host_bytes), "1G",
      "host memory the machines of one tenant may hold, bytes", 1ull << 40 },
    { "max-inflight-bytes-per-tenant", K_SIZE, OFF(max_inflight_bytes), "256M",
      "unsent reply bytes of one tenant's connections together", 1ull << 40 },
    { "max-events-per-tenant", K_COUNT, OFF(max_events), "100000000",
      "events the store may hold for one tenant's machines (live, and "
      "destroyed until purged)",
      1ull << 50 },
    { "machine-idle-ttl", K_SECONDS, OFF(machine_idle_ttl), "0",
      "destroy machines untouched this many seconds; 0 = never", 0 },
    { "max-translate-batch", K_COUNT, OFF(max_translate_batch), "1048576",
      "addresses per translate or phys request", 16777216 },
    { "max-batch-ops", K_COUNT, OFF(max_batch_ops), "4096",
      "operations per batch request", 1000000 },
    { "max-history-rows", K_COUNT, OFF(max_history_rows), "10000",
      "events per history reply", 1000000 },
    { "max-queued-bytes", K_SIZE, OFF(max_queued_bytes), "32M",
      "unsent reply bytes per connection before it stops being read",
      1ull << 40 },
    { "max-db-size", K_SIZE0, OFF(max_db_size), "0",
      "database size quota, bytes; 0 = none", 1ull << 50 },
    { "idle-timeout", K_SECONDS, OFF(idle_timeout), "300",
      "seconds a connection may stay silent; 0 = never", 0 },
    { "node", K_STRING, OFF(node), "none",
      "cluster mode: this node's name (1-64 of [A-Za-z0-9._-]); needs a "
      "PostgreSQL --database shared by every node",
      0 },
    { "advertise", K_STRING, OFF(advertise), "the --listen value",
      "cluster mode: the HOST:PORT other nodes name in MOVED redirects", 0 },
    { "advertise-http", K_STRING, OFF(advertise_http), "the --http value",
      "cluster mode: the HOST:PORT of HTTP 307 redirects to this node", 0 },
    { "lease-ms", K_COUNT, OFF(lease_ms), "10000",
      "cluster mode: the node's lease in ms (500-600000); it heartbeats "
      "every third of it",
      600000 },
    { "check-config", K_FLAG, OFF(check_config), NULL,
      "validate the settings and exit 0, or print the error and exit 2", 0 },
    { "checkpoint-every", K_COUNT0, OFF(checkpoint_every), "10000",
      "events of a machine between two checkpoints of its state (0: never)",
      0 },
    { "verify", K_FLAG, OFF(verify), NULL,
      "check the database offline (integrity, checksums, histories), print "
      "each problem, exit 0 if none, 1 otherwise",
      0 },
    { "copy-to", K_STRING, OFF(copy_to), "none",
      "copy the SQLite --database into this empty PostgreSQL database "
      "(postgresql://...) in one transaction, print what was copied, exit 0 "
      "(1 on failure)",
      0 },
    { "help", K_FLAG, OFF(help), NULL, "print this list and exit", 0 },
    { "version", K_FLAG, OFF(version), NULL, "print the version and exit", 0 },
};

#define NSETTINGS (sizeof(table) / sizeof(table[0]))

static const struct setting *find(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < NSETTINGS; i++) {
        if (strlen(table[i].name) == len &&
            memcmp(table[i].name, name, len) == 0)
            return &table[i];
    }
    return NULL;
}

bool srv_parse_size(const char *text, uint64_t *out)
{
    static const struct {
        const char *suf;
        uint64_t mul;
    } sufs[] = {
        { "", 1 },
        { "B", 1 },
        { "K", 1ull << 10 },
        { "KB", 1ull << 10 },
        { "KiB", 1ull << 10 },
        { "M", 1ull << 20 },
        { "MB", 1ull << 20 },
        { "MiB", 1ull << 20 },
        { "G", 1ull << 30 },
        { "GB", 1ull << 30 },
        { "GiB", 1ull << 30 },
    };
    char *end;
    unsigned long long v;
    size_t i;

    if (!isdigit((unsigned char)text[0]))
        return false;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0)
        return false;
    for (i = 0; i < sizeof(sufs) / sizeof(sufs[0]); i++) {
        if (strcmp(end, sufs[i].suf) == 0) {
            if (v > UINT64_MAX / sufs[i].mul)
                return false;
            *out = v * sufs[i].mul;
            return true;
        }
    }
    return false;
}

static bool parse_uint(const char *text, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!isdigit((unsigned char)text[0]))
        return false;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

/* The range check every number goes through. */
static int check_max(const struct setting *t, uint64_t v, const char *value,
                     const char *who, char *err, size_t errsz)
{
    if (t->max == 0 || v <= t->max)
        return 0;
    snprintf(err, errsz, "armmapd: %s: '%s' is above the maximum of %" PRIu64,
             who, value, t->max);
    return -1;
}

/* Applies one value; @who is "--name" or "FILE:LINE: name". */
static int set_one(struct srv_settings *st, const struct setting *t,
                   const char *value, const char *who, char *err, size_t errsz)
{
    char *base = (char *)st;
    uint64_t v;

    switch (t->kind) {
    case K_STRING: {
        char **p = (char **)(void *)(base + t->off);
        char *dup;

        if (value[0] == '\0') {
            snprintf(err, errsz, "armmapd: %s: empty value", who);
            return -1;
        }
        dup = strdup(value);
        if (dup == NULL) {
            snprintf(err, errsz, "armmapd: %s: out of memory", who);
            return -1;
        }
        free(*p);
        *p = dup;
        return 0;
    }
    case K_SIZE:
    case K_SIZE0:
        if (!srv_parse_size(value, &v) || (v == 0 && t->kind == K_SIZE)) {
            snprintf(err, errsz, "armmapd: %s: '%s' is not a size", who, value);
            return -1;
        }
        if (check_max(t, v, value, who, err, errsz) != 0)
            return -1;
        *(uint64_t *)(void *)(base + t->off) = v;
        return 0;
    case K_COUNT:
    case K_COUNT0:
        if (!parse_uint(value, &v) || (v == 0 && t->kind == K_COUNT)) {
            snprintf(err, errsz, "armmapd: %s: '%s' is not a %snumber", who,
                     value, t->kind == K_COUNT ? "positive " : "");
            return -1;
        }
        if (check_max(t, v, value, who, err, errsz) != 0)
            return -1;
        *(uint64_t *)(void *)(base + t->off) = v;
        return 0;
    case K_SECONDS:
        if (!parse_uint(value, &v) || v > 86400u * 365) {
            snprintf(err, errsz, "armmapd: %s: '%s' is not a number of seconds",
                     who, value);
            return -1;
        }
        *(uint64_t *)(void *)(base + t->off) = v;
        return 0;
    case K_LEVEL: {
        static const char *const names[] = { "error", "warn", "info", "debug" };
        int i;

        for (i = 0; i < 4; i++) {
            if (strcmp(value, names[i]) == 0) {
                *(int *)(void *)(base + t->off) = i;
                return 0;
            }
        }
        snprintf(err, errsz,
                 "armmapd: %s: '%s' is not one of error, warn, info, debug",
                 who, value);
        return -1;
    }
    case K_DURABILITY:
        if (strcmp(value, "normal") == 0) {
            *(int *)(void *)(base + t->off) = SRV_DURABILITY_NORMAL;
        } else if (strcmp(value, "full") == 0) {
            *(int *)(void *)(base + t->off) = SRV_DURABILITY_FULL;
        } else {
            snprintf(err, errsz, "armmapd: %s: '%s' is not one of normal, full",
                     who, value);
            return -1;
        }
        return 0;
    case K_FLAG:
        *(bool *)(void *)(base + t->off) = true;
        return 0;
    }
    return -1;
}

void srv_settings_init(struct srv_settings *st)
{
    char err[64];
    size_t i;

    memset(st, 0, sizeof(*st));
    for (i = 0; i < NSETTINGS; i++) {
        /* Only the typed defaults are parsed; strings are derived later. */
        if (table[i].def != NULL && table[i].kind != K_STRING &&
            table[i].kind != K_FLAG)
            set_one(st, &table[i], table[i].def, table[i].name, err,
                    sizeof(err));
    }
}

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int load_file(struct srv_settings *st, const char *path, char *err,
                     size_t errsz)
{
    FILE *f = fopen(path, "r");
    char line[1024], who[1200];
    unsigned lineno = 0;
    int rc = 0;

    if (f == NULL) {
        snprintf(err, errsz, "armmapd: --config: cannot open '%s': %s", path,
                 strerror(errno));
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        char *hash = strchr(line, '#'), *eq, *name, *value;
        const struct setting *t;

        lineno++;
        if (hash != NULL)
            *hash = '\0';
        name = trim(line);
        if (*name == '\0')
            continue;
        eq = strchr(name, '=');
        if (eq == NULL) {
            snprintf(err, errsz,
                     "armmapd: %s:%u: expected \"name = value\", "
                     "got '%s'",
                     path, lineno, name);
            rc = -1;
            break;
        }
        *eq = '\0';
        value = trim(eq + 1);
        name = trim(name);
        t = find(name, strlen(name));
        if (t == NULL || t->kind == K_FLAG || strcmp(t->name, "config") == 0) {
            snprintf(err, errsz, "armmapd: %s:%u: unknown setting '%s'", path,
                     lineno, name);
            rc = -1;
            break;
        }
        snprintf(who, sizeof(who), "%s:%u: %s", path, lineno, name);
        rc = set_one(st, t, value, who, err, errsz);
    }
    fclose(f);
    return rc;
}

/* Splits argv[*i] into a setting and its value ("--x=v" or "--x v"). */
static int next_flag(int argc, char **argv, int *i, const struct setting **t,
                     const char **value, char *err, size_t errsz)
{
    const char *arg = argv[*i], *eq;
    size_t len;

    if (strncmp(arg, "--", 2) != 0) {
        snprintf(err, errsz, "armmapd: unexpected argument '%s' (see --help)",
                 arg);
        return -1;
    }
    arg += 2;
    eq = strchr(arg, '=');
    len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    *t = find(arg, len);
    if (*t == NULL) {
        snprintf(err, errsz, "armmapd: unknown option '%s' (see --help)",
                 argv[*i]);
        return -1;
    }
    if ((*t)->kind == K_FLAG) {
        if (eq != NULL) {
            snprintf(err, errsz, "armmapd: --%s takes no value", (*t)->name);
            return -1;
        }
        *value = "";
        return 0;
    }
    if (eq != NULL) {
        *value = eq + 1;
        return 0;
    }
    if (*i + 1 >= argc) {
        snprintf(err, errsz, "armmapd: --%s: missing value", (*t)->name);
        return -1;
    }
    *value = argv[++*i];
    return 0;
}

int srv_settings_parse(struct srv_settings *st, int argc, char **argv,
                       char *err, size_t errsz)
{
    const struct setting *t;
    const char *value;
    char who[80];
    int i, pass;

    /* Pass 0 finds --config (and rejects bad syntax); pass 1 applies. */
    for (pass = 0; pass < 2; pass++) {
        for (i = 1; i < argc; i++) {
            if (next_flag(argc, argv, &i, &t, &value, err, errsz) != 0)
                return -1;
            if ((pass == 0) != (strcmp(t->name, "config") == 0))
                continue;
            snprintf(who, sizeof(who), "--%s", t->name);
            if (set_one(st, t, value, who, err, errsz) != 0)
                return -1;
        }
        if (pass == 0 && st->config != NULL &&
            load_file(st, st->config, err, errsz) != 0)
            return -1;
    }
    return 0;
}

static bool is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (strcmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0;
    return false;
}

static int dup_into(char **p, const char *v, char *err, size_t errsz)
{
    char *d = strdup(v);

    if (d == NULL) {
        snprintf(err, errsz, "armmapd: out of memory");
        return -1;
    }
    free(*p);
    *p = d;
    return 0;
}

/* The token file and the tenants file are read here too, so that
 * --check-config finds what is wrong in them (and the daemon reads them
 * again at start). */
static int check_credentials(const struct srv_settings *st, char *err,
                             size_t errsz)
{
    struct srv_tenants *t = NULL;

    if (st->admin_tenant != NULL && st->tenants_file != NULL) {
        snprintf(err, errsz,
                 "armmapd: --admin-tenant: with --tenants-file "
                 "the file marks admins ('admin' on a tenant's line)");
        return -1;
    }
    if (st->auth_token_file != NULL && st->tenants_file != NULL) {
        snprintf(err, errsz,
                 "armmapd: --tenants-file and --auth-token-file "
                 "cannot both be given");
        return -1;
    }
    if (st->auth_token_file != NULL) {
        uint8_t tok[TOKEN_MAX];
        char msg[512];
        size_t len;

        if (token_read_file(st->auth_token_file, tok, &len, msg, sizeof(msg)) !=
            0) {
            snprintf(err, errsz, "armmapd: --auth-token-file: %s", msg);
            return -1;
        }
        memset(tok, 0, sizeof(tok));
    }
    if (st->tenants_file != NULL) {
        if (srv_tenants_load(st->tenants_file, &t, err, errsz) != 0)
            return -1;
        srv_tenants_free(t);
    }
    return 0;
}

/* --listen and --http: HOST:PORT, loopback unless a credential is set. */
static int check_hostport(const struct srv_settings *st, const char *flag,
                          const char *value, char *err, size_t errsz)
{
    const char *colon;
    char host[256];
    uint64_t port;

    if (value == NULL)
        return 0;
    colon = strrchr(value, ':');
    if (colon == NULL || colon == value ||
        (size_t)(colon - value) >= sizeof(host) ||
        !parse_uint(colon + 1, &port) || port > 65535) {
        snprintf(err, errsz, "armmapd: --%s: '%s' is not HOST:PORT", flag,
                 value);
        return -1;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - value), value);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    if (!is_loopback(host) && st->auth_token_file == NULL &&
        st->tenants_file == NULL) {
        snprintf(err, errsz,
                 "armmapd: --%s: '%s' is not a loopback "
                 "address; refusing to serve it without --auth-token-file "
                 "or --tenants-file",
                 flag, value);
        return -1;
    }
    return 0;
}

/* True if @hp is HOST:PORT with a wildcard HOST (0.0.0.0, [::], *). */
static bool is_wildcard(const char *hp)
{
    size_t n = strrchr(hp, ':') != NULL ? (size_t)(strrchr(hp, ':') - hp) : 0;

    return (n == 7 && strncmp(hp, "0.0.0.0", 7) == 0) ||
           (n == 4 && strncmp(hp, "[::]", 4) == 0) ||
           (n == 1 && hp[0] == '*') || n == 0;
}

/* An address other nodes and clients are sent to: HOST:PORT, a real
 * port (not 0), a host that is no wildcard. */
static int check_advertised(const char *flag, const char *value, char *err,
                            size_t errsz)
{
    const char *colon;
    uint64_t port;

    if (value == NULL)
        return 0;
    colon = strrchr(value, ':');
    if (colon == NULL || colon == value || !parse_uint(colon + 1, &port) ||
        port == 0 || port > 65535 || is_wildcard(value)) {
        snprintf(err, errsz,
                 "armmapd: --%s: '%s' is not an address to be reached at "
                 "(HOST:PORT, no wildcard host, no port 0)",
                 flag, value);
        return -1;
    }
    return 0;
}

/* --node and its companions (the cluster contract); --advertise defaults
 * to --listen and --advertise-http to --http. */
static int check_cluster(struct srv_settings *st, char *err, size_t errsz)
{
    if (st->lease_ms < 500) {
        snprintf(err, errsz,
                 "armmapd: --lease-ms: '%" PRIu64
                 "' is below the minimum of 500",
                 st->lease_ms);
        return -1;
    }
    if (st->node == NULL) {
        if (st->advertise != NULL || st->advertise_http != NULL) {
            snprintf(err, errsz, "armmapd: --%s needs --node",
                     st->advertise != NULL ? "advertise" : "advertise-http");
            return -1;
        }
        return 0;
    }
    if (!srv_valid_tenant(st->node)) {
        snprintf(err, errsz,
                 "armmapd: --node: '%s' is not 1-64 bytes of "
                 "[A-Za-z0-9._-]",
                 st->node);
        return -1;
    }
    if (strncmp(st->database, "postgresql://", 13) != 0 &&
        strncmp(st->database, "postgres://", 11) != 0) {
        snprintf(err, errsz,
                 "armmapd: --node needs a PostgreSQL --database "
                 "(postgresql://...)");
        return -1;
    }
    if (st->advertise == NULL && st->listen == NULL) {
        snprintf(err, errsz,
                 "armmapd: --node needs --listen or --advertise (the "
                 "address other nodes redirect to)");
        return -1;
    }
    if (st->advertise == NULL && is_wildcard(st->listen)) {
        snprintf(err, errsz,
                 "armmapd: --listen: '%s' is a wildcard address; give "
                 "--advertise HOST:PORT",
                 st->listen);
        return -1;
    }
    if (st->advertise == NULL &&
        dup_into(&st->advertise, st->listen, err, errsz) != 0)
        return -1;
    if (st->advertise_http == NULL && st->http != NULL &&
        dup_into(&st->advertise_http, st->http, err, errsz) != 0)
        return -1;
    if (check_advertised("advertise", st->advertise, err, errsz) != 0 ||
        check_advertised("advertise-http", st->advertise_http, err, errsz) != 0)
        return -1;
    return 0;
}

int srv_settings_finish(struct srv_settings *st, char *err, size_t errsz)
{
    if (st->state_dir == NULL) {
        const char *sd = getenv("STATE_DIRECTORY");
        char buf[4096];

        if (sd != NULL && sd[0] != '\0') {
            /* systemd passes a colon-separated list: take the first. */
            snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(sd, ":"), sd);
            if (dup_into(&st->state_dir, buf, err, errsz) != 0)
                return -1;
        } else if (dup_into(&st->state_dir, "./armmapd-state", err, errsz) !=
                   0) {
            return -1;
        }
    }
    if (st->database == NULL) {
        char buf[4096];

        snprintf(buf, sizeof(buf), "%s/armmapd.db", st->state_dir);
        if (dup_into(&st->database, buf, err, errsz) != 0)
            return -1;
    }
    if (strcmp(st->database, ":memory:") == 0 &&
        st->durability == SRV_DURABILITY_FULL) {
        snprintf(err, errsz,
                 "armmapd: --durability full needs a database "
                 "file, not --database :memory:");
        return -1;
    }
    if (st->socket_path == NULL) {
        char buf[4096];

        snprintf(buf, sizeof(buf), "%s/armmapd.sock", st->state_dir);
        if (dup_into(&st->socket_path, buf, err, errsz) != 0)
            return -1;
    }
    if (strlen(st->socket_path) >= 108) {
        snprintf(err, errsz,
                 "armmapd: --socket: '%s' is longer than a Unix "
                 "socket path may be (107 bytes)",
                 st->socket_path);
        return -1;
    }
    if (check_hostport(st, "listen", st->listen, err, errsz) != 0 ||
        check_hostport(st, "http", st->http, err, errsz) != 0)
        return -1;
    if (check_credentials(st, err, errsz) != 0)
        return -1;
    if (check_cluster(st, err, errsz) != 0)
        return -1;
    if (st->max_queued_bytes < 4096) {
        snprintf(err, errsz,
                 "armmapd: --max-queued-bytes: '%" PRIu64
                 "' is below the minimum of 4096",
                 st->max_queued_bytes);
        return -1;
    }
    if (st->max_frame > 0xffffffffu) {
        snprintf(err, errsz,
                 "armmapd: --max-frame: '%" PRIu64 "' is above the "
                 "framing's maximum of 4294967295",
                 st->max_frame);
        return -1;
    }
    return 0;
}

void srv_settings_usage(FILE *f)
{
    size_t i;

    fprintf(f,
            "usage: armmapd [--name VALUE | --name=VALUE]...\n"
            "Hosts emulated 32-bit ARM Linux memory maps; see armmap(1).\n"
            "Every setting is also a config file key (\"name = value\").\n\n");
    for (i = 0; i < NSETTINGS; i++) {
        char left[64];

        snprintf(left, sizeof(left), "--%s%s", table[i].name,
                 table[i].kind == K_FLAG ? "" : " V");
        fprintf(f, "  %-28s %s", left, table[i].help);
        if (table[i].def != NULL)
            fprintf(f, " [default: %s]", table[i].def);
        fputc('\n', f);
    }
}

void srv_settings_free(struct srv_settings *st)
{
    if (st == NULL)
        return;
    free(st->config);
    free(st->state_dir);
    free(st->database);
    free(st->socket_path);
    free(st->listen);
    free(st->http);
    free(st->http_cors);
    free(st->http_root);
    free(st->auth_token_file);
    free(st->tenants_file);
    st->tenants_file = NULL;
    free(st->admin_tenant);
    st->admin_tenant = NULL;
    free(st->log_file);
    free(st->node);
    free(st->advertise);
    free(st->advertise_http);
    st->node = st->advertise = st->advertise_http = NULL;
    free(st->copy_to);
    st->copy_to = NULL;
    st->config = st->state_dir = st->database = st->socket_path = NULL;
    st->listen = st->auth_token_file = st->log_file = st->http = NULL;
    st->http_cors = st->http_root = NULL;
}
