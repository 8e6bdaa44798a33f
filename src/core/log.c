/*
 * Logging: one line per message on stderr, "gpuplex[pid]: level: message".
 * Default level is warn for tools; the daemon raises it to info.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int gpx__log_level = GPX_LOG_WARN;

static const char *const names[] = {"error", "warn", "info", "debug"};

void gpx_log_set_level(enum gpx_log_level lvl)
{
    gpx__log_level = (int)lvl;
}

int gpx_log_parse_level(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void gpx_log_init_from_env(void)
{
    int lvl = gpx_log_parse_level(getenv("GPUPLEX_LOG"));
    if (lvl >= 0)
        gpx__log_level = lvl;
}

void gpx__log(enum gpx_log_level lvl, const char *fmt, ...)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "gpuplex[%d]: %s: ", (int)getpid(), names[lvl]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}
