/*
 * Manual pages written by the programs themselves (`gpuplex help --man`,
 * `gpuplexd --help-man`, `gpuplexd --config-man`), from the same strings that
 * --help prints, so that a page can't say other than the help does. The build
 * runs them into build/man/ (src/CMakeLists.txt).
 */
#ifndef GPX_ROFF_H
#define GPX_ROFF_H

#include <stddef.h>
#include <stdio.h>

/* .TH line: title, section, and the version in the footer (no date: reproducible). */
void gpx_roff_th(FILE *o, const char *title, int section, const char *manual);
/* Text escaped for roff: backslashes and minus signs, a leading '.' or '\''. */
void gpx_roff_text(FILE *o, const char *s, size_t n);
/* Lines as the help prints them, in no-fill mode (the help's own layout). */
void gpx_roff_verbatim(FILE *o, const char *s, size_t n);
/*
 * A usage text ("usage: PROG ...\n       PROG ...\n\nrest"): its first block,
 * less the "usage: " column, under SYNOPSIS; the rest verbatim under `rest`
 * (a section name, NULL: no heading).
 */
void gpx_roff_usage(FILE *o, const char *usage, const char *rest);

#endif
