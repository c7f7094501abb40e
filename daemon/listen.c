/* daemon/listen.c - the listeners: Unix socket, TCP, systemd activation.
 *
 * Under systemd socket activation ($LISTEN_PID is us, $LISTEN_FDS = n) the
 * n descriptors from fd 3 are adopted with evconnlistener_new() in place of
 * both our own sockets.  Otherwise we bind the Unix socket (mode 0660, a
 * stale socket file left by a dead daemon is removed, a live one is an
 * error) and, with --listen, a TCP address.  Every accepted descriptor goes
 * to srv_conn_accept(), which owns it from then on.  At shutdown the
 * listeners are freed first, so no connection arrives during the drain.
 */
#include "srv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int salen, void *arg)
{
    struct srv *s = arg;

    (void)l;
    (void)sa;
    (void)salen;
    if (s->stopping) {
        evutil_closesocket(fd);
        return;
    }
    srv_conn_accept(s, fd);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    int e = EVUTIL_SOCKET_ERROR();

    (void)l;
    (void)arg;
    /* EMFILE and friends: log and keep the listener; the loop retries. */
    srv_log(SRV_LOG_ERROR, "accept: %s", evutil_socket_error_to_string(e));
}

static int add_listener(struct srv *s, struct evconnlistener *l,
                        const char *what, char *err, size_t errsz)
{
    if (l == NULL) {
        snprintf(err, errsz, "armmapd: cannot listen on %s: %s", what,
                 strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(l, on_accept_error);
    s->lis[s->nlis++] = l;
    return 0;
}

/* Removes a socket file nobody listens on; fails if somebody does. */
static int clear_stale(const char *path, char *err, size_t errsz)
{
    struct sockaddr_un sa;
    struct stat sb;
    int fd, rc;

    if (lstat(path, &sb) != 0)
        return 0;
    if (!S_ISSOCK(sb.st_mode)) {
        snprintf(err, errsz,
                 "armmapd: --socket: '%s' exists and is not a socket", path);
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    if (rc == 0) {
        snprintf(err, errsz,
                 "armmapd: --socket: another daemon is serving '%s'", path);
        return -1;
    }
    unlink(path);
    return 0;
}

static int listen_unix(struct srv *s, char *err, size_t errsz)
{
    const char *path = s->st->socket_path;
    struct evconnlistener *l;
    struct sockaddr_un sa;
    mode_t old;

    if (clear_stale(path, err, errsz) != 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    old = umask(0117);
    l = evconnlistener_new_bind(s->base, on_accept, s,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                -1, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (l == NULL) {
        snprintf(err, errsz, "armmapd: --socket: cannot listen on '%s': %s",
                 path, strerror(errno));
        return -1;
    }
    chmod(path, 0660);
    s->unix_path = strdup(path);
    srv_log(SRV_LOG_INFO, "listening on %s", path);
    return add_listener(s, l, path, err, errsz);
}

static int listen_tcp(struct srv *s, char *err, size_t errsz)
{
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    struct evconnlistener *l;
    char host[128];
    socklen_t len = sizeof(ss);

    char text[300];
    const char *colon = strrchr(s->st->listen, ':');
    long want = colon != NULL ? atol(colon + 1) : -1;

    /* libevent refuses port 0 ("any free port"), so parse with port 1 and
     * put the real port in afterwards. */
    snprintf(text, sizeof(text), "%.*s:1",
             colon != NULL ? (int)(colon - s->st->listen) : 0, s->st->listen);
    memset(&ss, 0, sizeof(ss));
    if (colon == NULL || want < 0 || want > 65535 ||
        evutil_parse_sockaddr_port(text, (struct sockaddr *)&ss, &sslen) != 0) {
        snprintf(err, errsz,
                 "armmapd: --listen: '%s' is not a numeric HOST:PORT",
                 s->st->listen);
        return -1;
    }
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)want);
    else
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)want);
    l = evconnlistener_new_bind(s->base, on_accept, s,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                    LEV_OPT_CLOSE_ON_EXEC,
                                -1, (struct sockaddr *)&ss, sslen);
    if (l == NULL) {
        snprintf(err, errsz, "armmapd: --listen: cannot listen on '%s': %s",
                 s->st->listen, strerror(errno));
        return -1;
    }
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &len) ==
        0) {
        uint16_t port;

        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

            evutil_inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
            port = ntohs(a->sin6_port);
        } else {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;

            evutil_inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
            port = ntohs(a->sin_port);
        }
        srv_log(SRV_LOG_INFO, "listening on tcp %s:%u", host, port);
    }
    return add_listener(s, l, s->st->listen, err, errsz);
}

/* A socket systemd passes follows the rule --listen follows: TCP on an
 * address other than loopback needs credentials (a token or tenants
 * file).  Unix sockets pass.  Return: 0, or -1 with @err. */
static int check_passed(const struct srv *s, int fd, char *err, size_t errsz)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN];
    unsigned port;
    bool loop;

    if (s->st->auth_token_file != NULL || s->st->tenants_file != NULL ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;

        loop = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
        evutil_inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

        loop = memcmp(&a->sin6_addr, &in6addr_loopback, sizeof(a->sin6_addr)) ==
               0;
        evutil_inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
    } else {
        return 0;
    }
    if (loop)
        return 0;
    snprintf(err, errsz,
             "armmapd: systemd fd %d is TCP on %s:%u, not "
             "loopback; refusing to serve it without --auth-token-file or "
             "--tenants-file",
             fd, host, port);
    return -1;
}

/* Adopts $LISTEN_FDS descriptors; returns how many, or -1 on error. */
static int listen_systemd(struct srv *s, char *err, size_t errsz)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    long n, i;

    if (pid == NULL || fds == NULL || atol(pid) != (long)getpid())
        return 0;
    n = atol(fds);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (n <= 0)
        return 0;
    if (n > (long)(sizeof(s->lis) / sizeof(s->lis[0]))) {
        snprintf(err, errsz, "armmapd: systemd passed %ld sockets; at most %zu",
                 n, sizeof(s->lis) / sizeof(s->lis[0]));
        return -1;
    }
    for (i = 0; i < n; i++) {
        int fd = (int)(3 + i);
        struct evconnlistener *l;
        char what[32];

        if (check_passed(s, fd, err, errsz) != 0)
            return -1;
        evutil_make_socket_nonblocking(fd);
        evutil_make_socket_closeonexec(fd);
        l = evconnlistener_new(s->base, on_accept, s, LEV_OPT_CLOSE_ON_FREE, -1,
                               fd);
        snprintf(what, sizeof(what), "systemd fd %d", fd);
        if (add_listener(s, l, what, err, errsz) != 0)
            return -1;
    }
    srv_log(SRV_LOG_INFO, "serving %ld sockets from systemd", n);
    return (int)n;
}

int srv_listen_start(struct srv *s, char *err, size_t errsz)
{
    int n = listen_systemd(s, err, errsz);

    if (n != 0)
        return n < 0 ? -1 : 0;
    /* TCP first: once the Unix socket exists, everything listens. */
    if (s->st->listen != NULL && listen_tcp(s, err, errsz) != 0)
        return -1;
    return listen_unix(s, err, errsz);
}

void srv_listen_stop(struct srv *s)
{
    unsigned i;

    for (i = 0; i < s->nlis; i++)
        evconnlistener_free(s->lis[i]);
    s->nlis = 0;
    if (s->unix_path != NULL) {
        unlink(s->unix_path);
        free(s->unix_path);
        s->unix_path = NULL;
    }
}
