/*
 * SHA-256 and constant-time comparison: a thin wrapper over nettle
 * (nettle/sha2.h, nettle/memops.h) under gpuplex's names, so that the
 * token code (tenant digests, bearer checks) keeps one small API and no
 * hand-written cryptography. Invariants: gpx_sha256_final leaves the state
 * initialised again (nettle's sha256_digest resets it); gpx_ct_equal is
 * nettle's memeql_sec, whose time depends on n only, and returns exactly
 * 1 or 0. The unit test checks the FIPS 180-4 vectors (including the
 * one-million-'a' message) and every padding boundary against this wrapper.
 */
#include "core/sha256.h"

#include <nettle/memops.h>
#include <string.h>

_Static_assert(GPX_SHA256_LEN == SHA256_DIGEST_SIZE, "GPX_SHA256_LEN is SHA-256's digest size");

void gpx_sha256_init(struct gpx_sha256 *s)
{
    sha256_init(&s->ctx);
}

void gpx_sha256_update(struct gpx_sha256 *s, const void *data, size_t len)
{
    if (len > 0) /* data may be NULL when len is 0; memcpy(NULL, 0) is not defined */
        sha256_update(&s->ctx, len, data);
}

void gpx_sha256_final(struct gpx_sha256 *s, uint8_t out[GPX_SHA256_LEN])
{
    sha256_digest(&s->ctx, GPX_SHA256_LEN, out);
}

void gpx_sha256(const void *data, size_t len, uint8_t out[GPX_SHA256_LEN])
{
    struct gpx_sha256 s;
    gpx_sha256_init(&s);
    gpx_sha256_update(&s, data, len);
    gpx_sha256_final(&s, out);
}

void gpx_sha256_hex(const char *text, char out[2 * GPX_SHA256_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t d[GPX_SHA256_LEN];
    gpx_sha256(text, strlen(text), d);
    for (size_t i = 0; i < GPX_SHA256_LEN; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[(size_t)2 * GPX_SHA256_LEN] = '\0';
}

int gpx_ct_equal(const void *a, const void *b, size_t n)
{
    return memeql_sec(a, b, n) != 0;
}
