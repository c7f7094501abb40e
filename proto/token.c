/* proto/token.c - the one reader of auth token files (see token.h).
 *
 * The file is read whole up to TOKEN_MAX plus a little room for line ends,
 * so a TOKEN_MAX-byte token followed by "\r\n" still fits; anything longer
 * is refused rather than truncated, since a truncated token would fail
 * later with a less helpful message.
 */
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SLACK 64 /* trailing CR/LF we read past */

int token_read_file(const char *path, uint8_t buf[TOKEN_MAX], size_t *len,
                    char *err, size_t errsz)
{
    uint8_t tmp[TOKEN_MAX + SLACK + 1];
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errsz, "cannot read token file %s: %s", path,
                 strerror(errno));
        return -1;
    }
    while (n < sizeof(tmp)) {
        ssize_t k = read(fd, tmp + n, sizeof(tmp) - n);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            snprintf(err, errsz, "cannot read token file %s: %s", path,
                     strerror(errno));
            close(fd);
            return -1;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    while (n > 0 && (tmp[n - 1] == '\n' || tmp[n - 1] == '\r'))
        n--;
    if (n > TOKEN_MAX) {
        snprintf(err, errsz, "token file %s is longer than %d bytes", path,
                 TOKEN_MAX);
        return -1;
    }
    if (n == 0) {
        snprintf(err, errsz, "token file %s holds no token", path);
        return -1;
    }
    memcpy(buf, tmp, n);
    memset(tmp, 0, sizeof(tmp));
    *len = n;
    return 0;
}
