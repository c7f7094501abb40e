/* tests/client/test_dist.c - what the client ships, as a user gets it.
 *
 * The built libarmmap.so exports only the armmap_ API (nm -D), `make
 * install` into a DESTDIR puts the library and proto/armmap.proto in
 * place, and the Python example client (examples/, its module generated
 * from the proto with protoc) works against the real daemon; the README's
 * tour and armmap(1)'s example give what they show.
 */
#include "check_client.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The source tree: the test binary is ROOT/build/check_client or
 * ROOT/build/san/check_client.  *@san says which. */
static void source_root(char *buf, size_t size, bool *san)
{
    char *p;

    td_program("check_client", buf, size);
    p = strstr(buf, "/build/");
    ck_assert_msg(p != NULL, "test binary not under build/: %s", buf);
    *san = strncmp(p, "/build/san/", 11) == 0;
    *p = '\0';
}

/* Runs a shell command; returns its exit status and its output (first
 * @size - 1 bytes) in @out. */
static int run_shell(const char *cmd, char *out, size_t size)
{
    FILE *f = popen(cmd, "r");
    size_t n = 0, got;
    int st;

    ck_assert_msg(f != NULL, "popen %s", cmd);
    while (n + 1 < size && (got = fread(out + n, 1, size - 1 - n, f)) > 0)
        n += got;
    out[n] = '\0';
    while (fgetc(f) != EOF)
        ;
    st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `make install` (or @target) into tc_d.dir/dest from source tree @root;
 * asserts it succeeded. */
static void make_dest(const char *root, bool san, const char *target)
{
    char cmd[4 * PATH_MAX];
    static char out[65536];

    snprintf(cmd, sizeof(cmd),
             "timeout 300 make --no-print-directory -s -C '%s' %s %s "
             "DESTDIR='%s/dest' 2>&1",
             root, san ? "SANITIZE=1" : "", target, tc_d.dir);
    ck_assert_msg(run_shell(cmd, out, sizeof(out)) == 0, "%s", out);
}

START_TEST(test_so_exports_only_api)
{
    static char out[65536];
    char so[PATH_MAX], cmd[PATH_MAX + 256];
    char *line, *save = NULL;
    int n_api = 0, n_other = 0;
    bool have_connect = false;

    td_program("libarmmap.so", so, sizeof(so));
    snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s' 2>&1", so);
    ck_assert_int_eq(run_shell(cmd, out, sizeof(out)), 0);
    for (line = strtok_r(out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char name[256], type[8], *at;

        ck_assert_msg(sscanf(line, "%*s %7s %255s", type, name) == 2, "%s",
                      line);
        if ((at = strchr(name, '@')))
            *at = '\0';
        if (strncmp(name, "ARMMAP_", 7) == 0 && strchr("0123", name[7]) &&
            name[8] == '\0' &&
            strcmp(type, "A") == 0)
            continue; /* the version nodes themselves */
        if (strncmp(name, "armmap_", 7) == 0 && name[7] != '_') {
            n_api++;
            have_connect |= strcmp(name, "armmap_connect_unix") == 0;
        } else {
            n_other++;
            fprintf(stderr, "exported: %s\n", line);
        }
    }
    ck_assert_int_eq(n_other, 0);
    ck_assert_int_ge(n_api, 60);
    ck_assert(have_connect);
    /* Every export carries a version node: ARMMAP_1 for the connect
     * functions with retry_ms and the request key calls, ARMMAP_2 for the
     * calls returning machines with 12 buddy orders, ARMMAP_3 for the
     * calls added since (module_enable_ro), ARMMAP_0 (not the default)
     * for the older ones, kept for programs built before. */
    snprintf(cmd, sizeof(cmd),
             "nm -D --defined-only '%s' | grep -cE '@@?ARMMAP_[0123]$'", so);
    ck_assert_int_eq(run_shell(cmd, out, sizeof(out)), 0);
    ck_assert_int_eq(atoi(out), n_api);
    snprintf(cmd, sizeof(cmd),
             "nm -D --defined-only '%s' | grep -E '@@ARMMAP_[123]$|[^@]@ARMMAP_0$'"
             " | sed 's/.* //' | sort | tr '\\n' ' '", so);
    ck_assert_int_eq(run_shell(cmd, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "armmap_clone@@ARMMAP_2 "
                          "armmap_clone@ARMMAP_0 "
                          "armmap_connect_tcp@@ARMMAP_1 "
                          "armmap_connect_tcp@ARMMAP_0 "
                          "armmap_connect_unix@@ARMMAP_1 "
                          "armmap_connect_unix@ARMMAP_0 "
                          "armmap_create@@ARMMAP_2 "
                          "armmap_create@ARMMAP_0 "
                          "armmap_describe@@ARMMAP_2 "
                          "armmap_describe@ARMMAP_0 "
                          "armmap_fork@@ARMMAP_2 "
                          "armmap_fork@ARMMAP_0 "
                          "armmap_last_request_key@@ARMMAP_1 "
                          "armmap_list@@ARMMAP_2 "
                          "armmap_list@ARMMAP_0 "
                          "armmap_machine_free@@ARMMAP_2 "
                          "armmap_machine_free@ARMMAP_0 "
                          "armmap_machine_list_free@@ARMMAP_2 "
                          "armmap_machine_list_free@ARMMAP_0 "
                          "armmap_module_enable_ro@@ARMMAP_3 "
                          "armmap_set_request_key@@ARMMAP_1 ");
}
END_TEST

/* Installs with the default PREFIX: another PREFIX would rebuild the
 * objects that compile it in (the page's root), and relink the armmapd
 * that suites running beside this one are starting. */
START_TEST(test_install_puts_proto)
{
    char root[PATH_MAX], cmd[8 * PATH_MAX], path[2 * PATH_MAX];
    static char out[65536];
    struct stat st;
    bool san;

    source_root(root, sizeof(root), &san);
    snprintf(cmd, sizeof(cmd),
             "timeout 300 make --no-print-directory -s -C '%s' %s install "
             "DESTDIR='%s/dest' 2>&1",
             root, san ? "SANITIZE=1" : "", tc_d.dir);
    ck_assert_msg(run_shell(cmd, out, sizeof(out)) == 0, "%s", out);
    snprintf(path, sizeof(path), "%s/dest/usr/local/share/armmap/armmap.proto",
             tc_d.dir);
    ck_assert_msg(stat(path, &st) == 0, "not installed: %s", path);
    snprintf(cmd, sizeof(cmd), "cmp '%s/proto/armmap.proto' '%s'", root, path);
    ck_assert_int_eq(run_shell(cmd, out, sizeof(out)), 0);
    snprintf(path, sizeof(path), "%s/dest/usr/local/lib/libarmmap.so.0", tc_d.dir);
    ck_assert_int_eq(stat(path, &st), 0);
    snprintf(cmd, sizeof(cmd),
             "make --no-print-directory -s -C '%s' %s uninstall "
             "DESTDIR='%s/dest' 2>&1 && "
             "test ! -e '%s/dest/usr/local/share/armmap'",
             root, san ? "SANITIZE=1" : "", tc_d.dir, tc_d.dir);
    ck_assert_msg(run_shell(cmd, out, sizeof(out)) == 0, "%s", out);
}
END_TEST

/* The Python example, its module generated from the proto now. */
START_TEST(test_python_example)
{
    char root[PATH_MAX], cmd[4 * PATH_MAX];
    static char out[65536];
    bool san;

    source_root(root, sizeof(root), &san);
    snprintf(cmd, sizeof(cmd),
             "protoc --proto_path='%s/proto' --python_out='%s' armmap.proto "
             "2>&1",
             root, tc_d.dir);
    ck_assert_msg(run_shell(cmd, out, sizeof(out)) == 0, "protoc: %s", out);
    snprintf(cmd, sizeof(cmd),
             "PYTHONPATH='%s' timeout 60 /usr/bin/python3 "
             "'%s/examples/armmap_client.py' '%s' 2>&1",
             tc_d.dir, root, tc_d.sock);
    ck_assert_msg(run_shell(cmd, out, sizeof(out)) == 0, "python: %s", out);
    ck_assert_str_eq(out, "server armmapd 0.1\n"
                          "machine 1\n"
                          "alloc pfn 0xff2fe\n"
                          "kmap va 0xbfe01000\n"
                          "translate 0xbfe01000 0xff2fe000 pkmap\n"
                          "translate 0xc0000000 0x80200000 lowmem\n"
                          "translate 0x00000000 fault 1\n"
                          "phys 0xff2fe000 0xbfe01000 pkmap\n");
    /* What it made, the CLI sees. */
    {
        struct trun r = tc_armmap(tc_d.sock, NULL, 0, "translate", "1",
                                  "0xbfe01000", (char *)NULL);

        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "0xbfe01000 0xff2fe000 pkmap -\n");
        tc_run_free(&r);
    }
}
END_TEST

/* Reads a whole file into a NUL-terminated buffer (caller frees). */
static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Runs @cmd with sh in the test daemon's directory, armmap first on PATH
 * and ARMMAP_SOCKET set; stdout and stderr together into @out. */
static void run_as_user(const char *cmd, char *out, size_t size)
{
    char bin[PATH_MAX], *slash, script[16384];
    const char *sq;
    size_t n;

    td_program("armmap", bin, sizeof(bin));
    slash = strrchr(bin, '/');
    *slash = '\0';
    n = (size_t)snprintf(script, sizeof(script),
                         "cd '%s' && PATH='%s':\"$PATH\" ARMMAP_SOCKET='%s' "
                         "timeout 60 sh -c '",
                         tc_d.dir, bin, tc_d.sock);
    for (sq = cmd; *sq && n + 8 < sizeof(script); sq++) {
        if (*sq == '\'') {
            memcpy(script + n, "'\\''", 4);
            n += 4;
        } else {
            script[n++] = *sq;
        }
    }
    snprintf(script + n, sizeof(script) - n, "' 2>&1");
    run_shell(script, out, size);
}

/* Runs one tour command and compares (a difference goes to stderr whole:
 * Check's own messages are short). */
static void tour_step(const char *cmd, const char *want, char *got,
                      size_t size)
{
    run_as_user(cmd, got, size);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "README tour: $ %s\ngot:\n%s\nwanted:\n%s", cmd, got,
                want);
    ck_assert_msg(strcmp(got, want) == 0, "README tour: $ %.200s differs", cmd);
}

/*
 * The README's "A short tour", run as written: each indented "$ COMMAND"
 * line in turn, its output compared with the indented lines under it.
 */
START_TEST(test_readme_tour)
{
    static char got[1 << 16], want[1 << 16];
    char root[PATH_MAX], path[PATH_MAX + 16];
    char *readme, *sec, *end, *line, *next, cmd[4096];
    size_t wn = 0;
    int ncmds = 0;
    bool san;

    source_root(root, sizeof(root), &san);
    snprintf(path, sizeof(path), "%s/README.md", root);
    readme = read_all(path);
    sec = strstr(readme, "\n## A short tour\n");
    ck_assert_ptr_nonnull(sec);
    sec += 1;
    end = strstr(sec + 3, "\n## ");
    if (end)
        end[1] = '\0';
    cmd[0] = '\0';
    for (line = strchr(sec, '\n') + 1; *line; line = next) {
        next = strchr(line, '\n');
        next = next ? next + 1 : line + strlen(line);
        if (strncmp(line, "    $ ", 6) == 0) {
            if (cmd[0]) { /* the previous command's turn */
                want[wn] = '\0';
                tour_step(cmd, want, got, sizeof(got));
                ncmds++;
            }
            snprintf(cmd, sizeof(cmd), "%.*s", (int)(next - line - 7),
                     line + 6);
            wn = 0;
        } else if (strncmp(line, "    ", 4) == 0 && cmd[0]) {
            memcpy(want + wn, line + 4, (size_t)(next - line - 4));
            wn += (size_t)(next - line - 4);
        }
    }
    if (cmd[0]) {
        want[wn] = '\0';
        tour_step(cmd, want, got, sizeof(got));
        ncmds++;
    }
    ck_assert_int_eq(ncmds, 10);
    free(readme);
}
END_TEST

/* armmap(1)'s kmap example, run as written after its create example. */
START_TEST(test_man_example)
{
    static char got[4096], want[1024];
    char root[PATH_MAX], path[PATH_MAX + 16];
    char *man, *blk, *fi, *line, *next, script[4096], *o;
    bool san;

    source_root(root, sizeof(root), &san);
    snprintf(path, sizeof(path), "%s/man/armmap.1", root);
    man = read_all(path);
    run_as_user("armmap create --preset aries --name phone", got, sizeof(got));
    ck_assert_str_eq(got, "1\n");
    blk = strstr(man, "Allocate a highmem page");
    ck_assert_ptr_nonnull(blk);
    blk = strstr(blk, ".nf\n") + 4;
    fi = strstr(blk, ".fi\n");
    *fi = '\0';
    /* Commands (groff's "\-" is "-") into one script; the rest is output. */
    script[0] = '\0';
    want[0] = '\0';
    for (line = blk; *line; line = next) {
        next = strchr(line, '\n') + 1;
        o = strncmp(line, "$ ", 2) == 0 ? script : want;
        for (line += o == script ? 2 : 0; line < next; line++) {
            size_t n = strlen(o);

            if (line[0] == '\\' && line[1] == '-')
                line++;
            o[n] = *line;
            o[n + 1] = '\0';
        }
    }
    run_as_user(script, got, sizeof(got));
    ck_assert_str_eq(got, want);
    ck_assert_str_eq(want, "0xbfe01000 0xff2fe000 pkmap -\n");
    free(man);
}
END_TEST

/* `make install` puts the cluster node's template unit (ExecStart naming
 * the installed armmapd, the instance's config and node name) and the
 * node's example settings in place, and `make uninstall` removes them. */
START_TEST(test_install_puts_node_unit)
{
    char root[PATH_MAX], cmd[8 * PATH_MAX], path[2 * PATH_MAX];
    static char out[65536];
    bool san;

    source_root(root, sizeof(root), &san);
    make_dest(root, san, "install");
    snprintf(path, sizeof(path),
             "%s/dest/usr/local/lib/systemd/system/armmapd@.service", tc_d.dir);
    snprintf(cmd, sizeof(cmd), "grep '^ExecStart=' '%s'", path);
    ck_assert_int_eq(run_shell(cmd, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "ExecStart=/usr/local/sbin/armmapd "
                          "--config=/etc/armmapd/%i.conf --node=%i\n");
    snprintf(cmd, sizeof(cmd), "cmp '%s/systemd/armmapd@.service' '%s'", root,
             path);
    ck_assert_int_eq(run_shell(cmd, out, sizeof(out)), 0);
    snprintf(path, sizeof(path),
             "%s/dest/usr/local/share/armmapd/armmapd-node.conf", tc_d.dir);
    snprintf(cmd, sizeof(cmd), "cmp '%s/deploy/armmapd-node.conf' '%s'", root,
             path);
    ck_assert_int_eq(run_shell(cmd, out, sizeof(out)), 0);
    make_dest(root, san, "uninstall");
    snprintf(cmd, sizeof(cmd),
             "test ! -e '%s/dest/usr/local/lib/systemd/system/armmapd@.service'"
             " && test ! -e '%s/dest/usr/local/share/armmapd'",
             tc_d.dir, tc_d.dir);
    ck_assert_int_eq(run_shell(cmd, out, sizeof(out)), 0);
}
END_TEST

Suite *dist_suite(void)
{
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("dist");

    tcase_add_checked_fixture(tc, tc_daemon_setup, tc_daemon_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_so_exports_only_api);
    tcase_add_test(tc, test_install_puts_proto);
    tcase_add_test(tc, test_python_example);
    tcase_add_test(tc, test_readme_tour);
    tcase_add_test(tc, test_man_example);
    tcase_add_test(tc, test_install_puts_node_unit);
    suite_add_tcase(s, tc);
    return s;
}
