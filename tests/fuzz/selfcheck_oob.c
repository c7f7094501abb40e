/* tests/fuzz/selfcheck_oob.c - a planted memory error, for make fuzz-selfcheck.
 *
 * Not a harness of armmapd: an input starting "OOB!" reads one byte past
 * an 8-byte heap block, which only ASan reports (the read lands in the
 * allocator's slack; a build without sanitizers runs on, and so would
 * UBSan's object-size check: the size is volatile, so it cannot see it).  make
 * fuzz-selfcheck fuzzes it with the FUZZ_SANITIZE=none build, which must
 * pass, then replays what that run kept through tests/fuzz/asan_replay.sh
 * and the ASan+UBSan build, which must fail naming the overflow: the
 * fast mode's promise, end to end.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 4 && memcmp(data, "OOB!", 4) == 0) {
        volatile size_t n = 8;
        char *p = malloc(n);
        volatile char c;

        if (!p)
            return 0;
        memset(p, 0, n);
        c = p[n];
        (void)c;
        free(p);
    }
    return 0;
}
