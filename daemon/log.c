/* daemon/log.c - levelled logging to stderr or to --log-file.
 *
 * armmapd logs for journald: one line per event on stderr, prefixed with
 * the level, no timestamps (the journal adds them).  With --log-file the
 * lines go to that file instead, with a timestamp, and SIGHUP reopens it so
 * that logrotate can move it away.  The default level is "warn": a healthy
 * daemon is quiet.  Connection open/close are "info", errors "error",
 * slow operations "warn".
 */
#include "srv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int log_level = SRV_LOG_WARN;
static char *log_path; /* NULL: stderr */
static FILE *log_fp;   /* the open --log-file */

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int srv_log_open(int level, const char *path)
{
    log_level = level;
    free(log_path);
    log_path = NULL;
    if (path == NULL)
        return 0;
    log_path = strdup(path);
    if (log_path == NULL)
        return -1;
    return srv_log_reopen();
}

int srv_log_reopen(void)
{
    FILE *f;

    if (log_path == NULL)
        return 0;
    f = fopen(log_path, "a");
    if (f == NULL)
        return -1;
    setvbuf(f, NULL, _IOLBF, 0);
    if (log_fp != NULL)
        fclose(log_fp);
    log_fp = f;
    return 0;
}

void srv_log_close(void)
{
    if (log_fp != NULL)
        fclose(log_fp);
    log_fp = NULL;
    free(log_path);
    log_path = NULL;
}

bool srv_log_enabled(int level)
{
    return level <= log_level;
}

void srv_log(int level, const char *fmt, ...)
{
    FILE *f = log_fp != NULL ? log_fp : stderr;
    va_list ap;

    if (level > log_level)
        return;
    if (log_fp != NULL) {
        char ts[32];
        time_t now = time(NULL);
        struct tm tm;

        gmtime_r(&now, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ ", &tm);
        fputs(ts, f);
    }
    fprintf(f, "armmapd: %s: ",
            level_names[level < 0   ? 0
                        : level > 3 ? 3
                                    : level]);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}
