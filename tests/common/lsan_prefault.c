/* tests/common/lsan_prefault.c - cheaper leak checks at exit (SANITIZE=1).
 *
 * Linked into every program of the sanitizer build (Makefile: SAN_PREFAULT),
 * and into nothing else.  At exit LeakSanitizer reads every writable
 * segment of every loaded module for pointers: its own runtimes' too,
 * about 12 MB of libasan's and libubsan's .bss that the program never
 * touched.  Read one page at a time, that is some 3,000 page faults, most
 * of the CPU a short sanitized process (an armmap command, a daemon a test
 * starts) spends.  At start this asks the kernel to map those pages in one
 * call per segment (MADV_POPULATE_READ, Linux 5.14; untouched .bss maps the
 * shared zero page, so no memory is used).  LeakSanitizer then scans the
 * same regions as before and finds the same leaks; only the faults go.  On
 * an older kernel madvise() fails and nothing changes.
 */
#define _GNU_SOURCE                     /* dl_iterate_phdr() */

#include <link.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22           /* linux/mman.h, since 5.14 */
#endif

/* Maps in the writable PT_LOAD segments of one module; never fails. */
static int populate_module(struct dl_phdr_info *info, size_t size,
                           void *data)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    ElfW(Half) i;

    (void)size;
    (void)data;
    for (i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t begin, end;

        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
            continue;
        begin = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
        end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + page - 1) &
              ~(page - 1);
        (void)madvise((void *)begin, end - begin, MADV_POPULATE_READ);
    }
    return 0;
}

/* Runs before main(): LeakSanitizer's scan at exit then faults no more. */
__attribute__((constructor)) static void lsan_prefault_writable(void)
{
    dl_iterate_phdr(populate_module, NULL);
}
