/*
 * Size parsing. A size is exactly a decimal number and a unit ("4G", "1.5GiB"):
 * no space around or inside it, no sign, no hex, octal or exponent, since the
 * API takes these strings from tenants and "0x10G" or " 1G" must not mean
 * something else than it says. Rejects unknown units and values that overflow
 * 64 bits, each with a message naming the input.
 */
#include "core/size.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * The number: decimal digits, at most one '.' with digits after it, and no
 * leading zero before another digit (is "010G" 8 or 10?). Nothing strtod would
 * add (space, sign, hex, exponents, inf, nan) gets through. Returns its length
 * and its value in *v; 0 when `p` does not start with such a number.
 */
static size_t decimal_prefix(const char *p, double *v)
{
    size_t n = strspn(p, "0123456789");
    if (n == 0 || (p[0] == '0' && n > 1))
        return 0;
    if (p[n] == '.') {
        size_t frac = strspn(p + n + 1, "0123456789");
        if (frac == 0)
            return 0;
        n += 1 + frac;
    }
    char buf[64];
    if (n >= sizeof buf) {
        *v = INFINITY; /* 64 digits: too large whatever the unit */
        return n;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
    *v = strtod(buf, NULL); /* only digits and one '.': strtod reads them as decimal */
    return n;
}

static int invalid(const char *text, gpx_error *err)
{
    return gpx_error_set(err, GPX_E_INVALID, "invalid size '%s' (examples: 4G, 4096M, 512MiB)",
                         text);
}

int gpx_size_parse(const char *text, uint64_t *bytes, gpx_error *err)
{
    if (!text || !*text)
        return gpx_error_set(err, GPX_E_INVALID, "empty size (examples: 4G, 4096M, 512MiB)");
    double v;
    size_t len = decimal_prefix(text, &v);
    if (len == 0)
        return invalid(text, err);
    if (!isfinite(v))
        return gpx_error_set(err, GPX_E_INVALID, "size '%s' is too large", text);
    const char *end = text + len;
    if (strspn(end, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(end))
        return invalid(text, err);
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"", 0},     {"B", 0},   {"K", 10},   {"KB", 10}, {"KIB", 10},
                 {"M", 20},   {"MB", 20}, {"MIB", 20}, {"G", 30},  {"GB", 30},
                 {"GIB", 30}, {"T", 40},  {"TB", 40},  {"TIB", 40}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].suffix) != 0)
            continue;
        double b = ldexp(v, (int)units[i].shift);
        if (b >= 18446744073709551616.0)
            return gpx_error_set(err, GPX_E_INVALID, "size '%s' is too large", text);
        if (units[i].shift == 0 && b != floor(b))
            return gpx_error_set(err, GPX_E_INVALID, "size '%s' is not a whole number of bytes",
                                 text);
        *bytes = (uint64_t)b;
        return 0;
    }
    return gpx_error_set(err, GPX_E_INVALID,
                         "unknown unit in size '%s' (use K, M, G or T; binary units)", text);
}

void gpx_size_format(uint64_t bytes, char *buf, unsigned len)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, len, "%.1f %s", v, u[i]);
}

int gpx_size_parse_unit(const char *text, uint64_t *bytes, gpx_error *err)
{
    if (gpx_size_parse(text, bytes, err) < 0)
        return -1;
    const char *p = text + strlen(text);
    if (p > text && isdigit((unsigned char)p[-1]))
        return gpx_error_set(err, GPX_E_INVALID,
                             "size '%s' has no unit: write %sM or %sG (K, M, G, T; binary units)",
                             text, text, text);
    return 0;
}
