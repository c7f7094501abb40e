/* tests/common/pgserver.h - a private PostgreSQL server for a test run.
 *
 * Starts Debian's PostgreSQL (/usr/lib/postgresql/N/bin): initdb into a
 * new temporary directory (a copy of one initdb made once per user and
 * version, /tmp/armmap-pg-template-UID-N), then postgres listening on a Unix socket in
 * that directory only (listen_addresses empty: no TCP).  Run as root, the
 * server runs as the "postgres" user (it refuses root).  pgserver_stop()
 * stops it and removes the directory.  Plain C, POSIX and libpq only.
 */
#ifndef ARMMAP_TESTS_COMMON_PGSERVER_H
#define ARMMAP_TESTS_COMMON_PGSERVER_H

#include <stdbool.h>
#include <sys/types.h>

struct pgserver {
    char dir[128];                      /* the temporary directory */
    char url[256];                      /* postgresql:// of "postgres" */
    pid_t pid;                          /* the postmaster; 0: none */
};

/**
 * pgserver_available() - whether Debian's server binaries are installed.
 * @why: receives what is missing when they are not (at least 128 bytes).
 */
bool pgserver_available(char *why);

/**
 * pgserver_start() - initdb and start a server.
 * @pg: receives it.
 * @err: receives why it could not start (at least 256 bytes).
 *
 * Waits (bounded, 60 s) until the server answers a connection.
 * Return: 0, or -1 with @err.
 */
int pgserver_start(struct pgserver *pg, char *err);

/**
 * pgserver_create_db() - a new empty database on @pg.
 * @name: its name ([a-z0-9_] only).
 * @url: receives its postgresql:// URL (at least 256 bytes).
 *
 * Return: 0, or -1 with @url holding the server's message.
 */
int pgserver_create_db(const struct pgserver *pg, const char *name,
                       char *url);

/**
 * pgserver_try() - pgserver_start() when the binaries are there.
 * @pg: receives the server.
 * @why: receives why there is none (at least 256 bytes).
 *
 * For a suite's fixture: nothing is left behind when it fails.
 * Return: true if the server runs.
 */
bool pgserver_try(struct pgserver *pg, char *why);

/** pgserver_stop() - stop the server (bounded) and remove its directory. */
void pgserver_stop(struct pgserver *pg);

/*
 * The suite fixture: one server per test case, shared by its tests.
 * tcase_add_unchecked_fixture(tc, pgfix_setup, pgfix_teardown) starts it
 * with pgserver_try() (none when the binaries are absent) and stops it.
 */
void pgfix_setup(void);
void pgfix_teardown(void);

/**
 * pgfix_server() - the fixture's server, for a test that needs one.
 * @who: the suite's name, for the message when there is none.
 *
 * Return: the server, or NULL after telling stderr "@who: skipped, no
 * PostgreSQL server: <why>" (the test then passes without running).
 */
const struct pgserver *pgfix_server(const char *who);

#endif /* ARMMAP_TESTS_COMMON_PGSERVER_H */
