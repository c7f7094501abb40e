/* tests/fuzz/fuzz_settings.c - armmapd's flags and config file.
 *
 * The input is a command line and a config file: its lines up to the first
 * empty line are argv words (argv[0] is "armmapd"), the rest is the text of
 * the file, which the harness writes to a temporary file and names with a
 * leading "--config" word (only when there is text).  srv_settings_parse()
 * and srv_settings_finish() then run as main() runs them.  Every word also
 * goes through srv_parse_size() on its own.
 *
 * Oracles beyond the sanitizers: a failure sets a message that names
 * armmapd; a success leaves the derived paths set and the limits in range.
 *
 * Inputs whose own words name --config are skipped: the harness decides
 * which file is read (a fuzzed "--config=/dev/stdin" would wait forever).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "srv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_WORDS   64

static char conf_path[64];
static int conf_fd = -1;

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_settings: %s: %s\n", what, detail);
    abort();
}

static void cleanup(void)
{
    unlink(conf_path);
}

static void setup(void)
{
    snprintf(conf_path, sizeof(conf_path), "/tmp/armmap-fuzz-conf-XXXXXX");
    conf_fd = mkstemp(conf_path);
    if (conf_fd < 0)
        fail("mkstemp", conf_path);
    atexit(cleanup);
}

static void write_conf(const char *text, size_t len)
{
    if (ftruncate(conf_fd, 0) != 0 ||
        (len > 0 && pwrite(conf_fd, text, len, 0) != (ssize_t)len))
        fail("write", conf_path);
}

static void check_result(const struct srv_settings *st, int rc,
                         const char *err)
{
    if (rc != 0) {
        if (strncmp(err, "armmapd: ", 9) != 0)
            fail("error message", err);
        return;
    }
    if (st->state_dir == NULL || st->database == NULL ||
        st->socket_path == NULL)
        fail("finish", "a derived path is not set");
    if (strlen(st->socket_path) >= 108)
        fail("finish", "accepted a socket path too long for sun_path");
    if (st->max_queued_bytes < 4096 || st->max_frame > 0xffffffffu)
        fail("finish", "accepted a limit out of range");
    if (st->log_level < SRV_LOG_ERROR || st->log_level > SRV_LOG_DEBUG)
        fail("finish", "log level out of range");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy, *p, *end, *argv[MAX_WORDS + 3];
    struct srv_settings st;
    char err[1024];
    int argc = 0, rc;
    uint64_t v;

    if (conf_fd < 0)
        setup();
    copy = malloc(size + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    end = copy + size;
    argv[argc++] = "armmapd";
    argv[argc++] = "--config";
    argv[argc++] = conf_path;
    /* Words: NUL-free lines up to the first empty one. */
    for (p = copy; p < end && *p != '\n' && argc < MAX_WORDS;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));

        if (nl == NULL)
            nl = end;
        *nl = '\0';
        if (strncmp(p, "--config", 8) == 0 || strlen(p) != (size_t)(nl - p)) {
            free(copy);
            return 0;
        }
        argv[argc++] = p;
        srv_parse_size(p, &v);
        p = nl + 1;
    }
    argv[argc] = NULL;
    if (p < end && *p == '\n')
        p++;
    if (p < end) {
        write_conf(p, (size_t)(end - p));
    } else {
        /* No file: drop the --config words. */
        memmove(argv + 1, argv + 3, (size_t)(argc - 2) * sizeof(*argv));
        argc -= 2;
    }
    err[0] = '\0';
    srv_settings_init(&st);
    rc = srv_settings_parse(&st, argc, argv, err, sizeof(err));
    if (rc == 0)
        rc = srv_settings_finish(&st, err, sizeof(err));
    check_result(&st, rc, err);
    srv_settings_free(&st);
    free(copy);
    return 0;
}
