/* tests/daemon/test_stream_replies.c - replies produced in slices.
 *
 * A Dump reply is streamed (daemon/stream.c, daemon/dump.c): the ELF file
 * is read from the machine a slice at a time as the socket drains and
 * never exists whole in the daemon.  These tests check that the slices
 * add up to exactly the file srv_dump_elf() writes at once (in-process,
 * on an engine machine), that a reader taking it a few bytes at a time
 * gets the same bytes as one taking it at once and as `armmap dump`
 * writes to a file, and that a dump shows the machine as it was when it
 * was asked, whatever changes come while it is being read.
 */
#include "check_daemon.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "srv.h"

static struct tdaemon d;

static void teardown(void)
{
    td_cleanup(&d);
}

/* ---- in-process: dump.c read in slices ---------------------------------- */

static struct mm_machine *engine_machine(const char *preset, unsigned nvm)
{
    struct mm_config cfg;
    struct mm_machine *m;
    struct mm_result res;
    char err[MM_MSG_MAX];
    unsigned i;

    ck_assert_int_eq(mm_config_preset(&cfg, preset, err), MM_OK);
    ck_assert_int_eq(mm_create(&cfg, &m, err), MM_OK);
    for (i = 0; i < nvm; i++)
        ck_assert_int_eq(mm_vmalloc(m, 4u << 20, &res), MM_OK);
    return m;
}

/* Reads @dp to its end in slices of @slice bytes into a new buffer. */
static uint8_t *read_all(struct srv_dump *dp, size_t slice, size_t *len)
{
    uint8_t *buf = malloc((size_t)srv_dump_len(dp));
    size_t off = 0, k;

    ck_assert_ptr_nonnull(buf);
    while ((k = srv_dump_read(dp, buf + off, slice)) != 0) {
        ck_assert_uint_le(k, slice);
        off += k;
        ck_assert_uint_le(off, srv_dump_len(dp));
    }
    *len = off;
    return buf;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

START_TEST(test_dump_read_in_slices_is_the_whole_file)
{
    static const size_t slices[] = { 1, 7, 52, 4095, 4096, 65536, 1u << 24 };
    struct mm_machine *m = engine_machine("qemu-virt", 6);
    uint8_t *whole, *part;
    size_t wlen, plen, i;
    struct srv_dump *dp;
    uint32_t phnum;

    ck_assert_int_eq(srv_dump_elf(m, &whole, &wlen), MM_OK);
    /* The head: ELF32 LSB ET_CORE EM_ARM; then a PT_NOTE, and the PT_LOADs
     * whose data ends the file. */
    ck_assert_mem_eq(whole, "\177ELF\001\001\001", 7);
    ck_assert_uint_eq(whole[16] | whole[17] << 8, 4);
    ck_assert_uint_eq(whole[18] | whole[19] << 8, 40);
    phnum = whole[44] | whole[45] << 8;
    ck_assert_uint_ge(phnum, 2);
    ck_assert_uint_eq(le32(whole + 52), 4);             /* PT_NOTE */
    ck_assert_uint_eq(le32(whole + 52 + 32 * (phnum - 1)), 1);
    ck_assert_uint_eq(le32(whole + 52 + 32 * (phnum - 1) + 4) +
                          le32(whole + 52 + 32 * (phnum - 1) + 16),
                      wlen);
    for (i = 0; i < sizeof(slices) / sizeof(slices[0]); i++) {
        ck_assert_int_eq(srv_dump_open(m, &dp), MM_OK);
        ck_assert_uint_eq(srv_dump_len(dp), wlen);
        part = read_all(dp, slices[i], &plen);
        ck_assert_uint_eq(plen, wlen);
        ck_assert_msg(memcmp(part, whole, wlen) == 0,
                      "slices of %zu bytes differ from the whole dump",
                      slices[i]);
        free(part);
        srv_dump_close(dp);
    }
    free(whole);
    mm_destroy(m);
}
END_TEST

/* A dump opened on a machine, then moved to a copy of it (what a stream
 * does before the machine changes), gives the file of the machine as it
 * was when it was opened. */
START_TEST(test_dump_rebound_to_a_copy_reads_the_state_it_was_opened_on)
{
    struct mm_machine *m = engine_machine("qemu-virt", 3), *copy;
    uint8_t *before, *after, *got;
    size_t blen, alen, glen, head;
    struct srv_dump *dp;
    struct mm_result res;

    ck_assert_int_eq(srv_dump_elf(m, &before, &blen), MM_OK);
    ck_assert_int_eq(srv_dump_open(m, &dp), MM_OK);
    got = malloc(blen);
    ck_assert_ptr_nonnull(got);
    head = srv_dump_read(dp, got, 5000);
    ck_assert_uint_eq(head, 5000);
    copy = mm_clone(m);
    ck_assert_ptr_nonnull(copy);
    srv_dump_rebind(dp, copy);
    ck_assert_int_eq(mm_vmalloc(m, 32u << 20, &res), MM_OK);
    mm_destroy(m);                      /* the dump reads only the copy */
    glen = head + srv_dump_read(dp, got + head, blen);
    ck_assert_uint_eq(glen, blen);
    ck_assert_uint_eq(srv_dump_read(dp, got, 1), 0);
    ck_assert(memcmp(got, before, blen) == 0);
    ck_assert_int_eq(srv_dump_elf(copy, &after, &alen), MM_OK);
    ck_assert_uint_eq(alen, blen);
    free(after);
    free(got);
    free(before);
    srv_dump_close(dp);
    mm_destroy(copy);
}
END_TEST

/* ---- the daemon: a streamed Dump reply ---------------------------------- */

static Armmap__V1__Request dump_req(Armmap__V1__Dump *body, uint64_t id,
                                    uint64_t m)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;

    armmap__v1__dump__init(body);
    body->machine = m;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DUMP;
    req.dump = body;
    return req;
}

