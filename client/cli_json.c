/* client/cli_json.c - the armmap CLI's JSON writer.
 *
 * Just enough JSON for flat result objects: keys are written with a comma
 * before every field but the first (the caller keeps the "first" flag),
 * strings are escaped per RFC 8259, numbers are plain decimal (addresses
 * too, so that they compare as numbers in any JSON tool).
 */
#include "cli.h"

#include <inttypes.h>

void cli_json_str(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");

    fputc('"', f);
    for (; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void cli_json_key(FILE *f, bool *first, const char *key)
{
    if (!*first)
        fputc(',', f);
    *first = false;
    cli_json_str(f, key);
    fputc(':', f);
}

void cli_json_kstr(FILE *f, bool *first, const char *key, const char *val)
{
    cli_json_key(f, first, key);
    cli_json_str(f, val);
}

void cli_json_ku64(FILE *f, bool *first, const char *key, uint64_t val)
{
    cli_json_key(f, first, key);
    fprintf(f, "%" PRIu64, val);
}

void cli_json_ki64(FILE *f, bool *first, const char *key, int64_t val)
{
    cli_json_key(f, first, key);
    fprintf(f, "%" PRId64, val);
}

void cli_json_kbool(FILE *f, bool *first, const char *key, bool val)
{
    cli_json_key(f, first, key);
    fputs(val ? "true" : "false", f);
}
