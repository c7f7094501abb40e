/* tests/engine/check_engine.h - shared declarations of the engine suites. */
#ifndef ARMMAP_TESTS_CHECK_ENGINE_H
#define ARMMAP_TESTS_CHECK_ENGINE_H

#include <check.h>

#include "mm_int.h"

/* One suite per engine file, each listed in main.c.  Declared strongly, so
 * a suite that is missing fails the link instead of passing silently. */
Suite *config_suite(void);
Suite *layout_suite(void);
Suite *physmem_suite(void);
Suite *buddy_suite(void);
Suite *pgtable_suite(void);
Suite *mmu_suite(void);
Suite *kmap_suite(void);
Suite *katomic_suite(void);
Suite *vmalloc_suite(void);
Suite *report_suite(void);
Suite *machine_suite(void);
Suite *random_suite(void);

/* Creates a machine from a preset plus "key=value" overrides (NULL ends the
 * list); fails the test with the engine's message if that fails. */
struct mm_machine *t_machine(const char *preset, ...);

/* Fails the test with mm_check()'s message unless the machine is consistent. */
void t_check(const struct mm_machine *m);

/* Renders a report into a malloc'd NUL-terminated string (caller frees). */
char *t_report(const struct mm_machine *m, enum mm_report r);

#endif
