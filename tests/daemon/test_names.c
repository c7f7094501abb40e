/* tests/daemon/test_names.c - one set of names, and the packed enums'
 * bytes.
 *
 * proto/names.h is the one table of status, op, region, fault and km_type
 * names; the engine keeps its own copies (it includes nothing of proto/),
 * and these tests hold them equal, value by value.  The numbers themselves are
 * compile-time asserts (daemon/dispatch.c, client/names.c).
 *
 * TranslateResult's fault and region were bytes fields (one byte per
 * address) and are now packed enums: for values below 128 the wire bytes
 * are the same, which the last tests show against bytes written the old
 * way, through protobuf-c and through proto/envelope.c both.
 */
#include "check_daemon.h"

#include <stdlib.h>
#include <string.h>

#include "armmap.pb-c.h"
#include "envelope.h"
#include "mm.h"
#include "names.h"

START_TEST(test_region_names_are_the_engines)
{
    unsigned i;

    ck_assert_int_eq(NAMES_REGION_COUNT, MM_VREGION_COUNT);
    for (i = 0; i < MM_VREGION_COUNT; i++)
        ck_assert_str_eq(names_region(i), mm_vregion_name((enum mm_vregion)i));
    ck_assert_ptr_null(names_region(MM_VREGION_COUNT));
    ck_assert_str_eq(names_region(MM_VREGION_PCI_IO), "pci-io");
}
END_TEST

START_TEST(test_status_and_op_names_are_the_engines)
{
    unsigned i;

    for (i = 0; i < MM_STATUS_COUNT; i++)
        ck_assert_str_eq(names_status(i), mm_status_name((enum mm_status)i));
    ck_assert_ptr_null(names_op(MM_OP_NONE));
    ck_assert_ptr_null(mm_op_name(MM_OP_NONE));
    for (i = 1; i < MM_OP_COUNT; i++)
        ck_assert_str_eq(names_op(i), mm_op_name((enum mm_opcode)i));
    ck_assert_str_eq(names_op(MM_OP_KMAP_FLUSH), "kmap_flush");
}
END_TEST

START_TEST(test_fault_names)
{
    ck_assert_int_eq(NAMES_FAULT_COUNT, MM_FAULT_PERMISSION_L2 + 1);
    ck_assert_str_eq(names_fault(MM_FAULT_NONE), "none");
    ck_assert_str_eq(names_fault(MM_FAULT_TRANSLATION_L1), "translation-l1");
    ck_assert_str_eq(names_fault(MM_FAULT_PERMISSION_L2), "permission-l2");
    ck_assert_ptr_null(names_fault(MM_FAULT_PERMISSION_L2 + 1));
}
END_TEST

/* The km_type slot names libarmmap parses (proto/names.h) are the first
 * ones of the engine's own list, at the same numbers. */
START_TEST(test_km_type_names_are_the_engines)
{
    struct mm_machine *m = NULL;
    struct mm_config cfg;
    char err[MM_MSG_MAX] = "";
    unsigned i;

    mm_config_default(&cfg);
    ck_assert_int_eq(mm_config_preset(&cfg, "qemu-virt", err), MM_OK);
    ck_assert_int_eq(mm_config_set(&cfg, "kernel", "2.6.35", err), MM_OK);
    ck_assert_int_eq(mm_config_set(&cfg, "vmalloc_end", "0xff000000", err), MM_OK);
    ck_assert_msg(mm_create(&cfg, &m, err) == MM_OK, "%s", err);
    ck_assert_int_eq(NAMES_KM_TYPE_COUNT, 13);
    for (i = 0; i < NAMES_KM_TYPE_COUNT; i++)
        ck_assert_str_eq(names_km_type(i), mm_km_type_name(m, (int)i));
    ck_assert_str_eq(names_km_type(3), "KM_USER0");
    ck_assert_ptr_null(names_km_type(NAMES_KM_TYPE_COUNT));
    mm_destroy(m);
}
END_TEST

/* Response{id 7, status {}, translate {pa [0x40001000, 0], fault [0, 1],
 * region [LOWMEM, USER]}} as the bytes fields wrote it: field 2 and 3
 * length-delimited, one byte per address. */
