/* proto/token.h - the one reader of auth token files, for daemon and client.
 *
 * armmapd (--auth-token-file) and libarmmap (armmap_options.token_file)
 * must take the same token from the same file, or a file that works on
 * one side fails on the other.  The rule: the token is the file's bytes
 * with every trailing CR and LF removed (so "echo TOKEN > file" and a file
 * saved on Windows both work); it must be 1 to TOKEN_MAX bytes long.
 */
#ifndef ARMMAP_PROTO_TOKEN_H
#define ARMMAP_PROTO_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_MAX 4096 /* longest token, bytes */

/**
 * token_read_file - read the token in the file at @path
 * @path: the file
 * @buf: receives the token (not NUL-terminated)
 * @len: receives its length, 1..TOKEN_MAX
 * @err: receives "token file PATH is longer than 4096 bytes" and the like
 * Context: opens, reads and closes @path; no other state.
 * Return: 0, or -1 with @err set (unreadable, empty, too long).
 */
int token_read_file(const char *path, uint8_t buf[TOKEN_MAX], size_t *len,
                    char *err, size_t errsz);

#endif /* ARMMAP_PROTO_TOKEN_H */
