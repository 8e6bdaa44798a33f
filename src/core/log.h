/*
 * Leveled logging to stderr. The level is checked before any formatting, so
 * a disabled message costs one load and a compare. The level comes from
 * GPUPLEX_LOG (error|warn|info|debug) or gpx_log_set_level().
 */
#ifndef GPX_LOG_H
#define GPX_LOG_H

enum gpx_log_level { GPX_LOG_ERROR = 0, GPX_LOG_WARN, GPX_LOG_INFO, GPX_LOG_DEBUG };

extern int gpx__log_level;

void gpx_log_set_level(enum gpx_log_level lvl);
/* Parses "error|warn|info|debug"; -1 if unknown. */
int gpx_log_parse_level(const char *s);
void gpx_log_init_from_env(void);
void gpx__log(enum gpx_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define GPX_LOG(lvl, ...)                                                                          \
    do {                                                                                           \
        if ((int)(lvl) <= gpx__log_level)                                                          \
            gpx__log((lvl), __VA_ARGS__);                                                          \
    } while (0)
#define gpx_error_log(...) GPX_LOG(GPX_LOG_ERROR, __VA_ARGS__)
#define gpx_warn(...)      GPX_LOG(GPX_LOG_WARN, __VA_ARGS__)
#define gpx_info(...)      GPX_LOG(GPX_LOG_INFO, __VA_ARGS__)
#define gpx_debug(...)     GPX_LOG(GPX_LOG_DEBUG, __VA_ARGS__)

#endif