static const uint8_t old_bytes[] = {
    0x08, 0x07,                                     /* id 7 */
    0x12, 0x00,                                     /* status: OK */
    0x92, 0x01, 0x12,                               /* translate = 18 */
    0x0a, 0x08, 0x00, 0x10, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, /* pa */
    0x12, 0x02, 0x00, 0x01,                         /* fault bytes */
    0x1a, 0x02, 0x04, 0x01,                         /* region bytes */
};

static void fill(Armmap__V1__Response *resp, Armmap__V1__Status *st,
                 Armmap__V1__TranslateResult *tr, uint32_t *pa,
                 Armmap__V1__Fault *fault, Armmap__V1__Region *region)
{
    pa[0] = 0x40001000;
    pa[1] = 0;
    fault[0] = ARMMAP__V1__FAULT__FAULT_NONE;
    fault[1] = ARMMAP__V1__FAULT__FAULT_TRANSLATION_L1;
    region[0] = ARMMAP__V1__REGION__REGION_LOWMEM;
    region[1] = ARMMAP__V1__REGION__REGION_USER;
    tr->n_pa = tr->n_fault = tr->n_region = 2;
    tr->pa = pa;
    tr->fault = fault;
    tr->region = region;
    resp->id = 7;
    resp->status = st;
    resp->body_case = ARMMAP__V1__RESPONSE__BODY_TRANSLATE;
    resp->translate = tr;
}

START_TEST(test_packed_enums_are_the_old_bytes)
{
    Armmap__V1__Response resp = ARMMAP__V1__RESPONSE__INIT;
    Armmap__V1__Status st = ARMMAP__V1__STATUS__INIT;
    Armmap__V1__TranslateResult tr = ARMMAP__V1__TRANSLATE_RESULT__INIT;
    uint32_t pa[2];
    Armmap__V1__Fault fault[2];
    Armmap__V1__Region region[2];
    struct envelope_sizes z;
    uint8_t mine[64], theirs[64];
    size_t n;

    fill(&resp, &st, &tr, pa, fault, region);
    n = armmap__v1__response__get_packed_size(&resp);
    ck_assert_uint_eq(n, sizeof(old_bytes));
    armmap__v1__response__pack(&resp, theirs);
    ck_assert_mem_eq(theirs, old_bytes, sizeof(old_bytes));
    ck_assert_uint_eq(envelope_response_size(&resp, &z), sizeof(old_bytes));
    envelope_response_pack(&resp, &z, mine);
    ck_assert_mem_eq(mine, old_bytes, sizeof(old_bytes));
}
END_TEST

START_TEST(test_old_bytes_decode_as_enums)
{
    Armmap__V1__Response *a = armmap__v1__response__unpack(
        NULL, sizeof(old_bytes), old_bytes);
    Armmap__V1__Response *b = envelope_response_unpack(sizeof(old_bytes),
                                                       old_bytes);
    Armmap__V1__Response *r[2] = { a, b };
    int i;

    for (i = 0; i < 2; i++) {
        ck_assert_ptr_nonnull(r[i]);
        ck_assert_int_eq(r[i]->body_case,
                         ARMMAP__V1__RESPONSE__BODY_TRANSLATE);
        ck_assert_uint_eq(r[i]->translate->n_fault, 2);
        ck_assert_uint_eq(r[i]->translate->n_region, 2);
        ck_assert_int_eq(r[i]->translate->fault[1],
                         ARMMAP__V1__FAULT__FAULT_TRANSLATION_L1);
        ck_assert_int_eq(r[i]->translate->region[0],
                         ARMMAP__V1__REGION__REGION_LOWMEM);
        ck_assert_int_eq(r[i]->translate->region[1],
                         ARMMAP__V1__REGION__REGION_USER);
        armmap__v1__response__free_unpacked(r[i], NULL);
    }
}
END_TEST

Suite *names_suite(void)
{
    Suite *s = suite_create("names");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_region_names_are_the_engines);
    tcase_add_test(tc, test_status_and_op_names_are_the_engines);
    tcase_add_test(tc, test_fault_names);
    tcase_add_test(tc, test_km_type_names_are_the_engines);
    tcase_add_test(tc, test_packed_enums_are_the_old_bytes);
    tcase_add_test(tc, test_old_bytes_decode_as_enums);
    suite_add_tcase(s, tc);
    return s;
}
