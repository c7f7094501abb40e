/* tests/daemon/test_hugepage.c - recovery rebuilds machines in huge pages.
 *
 * Replay reads page tables, hash tables and area arrays all over ~20 MB of
 * heap per recovery thread; in 4 KiB pages that misses the TLB, which in a
 * VM costs most (issue 12: 4.3M events/s by default, 6.6M with glibc's
 * malloc asked for transparent huge pages through GLIBC_TUNABLES).  armmapd
 * now gets them itself, with no environment: the heap each recovery thread
 * faults in first is advised MADV_HUGEPAGE and collapsed (daemon/persist.c,
 * prefault_heap()).  These tests read the daemon's /proc/PID/smaps after a
 * restart: a heap mapping carries the "hg" VmFlag (advised, deterministic)
 * and, where this process can get a huge page itself right now, huge pages
 * back part of it (AnonHugePages).
 *
 * Skipped where the kernel has no THP or its mode is "never", under
 * valgrind (ARMMAPD_WRAPPER) and under ASan (its allocator, not glibc's,
 * places the pieces).
 */
#include "check_daemon.h"
#include "srv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD true
#else
#define ASAN_BUILD false
#endif

#ifndef MADV_COLLAPSE /* glibc 2.36's <sys/mman.h> lacks it */
/* KERNEL: include/uapi/asm-generic/mman-common.h, Linux 6.1 */
#define MADV_COLLAPSE 25
#endif

#define HUGE_BYTES    (2u << 20) /* x86-64 and arm64 4K-page PMD size */
/* Machines for the restart: each counts 64 KiB in the heap recovery
 * faults in, so 320 give every one of up to 4 recovery threads 5 MiB, a
 * run that holds at least one whole 2 MiB-aligned block. */
#define MACHINES 320

static struct tdaemon d;

static void setup(void)
{
    td_init(&d);
}

static void teardown(void)
{
    td_cleanup(&d);
}

/* True if this process can have a huge page now: a 2 MiB-aligned block
 * of a fresh mapping, one page written, advised and collapsed (what the
 * daemon asks for; refused before Linux 6.1 or when no huge page can be
 * had). */
static bool can_collapse(void)
{
    size_t len = 2 * (size_t)HUGE_BYTES;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *block;
    bool ok;

    if (p == MAP_FAILED)
        return false;
    block = (char *)(((uintptr_t)p + HUGE_BYTES - 1) &
                     ~((uintptr_t)HUGE_BYTES - 1));
    block[0] = 1;
    ok = madvise(block, HUGE_BYTES, MADV_HUGEPAGE) == 0 &&
         madvise(block, HUGE_BYTES, MADV_COLLAPSE) == 0;
    munmap(p, len);
    return ok;
}

START_TEST(test_recovery_heap_in_huge_pages)
{
    char want[64];
    long kib;
    int fd, i;

    if (!srv_thp_allowed() || spawn_wrapped() || ASAN_BUILD) {
        fprintf(stderr, "huge pages: no THP, valgrind or ASan; skipped\n");
        return;
    }
    td_start(&d, NULL);
    fd = td_session(&d, "alice");
    for (i = 0; i < MACHINES; i++)
        td_create(fd, "qemu-virt", NULL);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    td_start(&d, NULL);
    snprintf(want, sizeof(want), "recovered %d machines (0 broken)", MACHINES);
    ck_assert_msg(strstr(td_log(&d), want) != NULL, "%s", td_log(&d));
    ck_assert_msg(proc_huge_advised(d.pid),
                  "no mapping of armmapd is"
                  " advised MADV_HUGEPAGE after recovery");
    kib = proc_huge_kib(d.pid);
    if (can_collapse())
        ck_assert_msg(kib >= (long)(HUGE_BYTES >> 10),
                      "armmapd has %ld KiB in huge pages after recovering"
                      " %d machines, want at least %u",
                      kib, MACHINES, HUGE_BYTES >> 10);
}
END_TEST

Suite *hugepage_suite(void)
{
    Suite *s = suite_create("hugepage");
    TCase *tc = tcase_create("recovery");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_recovery_heap_in_huge_pages);
    suite_add_tcase(s, tc);
    return s;
}
