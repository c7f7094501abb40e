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

/* buf_reserve() when the buffer must grow (or is out of memory). */
static bool buf_grow(struct mm_buf *b, size_t extra)
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

/* Makes room for @extra more bytes plus a NUL; false when out of memory.
 * Every append asks, and nearly always there is room: that test inline. */
static inline bool buf_reserve(struct mm_buf *b, size_t extra)
{
    if (!b->oom && b->cap - b->len > extra)
        return true;
    return buf_grow(b, extra);
}

void mm__buf_append(struct mm_buf *b, const void *data, size_t len)
{
    if (!buf_reserve(b, len))
        return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

/* The digits of @v in @base, written backwards ending at @end; returns the
 * first digit. */
static char *fmt_digits(char *end, unsigned long long v, unsigned base, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

    do {
        *--end = digits[v % base];
        v /= base;
    } while (v != 0);
    return end;
}

/* Where fmt_fast() writes: a growable buffer @b, or (@b NULL) the array
 * @fixed of @cap bytes, which keeps the first @cap - 1 as vsnprintf()
 * does; @len counts every byte written either way. */
struct fmt_out {
    struct mm_buf *b;
    char *fixed;
    size_t cap, len;
};

/* @n bytes of @s, or @n times @c when @s is NULL; room in o->b reserved. */
static void out_bytes(struct fmt_out *o, const char *s, char c, size_t n)
{
    char *p;
    size_t keep = n;

    if (o->b != NULL) {
        p = o->b->data + o->b->len;
        o->b->len += n;
    } else {
        if (o->len + 1 >= o->cap)
            keep = 0;
        else if (keep > o->cap - 1 - o->len)
            keep = o->cap - 1 - o->len;
        p = o->fixed + (keep > 0 ? o->len : 0);
    }
    o->len += n;
    if (keep == 0)
        return;
    if (s != NULL)
        memcpy(p, s, keep);
    else
        memset(p, c, keep);
}

/* Writes @n bytes of @s, padded to @width with @pad on the left (or with
 * spaces on the right when @left); a '-' @sign goes before zero padding. */
static bool fmt_put(struct fmt_out *o, const char *s, size_t n, char sign, size_t width,
                    char pad, bool left)
{
    size_t body = n + (sign != 0), fill = width > body ? width - body : 0;

    if (o->b != NULL && !buf_reserve(o->b, body + fill))
        return false;
    if (!left && pad == ' ' && fill > 0)
        out_bytes(o, NULL, ' ', fill);
    if (sign != 0)
        out_bytes(o, &sign, 0, 1);
    if (!left && pad == '0' && fill > 0)
        out_bytes(o, NULL, '0', fill);
    out_bytes(o, s, 0, n);
    if (left && fill > 0)
        out_bytes(o, NULL, ' ', fill);
    return true;
}

/*
 * printf's conversions the engine's writers use, without vsnprintf: the
 * flags '-' and '0', a decimal width, the lengths l, ll and z, and %d %i
 * %u %x %X %c %s %%, as glibc prints them.  Returns 1 when @fmt was
 * formatted, 0 when it holds anything else (a precision, '*', '#', '+',
 * ' ', h, %p, %f, ...: the caller formats it with vsnprintf instead), -1 when out
 * of memory.  Either way the caller drops what was appended unless 1.
 */
static int fmt_fast(struct fmt_out *o, const char *fmt, va_list ap)
{
    char tmp[24];

    while (*fmt != '\0') {
        const char *lit = fmt;
        bool left = false;
        char pad = ' ', sign = 0, conv;
        size_t width = 0;
        unsigned lng = 0; /* 1: l, 2: ll, 3: z */
        unsigned long long v;
        const char *s;

        while (*fmt != '\0' && *fmt != '%')
            fmt++;
        if (fmt != lit && !fmt_put(o, lit, (size_t)(fmt - lit), 0, 0, ' ', false))
            return -1;
        if (*fmt == '\0')
            break;
        fmt++;
        for (;; fmt++) {
            if (*fmt == '-')
                left = true;
            else if (*fmt == '0')
                pad = '0';
            else
                break;
        }
        while (*fmt >= '0' && *fmt <= '9') {
            width = width * 10 + (size_t)(*fmt++ - '0');
            if (width > 4096)
                return 0;
        }
        if (*fmt == 'l') {
            lng = fmt[1] == 'l' ? 2 : 1;
            fmt += lng;
        } else if (*fmt == 'z') {
            lng = 3;
            fmt++;
        }
        conv = *fmt++;
        if (left)
            pad = ' '; /* '-' overrides '0' */
        switch (conv) {
        case 'd':
        case 'i': {
            long long x = lng == 2   ? va_arg(ap, long long)
                          : lng == 1 ? va_arg(ap, long)
                          : lng == 0 ? va_arg(ap, int)
                                     : 0;

            if (lng == 3)
                return 0; /* %zd: ssize_t, not used */
            v = x < 0 ? 0ull - (unsigned long long)x : (unsigned long long)x;
            sign = x < 0 ? '-' : 0;
            s = fmt_digits(tmp + sizeof(tmp), v, 10, false);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
            v = lng == 2   ? va_arg(ap, unsigned long long)
                : lng == 1 ? va_arg(ap, unsigned long)
                : lng == 3 ? va_arg(ap, size_t)
                           : va_arg(ap, unsigned int);
            s = fmt_digits(tmp + sizeof(tmp), v, conv == 'u' ? 10 : 16, conv == 'X');
            break;
        case 'c':
            if (lng != 0 || pad == '0')
                return 0;
            tmp[0] = (char)va_arg(ap, int);
            if (!fmt_put(o, tmp, 1, 0, width, ' ', left))
                return -1;
            continue;
        case 's':
            if (lng != 0 || pad == '0')
                return 0;
            s = va_arg(ap, const char *);
            if (s == NULL)
                s = "(null)"; /* glibc's text */
            if (!fmt_put(o, s, strlen(s), 0, width, ' ', left))
                return -1;
            continue;
        case '%':
            if (lng != 0 || width != 0 || left || pad == '0')
                return 0;
            if (!fmt_put(o, "%", 1, 0, 0, ' ', false))
                return -1;
            continue;
        default:
            return 0;
        }
        if (!fmt_put(o, s, (size_t)(tmp + sizeof(tmp) - s), sign, width, pad, left))
            return -1;
    }
    return 1;
}

void mm__buf_printf(struct mm_buf *b, const char *fmt, ...)
{
    size_t start = b->len;
    struct fmt_out o = { b, NULL, 0, 0 };
    va_list ap;
    int n;

    if (!buf_reserve(b, 0))
        return;
    va_start(ap, fmt);
    n = fmt_fast(&o, fmt, ap);
    va_end(ap);
    if (n == 1) {
        b->data[b->len] = '\0';
        return;
    }
    b->len = start; /* out of memory, or a conversion fmt_fast() leaves */
    b->data[start] = '\0';
    if (n < 0)
        return;
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
    struct fmt_out o = { NULL, msg, MM_MSG_MAX, 0 };
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = fmt_fast(&o, fmt, ap);
    va_end(ap);
    if (n == 1) {
        msg[o.len < MM_MSG_MAX ? o.len : MM_MSG_MAX - 1] = '\0';
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, MM_MSG_MAX, fmt, ap);
    va_end(ap);
}
