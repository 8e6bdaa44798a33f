/*
 * SHA-256 (src/core/sha256.c, a wrapper over nettle) against FIPS 180-4 / NIST example vectors,
 * every padding boundary, reuse after final, and ct_equal.
 */
#include "core/sha256.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check(const char *msg, size_t len, const char *want)
{
    uint8_t d[32];
    char h[65];
    gpx_sha256(msg, len, d);
    hex(d, h);
    assert_string_equal(h, want);
}

static void test_vectors(void **state)
{
    (void)state;
    check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *four =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmn"
        "opqklmnopqrlmnopqrsmnopqrstnopqrstu";
    check(four, strlen(four), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_million_a(void **state)
{
    (void)state;
    struct gpx_sha256 s;
    gpx_sha256_init(&s);
    char a[1000];
    memset(a, 'a', sizeof a);
    for (int i = 0; i < 1000; i++)
        gpx_sha256_update(&s, a, sizeof a);
    uint8_t d[32];
    char h[65];
    gpx_sha256_final(&s, d);
    hex(d, h);
    assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the 55/56/64-byte padding edges: one call equals byte-at-a-time updates. */
static void test_boundaries(void **state)
{
    (void)state;
    char buf[200];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)(i * 7 + 3);
    for (size_t len = 0; len <= sizeof buf; len++) {
        uint8_t one[32], many[32];
        gpx_sha256(buf, len, one);
        struct gpx_sha256 s;
        gpx_sha256_init(&s);
        for (size_t i = 0; i < len; i++)
            gpx_sha256_update(&s, buf + i, 1);
        gpx_sha256_final(&s, many);
        assert_memory_equal(one, many, 32);
    }
    char h[65];
    gpx_sha256_hex("abc", h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* final leaves the state initialised again; empty updates (even with NULL) change nothing. */
static void test_reuse_and_empty(void **state)
{
    (void)state;
    struct gpx_sha256 s;
    uint8_t d[32];
    char h[65];
    gpx_sha256_init(&s);
    gpx_sha256_update(&s, "ignored", 7);
    gpx_sha256_final(&s, d);
    gpx_sha256_update(&s, NULL, 0);
    gpx_sha256_update(&s, "ab", 2);
    gpx_sha256_update(&s, "", 0);
    gpx_sha256_update(&s, "c", 1);
    gpx_sha256_final(&s, d);
    hex(d, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    gpx_sha256_final(&s, d);
    hex(d, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    gpx_sha256(NULL, 0, d);
    hex(d, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    gpx_sha256_hex("", h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_ct_equal(void **state)
{
    (void)state;
    assert_int_equal(gpx_ct_equal("abcd", "abcd", 4), 1);
    assert_int_equal(gpx_ct_equal("abcd", "abce", 4), 0);
    assert_int_equal(gpx_ct_equal("xbcd", "abcd", 4), 0);
    assert_int_equal(gpx_ct_equal("", "", 0), 1);
    /* only the first n bytes count */
    assert_int_equal(gpx_ct_equal("abcX", "abcY", 3), 1);
    /* a difference in any single bit of any byte of a 64-character hex digest is seen */
    char a[65], b[65];
    gpx_sha256_hex("token", a);
    for (size_t i = 0; i < 64; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(b, a, sizeof b);
            b[i] = (char)(b[i] ^ (1 << bit));
            assert_int_equal(gpx_ct_equal(a, b, 64), 0);
        }
    assert_int_equal(gpx_ct_equal(a, a, 64), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),    cmocka_unit_test(test_million_a),
        cmocka_unit_test(test_boundaries), cmocka_unit_test(test_reuse_and_empty),
        cmocka_unit_test(test_ct_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
