/*
 * SHA-256 (FIPS 180-4), for hashing tenant tokens before they are stored:
 * the state directory never holds a token, only its digest. Also a
 * constant-time comparison, so that checking a presented token's digest
 * takes the same time whether or not, and wherever, it differs. Both are
 * nettle's (src/core/sha256.c wraps it); this header keeps gpuplex's names.
 */
#ifndef GPX_SHA256_H
#define GPX_SHA256_H

#include <nettle/sha2.h>

#include <stddef.h>
#include <stdint.h>

#define GPX_SHA256_LEN 32

/* Incremental hashing state; treat as opaque. */
struct gpx_sha256 {
    struct sha256_ctx ctx;
};

void gpx_sha256_init(struct gpx_sha256 *s);
void gpx_sha256_update(struct gpx_sha256 *s, const void *data, size_t len);
/* Writes the digest and leaves s initialised again, ready for a new message. */
void gpx_sha256_final(struct gpx_sha256 *s, uint8_t out[GPX_SHA256_LEN]);
/* One call: digest of data. */
void gpx_sha256(const void *data, size_t len, uint8_t out[GPX_SHA256_LEN]);
/* Lower-case hex of the digest of a string: 64 characters + NUL. */
void gpx_sha256_hex(const char *text, char out[2 * GPX_SHA256_LEN + 1]);

/* 1 when the n bytes are equal, else 0; the time depends on n only. */
int gpx_ct_equal(const void *a, const void *b, size_t n);

#endif
