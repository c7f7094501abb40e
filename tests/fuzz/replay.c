/* tests/fuzz/replay.c - run a fuzz harness over files, without libFuzzer.
 *
 * Linked with one harness (tests/fuzz/fuzz_NAME.c) and built with the
 * project's own compiler and flags, this is how `make check` replays the
 * seed corpora and the regression inputs: every regular file in the
 * directories given is read whole and passed to LLVMFuzzerTestOneInput(),
 * in name order so that a failure is reproducible.  A crash is the
 * harness's abort() (or the sanitizers' report under SANITIZE=1); the
 * replay itself only checks that the directories could be read.  It sets
 * FUZZ_FULL_CHECKS=1 so that harnesses which sample their costlier checks
 * run all of them on every file.
 *
 *   fuzz_replay_conn conn -max=500 tests/fuzz/corpus/conn -max=0 \
 *       tests/fuzz/regress/conn
 *
 * prints "fuzz replay conn: 37 inputs ok".  -max=N (0: all) caps the files
 * replayed from each directory after it: when a directory holds more, N of
 * them spread evenly over the name order are replayed (a corpus that grew
 * in long campaigns stays quick to replay; regressions are all replayed).  A directory that does not
 * exist counts as empty (a harness may have no regressions yet).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* A custom mutator may call libFuzzer's own; a replay never mutates. */
__attribute__((weak)) size_t LLVMFuzzerMutate(uint8_t *data, size_t size,
                                              size_t max_size)
{
    (void)data;
    (void)max_size;
    return size;
}

/* The harness may define an initializer; this weak one stands in if not. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int read_whole(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;

    if (f == NULL)
        return -1;
    for (;;) {
        size_t got;

        if (n == cap) {
            uint8_t *nb;

            cap = cap ? cap * 2 : 4096;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    *out = buf;
    *len = n;
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Replays the regular files of @dir (at most @max, spread evenly, if
 * @max > 0); returns the count, or -1. */
static long replay_dir(const char *dir, long max)
{
    struct dirent **names;
    long count = 0;
    int n, i;

    n = scandir(dir, &names, NULL, by_name);
    if (n < 0)
        return errno == ENOENT ? 0 : -1;
    for (i = 0; i < n; i++) {
        char path[4096];
        struct stat sb;
        uint8_t *data;
        size_t len;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        free(names[i]);
        /* File i is taken when it starts a new n/max-th of the list. */
        if (max > 0 && n > max && i > 0 &&
            (long)i * max / n == (long)(i - 1) * max / n)
            continue;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (read_whole(path, &data, &len) != 0) {
            fprintf(stderr, "fuzz replay: cannot read %s: %s\n", path,
                    strerror(errno));
            count = -1;
            continue;
        }
        if (getenv("FUZZ_REPLAY_VERBOSE") != NULL)
            fprintf(stderr, "fuzz replay: %s\n", path);
        LLVMFuzzerTestOneInput(data, len);
        free(data);
        if (count >= 0)
            count++;
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    long total = 0, max = 0;
    int i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s NAME [-max=N] [DIR...]\n", argv[0]);
        return 2;
    }
    /* Every check on every input: harnesses that sample (fuzz_engine)
     * check all of a replay. */
    setenv("FUZZ_FULL_CHECKS", "1", 0);
    LLVMFuzzerInitialize(&argc, &argv);
    for (i = 2; i < argc; i++) {
        long n;

        if (strncmp(argv[i], "-max=", 5) == 0) {
            max = strtol(argv[i] + 5, NULL, 10);
            continue;
        }
        n = replay_dir(argv[i], max);

        if (n < 0) {
            fprintf(stderr, "fuzz replay %s: cannot read %s\n", argv[1],
                    argv[i]);
            return 1;
        }
        total += n;
    }
    printf("fuzz replay %s: %ld inputs ok\n", argv[1], total);
    return 0;
}
