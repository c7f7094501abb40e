/* tests/engine/main.c - runs every engine suite (build/check_engine).
 *
 * CK_RUN_SUITE / CK_RUN_CASE select a part; CK_FORK=no runs in one process
 * for gdb.
 */
#include "check_engine.h"

#include <stdlib.h>

int main(void)
{
    Suite *(*const suites[])(void) = {
        config_suite, layout_suite, physmem_suite, buddy_suite,
        pgtable_suite, mmu_suite, kmap_suite, katomic_suite,
        vmalloc_suite, report_suite, machine_suite, random_suite,
        physidx_suite, snapshot_suite, hostmem_suite, report_json_suite,
        boot61_suite, kernmem_suite, modrox_suite, boots_suite,
        hashes61_suite, ptdump61_suite, buf_suite,
    };
    SRunner *sr = srunner_create(NULL);
    int failed;

    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
        srunner_add_suite(sr, suites[i]());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
