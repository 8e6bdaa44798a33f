/*
 * Size parsing. Rejects negative numbers, trailing garbage, unknown units and
 * values that overflow 64 bits, each with a message naming the input.
 */
#include "core/size.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int gpx_size_parse(const char *text, uint64_t *bytes, gpx_error *err)
{
    if (!text || !*text)
        return gpx_error_set(err, GPX_E_INVALID, "empty size (examples: 4G, 4096M, 512MiB)");
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if (!isdigit((unsigned char)*p))
        return gpx_error_set(err, GPX_E_INVALID, "invalid size '%s' (examples: 4G, 4096M, 512MiB)",
                             text);
    /* decimal digits and one optional fraction only: strtod would also take 0x10, 1e3, inf */
    size_t digits = strspn(p, "0123456789");
    if (p[digits] == '.')
        digits += 1 + strspn(p + digits + 1, "0123456789");
    char c = p[digits], n1 = c ? p[digits + 1] : '\0';
    if (((c == 'x' || c == 'X') && digits == 1 && p[0] == '0' && isxdigit((unsigned char)n1)) ||
        ((c == 'e' || c == 'E') && (isdigit((unsigned char)n1) || n1 == '+' || n1 == '-')))
        return gpx_error_set(err, GPX_E_INVALID, "invalid size '%s' (examples: 4G, 4096M, 512MiB)",
                             text);
    errno = 0;
    char *end;
    double v = strtod(p, &end);
    if (errno || !isfinite(v) || v < 0)
        return gpx_error_set(err, GPX_E_INVALID, "invalid size '%s'", text);
    while (isspace((unsigned char)*end))
        end++;
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
    while (p > text && isspace((unsigned char)p[-1]))
        p--;
    if (p > text && (isdigit((unsigned char)p[-1]) || p[-1] == '.'))
        return gpx_error_set(err, GPX_E_INVALID,
                             "size '%s' has no unit: write %sM or %sG (K, M, G, T; binary units)",
                             text, text, text);
    return 0;
}
