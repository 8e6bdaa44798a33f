/* gpx_error: formatting, wrapping, truncation and the generated tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "gpuplex/error.h"

static void test_set_and_wrap(void **state)
{
    (void)state;
    gpx_error e = {0};
    assert_int_equal(gpx_error_set(&e, GPX_E_NOT_FOUND, "lease %s", "l-1"), -1);
    assert_int_equal(e.code, GPX_E_NOT_FOUND);
    assert_string_equal(e.msg, "lease l-1");
    gpx_error_wrap(&e, "releasing");
    assert_string_equal(e.msg, "releasing: lease l-1");
    assert_int_equal(e.code, GPX_E_NOT_FOUND);
}

static void test_errno(void **state)
{
    (void)state;
    gpx_error e = {0};
    gpx_error_errno(&e, GPX_E_IO, ENOENT, "opening '%s'", "/x");
    assert_string_equal(e.msg, "opening '/x': No such file or directory");
}

static void test_truncation(void **state)
{
    (void)state;
    gpx_error e = {0};
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    gpx_error_set(&e, GPX_E_INVALID, "%s", big);
    assert_int_equal(strlen(e.msg), GPX_ERROR_MSG_MAX - 1);
    gpx_error_wrap(&e, "%s", big);
    assert_int_equal(strlen(e.msg), GPX_ERROR_MSG_MAX - 1);
    gpx_error_set(&e, GPX_E_INVALID, "short");
    gpx_error_wrap(&e, "%s", big);
    assert_true(strlen(e.msg) <= GPX_ERROR_MSG_MAX - 1);
}

static void test_null_and_tables(void **state)
{
    (void)state;
    assert_int_equal(gpx_error_set(NULL, GPX_E_INVALID, "x"), -1);
    assert_int_equal(gpx_error_wrap(NULL, "x"), -1);
    gpx_error_clear(NULL);
    assert_string_equal(gpx_error_name(GPX_E_NOT_FOUND), "NOT_FOUND");
    assert_string_equal(gpx_error_name((enum gpx_code)999), "UNKNOWN");
    assert_int_equal(gpx_error_http_status(GPX_E_NOT_FOUND), 404);
    assert_int_equal(gpx_error_http_status(GPX_E_UNAUTH), 401);
    assert_int_equal(gpx_error_http_status(GPX_E_PERM), 403);
    assert_int_equal(gpx_error_exit_status(GPX_E_OK), 0);
    assert_int_equal(gpx_error_exit_status(GPX_E_USAGE), 2);
    assert_int_equal(gpx_error_exit_status(GPX_E_NO_DRIVER), 3);
    assert_int_equal(gpx_error_exit_status(GPX_E_STATE), 8);
    for (int c = 0; c < GPX_E__COUNT; c++) {
        assert_non_null(gpx_error_default((enum gpx_code)c));
        assert_true(gpx_error_http_status((enum gpx_code)c) >= 200);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_wrap),
        cmocka_unit_test(test_errno),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_null_and_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