/* Reads exactly @len bytes, @chunk at a time at most, waiting (bounded)
 * for each. */
static void read_slowly(int fd, uint8_t *buf, size_t len, size_t chunk)
{
    size_t off = 0;

    while (off < len) {
        struct pollfd p = { fd, POLLIN, 0 };
        size_t want = len - off < chunk ? len - off : chunk;
        ssize_t k;

        ck_assert_int_eq(poll(&p, 1, 10000 * spawn_time_scale()), 1);
        k = read(fd, buf + off, want);
        ck_assert_int_gt(k, 0);
        off += (size_t)k;
    }
}

/* The whole reply frame to a Dump of @m, length prefix included, read
 * @chunk bytes at a time after @before_read ran (NULL: nothing). */
static uint8_t *dump_frame(int fd, uint64_t id, uint64_t m, size_t chunk,
                           void (*before_read)(void *), void *arg,
                           size_t *len)
{
    Armmap__V1__Dump body;
    Armmap__V1__Request req = dump_req(&body, id, m);
    uint8_t hdr[4], *frame;
    size_t n;

    td_send(fd, &req);
    if (before_read != NULL)
        before_read(arg);
    read_slowly(fd, hdr, 4, 4);
    n = (size_t)le32((const uint8_t[]){ hdr[3], hdr[2], hdr[1], hdr[0] });
    frame = malloc(4 + n);
    ck_assert_ptr_nonnull(frame);
    memcpy(frame, hdr, 4);
    read_slowly(fd, frame + 4, n, chunk);
    *len = 4 + n;
    return frame;
}

/* The ELF inside a Dump reply frame (asserts it is an OK reply to @id). */
static Armmap__V1__Response *unpack(const uint8_t *frame, size_t len,
                                    uint64_t id)
{
    Armmap__V1__Response *r =
        armmap__v1__response__unpack(NULL, len - 4, frame + 4);

    ck_assert_status(r, id, 0, "");
    ck_assert_int_eq(r->body_case, ARMMAP__V1__RESPONSE__BODY_DUMP);
    return r;
}

static uint64_t machine_with_tables(int fd, unsigned nvm)
{
    const uint32_t size[1] = { 8u << 20 };
    uint64_t m = td_create(fd, "qemu-virt", NULL);
    unsigned i;

    for (i = 0; i < nvm; i++)
        td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_VMALLOC, size, 1);
    return m;
}

