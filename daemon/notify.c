/* daemon/notify.c - the sd_notify protocol, written directly.
 *
 * systemd's Type=notify services send newline-separated "KEY=value"
 * datagrams to the AF_UNIX SOCK_DGRAM socket named by $NOTIFY_SOCKET; a
 * name starting with '@' is in the abstract namespace (the '@' becomes a
 * NUL byte).  We send READY=1 once serving, STATUS= lines while starting
 * and STOPPING=1 at shutdown.  libsystemd is not needed for this: the
 * protocol is one sendto() per message.  Without $NOTIFY_SOCKET nothing is
 * sent; a failure is logged, never fatal.
 */
#include "srv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int srv_notify(const char *fmt, ...)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t salen;
    char msg[512];
    size_t plen;
    va_list ap;
    ssize_t n;
    int fd;

    if (path == NULL || path[0] == '\0')
        return 0;
    plen = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sa.sun_path)) {
        srv_log(SRV_LOG_WARN, "NOTIFY_SOCKET '%s' is not a socket path", path);
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, plen);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
                        (path[0] == '@' ? 0 : 1));

    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        srv_log(SRV_LOG_WARN, "sd_notify: socket: %s", strerror(errno));
        return -1;
    }
    n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
               salen);
    close(fd);
    if (n < 0) {
        srv_log(SRV_LOG_WARN, "sd_notify to %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
