/* tests/client/main.c - the check_client binary: libarmmap and armmap.
 *
 * Suites: parse (in-process: numbers, sizes, op lines, names), lib (the
 * library against a real armmapd), cli (the armmap binary as a
 * subprocess), bulk (100,000 translations, streamed against single), fuzz
 * (a clean run and an injected model bug that must be found and shrunk),
 * json (every command's --json output and errors, parsed with jansson),
 * dist (libarmmap.so's exports, make install, the Python example),
 * stream (translate and phys as batch tools: input, --on-error, formats).
 * CK_RUN_SUITE / CK_RUN_CASE select; CK_FORK=no for gdb.
 */
#include "check_client.h"

#include <stdlib.h>

int main(void)
{
    SRunner *sr = srunner_create(parse_suite());
    int failed;

    srunner_add_suite(sr, lib_suite());
    srunner_add_suite(sr, cli_suite());
    srunner_add_suite(sr, bulk_suite());
    srunner_add_suite(sr, fuzz_suite());
    srunner_add_suite(sr, json_suite());
    srunner_add_suite(sr, dist_suite());
    srunner_add_suite(sr, stream_suite());
    srunner_add_suite(sr, parked_cli_suite());
    srunner_add_suite(sr, redirect_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