/* Runs `armmap -s SOCK dump M FILE` and returns the file's bytes. */
static uint8_t *cli_dump(uint64_t m, size_t *len)
{
    char bin[PATH_MAX], mach[32], file[400];
    char *argv[] = { bin, "-s", d.sock, "dump", mach, file, NULL };
    uint8_t *buf;
    FILE *f;
    long n;
    pid_t pid;
    int status;

    td_binary(bin, sizeof(bin));
    bin[strlen(bin) - 1] = '\0';       /* .../armmapd -> .../armmap */
    snprintf(mach, sizeof(mach), "%llu", (unsigned long long)m);
    snprintf(file, sizeof(file), "%s/cli.elf", d.dir);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);

        dup2(devnull, 1);
        execv(bin, argv);
        _exit(127);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "armmap dump failed (%d)", status);
    f = fopen(file, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    ck_assert_int_gt(n, 0);
    rewind(f);
    buf = malloc((size_t)n);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

START_TEST(test_dump_read_slowly_is_the_dump_read_at_once)
{
    int fd, slow;
    uint64_t m;
    uint8_t *fast, *drip, *file;
    size_t flen, dlen, cli_len;
    Armmap__V1__Response *r;

    td_init(&d);
    td_start(&d, NULL);
    fd = td_session(&d, "default");
    m = machine_with_tables(fd, 12);
    fast = dump_frame(fd, 2, m, 1u << 24, NULL, NULL, &flen);
    slow = td_session(&d, "default");
    drip = dump_frame(slow, 2, m, 999, NULL, NULL, &dlen);
    ck_assert_uint_eq(dlen, flen);
    ck_assert(memcmp(fast, drip, flen) == 0);
    r = unpack(fast, flen, 2);
    ck_assert_uint_gt(r->dump->elf.len, 3 * 65536);     /* several slices */
    file = cli_dump(m, &cli_len);
    ck_assert_uint_eq(cli_len, r->dump->elf.len);
    ck_assert(memcmp(file, r->dump->elf.data, cli_len) == 0);
    td_ping(slow, 3);                   /* the connection reads again */
    td_ping(fd, 4);
    armmap__v1__response__free_unpacked(r, NULL);
    free(file);
    free(drip);
    free(fast);
    close(slow);
    close(fd);
}
END_TEST

struct change_ctx {
    int fd;
    uint64_t m;
};

/* Changes the machine (and so detaches the streams reading it). */
static void change_machine(void *arg)
{
    const struct change_ctx *cc = arg;
    const uint32_t size[1] = { 16u << 20 };

    td_op_ok(cc->fd, cc->m, ARMMAP__V1__OP_CODE__OP_VMALLOC, size, 1);
}

START_TEST(test_dump_shows_the_machine_as_it_was_asked)
{
    int fd, reader;
    uint64_t m;
    uint8_t *before, *during, *after;
    size_t blen, dlen, alen;
    struct change_ctx cc;

    td_init(&d);
    td_start(&d, NULL);
    fd = td_session(&d, "default");
    m = machine_with_tables(fd, 12);
    before = dump_frame(fd, 2, m, 1u << 24, NULL, NULL, &blen);
    reader = td_session(&d, "default");
    cc.fd = fd;
    cc.m = m;
    /* The dump is asked for, then the machine changes before a byte of
     * it is read. */
    during = dump_frame(reader, 3, m, 4096, change_machine, &cc, &dlen);
    ck_assert_uint_eq(dlen, blen);
    ck_assert(memcmp(during + 6, before + 6, blen - 6) == 0);   /* ids */
    after = dump_frame(fd, 4, m, 1u << 24, NULL, NULL, &alen);
    ck_assert_uint_gt(alen, blen);      /* the change is in the next one */
    td_ping(reader, 5);
    free(after);
    free(during);
    free(before);
    close(reader);
    close(fd);
}
END_TEST

/* ---- the daemon: a streamed History reply ------------------------------- */

/* The whole reply frame to request @req, read @chunk bytes at a time. */
static uint8_t *frame_of(int fd, const Armmap__V1__Request *req, size_t chunk,
                         size_t *len)
{
    uint8_t hdr[4], *frame;
    size_t n;

    td_send(fd, req);
    read_slowly(fd, hdr, 4, 4);
    n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 |
        hdr[3];
    frame = malloc(4 + n);
    ck_assert_ptr_nonnull(frame);
    memcpy(frame, hdr, 4);
    read_slowly(fd, frame + 4, n, chunk);
    *len = 4 + n;
    return frame;
}

/* A history of thousands of rows is packed a slice per loop turn; the
 * frame is the one packing the Response whole gives (protobuf-c packs
 * canonically: decoded and packed again, the bytes must not change). */
START_TEST(test_large_history_is_the_whole_reply)
{
    enum { ROWS = 3000 };
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__History h = ARMMAP__V1__HISTORY__INIT;
    Armmap__V1__Response *r;
    uint8_t *fast, *drip, *again;
    size_t flen, dlen, alen, i;
    uint64_t m;
    int fd, slow;

    td_init(&d);
    td_start(&d, NULL);
    fd = td_session(&d, "default");
    m = td_create(fd, "qemu-virt", NULL);
    td_send_flush_batch(fd, 2, m, ROWS);
    r = td_recv(fd);
    ck_assert_status(r, 2, 0, "");
    td_free(r);
    h.machine = m;
    h.limit = ROWS + 10;
    req.id = 3;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HISTORY;
    req.history = &h;
    fast = frame_of(fd, &req, 1u << 24, &flen);
    slow = td_session(&d, "default");
    drip = frame_of(slow, &req, 333, &dlen);
    ck_assert_uint_eq(dlen, flen);
    ck_assert(memcmp(fast, drip, flen) == 0);
    r = armmap__v1__response__unpack(NULL, flen - 4, fast + 4);
    ck_assert_status(r, 3, 0, "");
    ck_assert_int_eq(r->body_case, ARMMAP__V1__RESPONSE__BODY_HISTORY);
    ck_assert_uint_eq(r->history->n_events, ROWS);
    for (i = 0; i < r->history->n_events; i++)
        ck_assert_uint_eq(r->history->events[i]->seq, i + 1);
    ck_assert_uint_eq(r->history->next_after_seq, 0);
    ck_assert_uint_ge(r->history->n_counts, 1);
    again = srv_response_pack(r, &alen);
    ck_assert_uint_eq(alen, flen);
    ck_assert(memcmp(again, fast, flen) == 0);
    td_ping(slow, 4);
    td_ping(fd, 5);
    free(again);
    armmap__v1__response__free_unpacked(r, NULL);
    free(drip);
    free(fast);
    close(slow);
    close(fd);
}
END_TEST

/* ---- the daemon: a streamed Report reply -------------------------------- */

/* The pagetables report of a machine with many mappings runs past 64 KiB
 * and is streamed; the frame is what packing the Response whole gives,
 * for text, JSON and both, and a slow reader gets the same bytes. */
START_TEST(test_large_report_is_the_whole_reply)
{
    static const int formats[] = {
        ARMMAP__V1__REPORT_FORMAT__REPORT_FORMAT_TEXT,
        ARMMAP__V1__REPORT_FORMAT__REPORT_FORMAT_JSON,
        ARMMAP__V1__REPORT_FORMAT__REPORT_FORMAT_TEXT_AND_JSON,
    };
    enum { NSMALL = 3000 };
    static uint32_t sizes[NSMALL];
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Report rp = ARMMAP__V1__REPORT__INIT;
    Armmap__V1__Response *r;
    uint8_t *fast, *drip, *again;
    size_t flen, dlen, alen, i;
    uint64_t m;
    int fd, slow;

    td_init(&d);
    td_start(&d, NULL);
    fd = td_session(&d, "default");
    slow = td_session(&d, "default");
    m = machine_with_tables(fd, 1);
    for (i = 0; i < NSMALL; i++)        /* a line each, a guard between */
        sizes[i] = 4096u * (1 + i % 3);
    r = td_batch(fd, 2, m, ARMMAP__V1__OP_CODE__OP_VMALLOC, sizes, 1, NSMALL,
                 true);
    ck_assert_status(r, 2, 0, "");
    td_free(r);
    rp.machine = m;
    rp.kind = ARMMAP__V1__REPORT_KIND__REPORT_PAGETABLES;
    req.body_case = ARMMAP__V1__REQUEST__BODY_REPORT;
    req.report = &rp;
    for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        rp.format = formats[i];
        req.id = 10 + i;
        fast = frame_of(fd, &req, 1u << 24, &flen);
        drip = frame_of(slow, &req, 777, &dlen);
        ck_assert_uint_eq(dlen, flen);
        ck_assert(memcmp(fast, drip, flen) == 0);
        ck_assert_uint_gt(flen, 64u << 10);     /* streamed */
        r = armmap__v1__response__unpack(NULL, flen - 4, fast + 4);
        ck_assert_status(r, 10 + i, 0, "");
        ck_assert_int_eq(r->body_case, ARMMAP__V1__RESPONSE__BODY_REPORT);
        ck_assert_uint_eq(strlen(r->report->text) != 0,
                          formats[i] != ARMMAP__V1__REPORT_FORMAT__REPORT_FORMAT_JSON);
        ck_assert_uint_eq(strlen(r->report->json) != 0,
                          formats[i] != ARMMAP__V1__REPORT_FORMAT__REPORT_FORMAT_TEXT);
        again = srv_response_pack(r, &alen);
        ck_assert_uint_eq(alen, flen);
        ck_assert(memcmp(again, fast, flen) == 0);
        free(again);
        armmap__v1__response__free_unpacked(r, NULL);
        free(drip);
        free(fast);
    }
    td_ping(slow, 4);
    td_ping(fd, 5);
    close(slow);
    close(fd);
}
END_TEST

Suite *stream_replies_suite(void)
{
    Suite *s = suite_create("stream_replies");
    TCase *tc = tcase_create("dump");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_dump_read_in_slices_is_the_whole_file);
    tcase_add_test(tc,
                   test_dump_rebound_to_a_copy_reads_the_state_it_was_opened_on);
    tcase_add_test(tc, test_dump_read_slowly_is_the_dump_read_at_once);
    tcase_add_test(tc, test_dump_shows_the_machine_as_it_was_asked);
    tcase_add_test(tc, test_large_history_is_the_whole_reply);
    tcase_add_test(tc, test_large_report_is_the_whole_reply);
    suite_add_tcase(s, tc);
    return s;
}
