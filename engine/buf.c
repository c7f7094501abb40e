/* engine/buf.c - growable report buffers and error messages.
 *
 * Reports are appended to a struct mm_buf that doubles as it grows.  A
 * failed allocation does not abort: it sets the buffer's oom flag, drops the
 * text, and mm_report() turns the flag into MM_NO_MEMORY, so one report too
 * large for the host never takes a daemon down.
 */
#include "mm_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mm_buf_free(struct mm_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Makes room for @extra more bytes plus a NUL; false when out of memory. */
static bool buf_reserve(struct mm_buf *b, size_t extra)
{
    size_t want = b->len + extra + 1;
    size_t cap = b->cap ? b->cap : 256;
    char *p;

    if (b->oom)
        return false;
    if (want <= b->cap)
        return true;
    while (cap < want)
        cap *= 2;
    p = realloc(b->data, cap);
    if (p == NULL) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void mm__buf_append(struct mm_buf *b, const void *data, size_t len)
{
    if (!buf_reserve(b, len))
        return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void mm__buf_printf(struct mm_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void mm__failf(char msg[MM_MSG_MAX], const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, MM_MSG_MAX, fmt, ap);
    va_end(ap);
}
