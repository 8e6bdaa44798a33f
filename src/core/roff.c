/* roff for the generated manual pages (roff.h). */
#include "core/roff.h"

#include <string.h>

void gpx_roff_th(FILE *o, const char *title, int section, const char *manual)
{
    fprintf(o,
            ".\\\" Generated from the program's own help text; do not edit.\n"
            ".TH \"%s\" \"%d\" \"\" \"gpuplex %s\" \"%s\"\n",
            title, section, GPX_VERSION, manual);
}

void gpx_roff_text(FILE *o, const char *s, size_t n)
{
    int bol = 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (bol && (c == '.' || c == '\''))
            fputs("\\&", o);
        if (c == '\\')
            fputs("\\e", o);
        else if (c == '-')
            fputs("\\-", o);
        else
            fputc(c, o);
        bol = c == '\n';
    }
    if (n && s[n - 1] != '\n')
        fputc('\n', o);
}

void gpx_roff_verbatim(FILE *o, const char *s, size_t n)
{
    /* blank lines as .sp: groff warns of none, and no-fill keeps the columns */
    fputs(".nf\n", o);
    while (n) {
        const char *nl = memchr(s, '\n', n);
        size_t len = nl ? (size_t)(nl - s) + 1 : n;
        if (len == 1 && *s == '\n')
            fputs(".sp\n", o);
        else
            gpx_roff_text(o, s, len);
        s += len;
        n -= len;
    }
    fputs(".fi\n", o);
}

void gpx_roff_usage(FILE *o, const char *usage, const char *rest)
{
    const char *end = strstr(usage, "\n\n");
    size_t syn = end ? (size_t)(end - usage) + 1 : strlen(usage);
    const char *p = usage;
    if (strncmp(p, "usage: ", 7) == 0)
        p += 7;
    fputs(".SH SYNOPSIS\n.nf\n", o);
    /* the synopsis lines without the column of "usage: " */
    while (p < usage + syn) {
        const char *nl = memchr(p, '\n', (size_t)(usage + syn - p));
        size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(usage + syn - p);
        size_t skip = 0;
        while (p != usage + 7 && skip < 7 && skip < len && p[skip] == ' ')
            skip++;
        gpx_roff_text(o, p + skip, len - skip);
        p += len;
    }
    fputs(".fi\n", o);
    if (!end)
        return;
    if (rest)
        fprintf(o, ".SH %s\n", rest);
    gpx_roff_verbatim(o, end + 2, strlen(end + 2));
}
