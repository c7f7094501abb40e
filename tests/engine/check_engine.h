/* tests/engine/check_engine.h - shared declarations of the engine suites. */
#ifndef ARMMAP_TESTS_CHECK_ENGINE_H
#define ARMMAP_TESTS_CHECK_ENGINE_H

#include <check.h>

#include "mm_int.h"

/* One suite per engine file; weak while parts are being written. */
#define SUITE_DECL(name) Suite *name(void) __attribute__((weak))
SUITE_DECL(config_suite);
SUITE_DECL(layout_suite);
SUITE_DECL(physmem_suite);
SUITE_DECL(buddy_suite);
SUITE_DECL(pgtable_suite);
SUITE_DECL(mmu_suite);
SUITE_DECL(kmap_suite);
SUITE_DECL(katomic_suite);
SUITE_DECL(vmalloc_suite);
SUITE_DECL(report_suite);
SUITE_DECL(machine_suite);
SUITE_DECL(random_suite);

/* Creates a machine from a preset plus "key=value" overrides (NULL ends the
 * list); fails the test with the engine's message if that fails. */
struct mm_machine *t_machine(const char *preset, ...);

/* Fails the test with mm_check()'s message unless the machine is consistent. */
void t_check(const struct mm_machine *m);

/* Renders a report into a malloc'd NUL-terminated string (caller frees). */
char *t_report(const struct mm_machine *m, enum mm_report r);

#endif
