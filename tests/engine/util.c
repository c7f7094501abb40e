/* tests/engine/util.c - helpers shared by the engine suites. */
#include "check_engine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static struct mm_config config_va(const char *preset, va_list ap)
{
    struct mm_config cfg;
    char err[MM_MSG_MAX] = "";
    const char *kv;

    mm_config_default(&cfg);
    if (preset != NULL)
        ck_assert_msg(mm_config_preset(&cfg, preset, err) == MM_OK, "%s", err);
    while ((kv = va_arg(ap, const char *)) != NULL) {
        char key[64];
        const char *eq = strchr(kv, '=');

        ck_assert_msg(eq != NULL && (size_t)(eq - kv) < sizeof(key), "bad kv %s", kv);
        memcpy(key, kv, (size_t)(eq - kv));
        key[eq - kv] = '\0';
        ck_assert_msg(mm_config_set(&cfg, key, eq + 1, err) == MM_OK, "%s", err);
    }
    return cfg;
}

struct mm_config t_config(const char *preset, ...)
{
    struct mm_config cfg;
    va_list ap;

    va_start(ap, preset);
    cfg = config_va(preset, ap);
    va_end(ap);
    return cfg;
}

struct mm_machine *t_machine(const char *preset, ...)
{
    struct mm_config cfg;
    struct mm_machine *m = NULL;
    char err[MM_MSG_MAX] = "";
    va_list ap;

    va_start(ap, preset);
    cfg = config_va(preset, ap);
    va_end(ap);
    ck_assert_msg(mm_create(&cfg, &m, err) == MM_OK, "create: %s", err);
    return m;
}

enum mm_status t_create_status(const struct mm_config *cfg,
                               char err[MM_MSG_MAX])
{
    struct mm_machine *m = NULL;
    enum mm_status st = mm_create(cfg, &m, err);

    mm_destroy(m);
    return st;
}

unsigned long t_figure_before(const char *t, const char *what)
{
    const char *p = strstr(t, what), *s;

    ck_assert_msg(p != NULL, "no %s in:\n%s", what, t);
    s = p;
    while (s > t && s[-1] >= '0' && s[-1] <= '9')
        s--;
    return strtoul(s, NULL, 10);
}

void t_fix_checksum(uint8_t *buf, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (size_t i = 0; i + 8 < len; i++) {
        h ^= buf[i];
        h *= 0x100000001b3ull;
    }
    for (unsigned k = 0; k < 8; k++)
        buf[len - 8 + k] = (uint8_t)(h >> (8 * k));
}

void t_check(const struct mm_machine *m)
{
    char err[MM_MSG_MAX] = "";

    ck_assert_msg(mm_check(m, err) == MM_OK, "mm_check: %s", err);
}

char *t_report(const struct mm_machine *m, enum mm_report r)
{
    struct mm_buf b = {0};
    char *s;

    ck_assert_int_eq(mm_report(m, r, &b), MM_OK);
    s = malloc(b.len + 1);
    ck_assert_ptr_nonnull(s);
    if (b.len > 0)
        memcpy(s, b.data, b.len);
    s[b.len] = '\0';
    mm_buf_free(&b);
    return s;
}

unsigned t_random_len(unsigned full)
{
    const char *s = getenv("ARMMAP_RANDOM_OPS");
    unsigned long n;
    char *end;

    if (s == NULL || *s == '\0')
        return full;
    errno = 0;
    n = strtoul(s, &end, 10);
    ck_assert_msg(errno == 0 && *end == '\0' && n >= 1 && n <= T_RANDOM_OPS * 100ul,
                  "ARMMAP_RANDOM_OPS='%s' is not a count from 1 to %lu", s,
                  T_RANDOM_OPS * 100ul);
    n = ((unsigned long long)full * n + T_RANDOM_OPS - 1) / T_RANDOM_OPS;
    return n >= 1 ? (unsigned)n : 1u;
}
