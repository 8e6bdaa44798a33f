/*
 * gpuplex fn create|ls|rm|call|logs: GPU functions (docs/functions.md). An
 * admin publishes a worker program (or image) as an HTTP function; gpuplexd
 * starts its workers under leases on demand and meters every call. Only
 * gpuplexd serves functions (workers outlive any one command), so every
 * subcommand needs a daemon and says so when the client rule picked the
 * in-process engine instead.
 */
#define _GNU_SOURCE
#include "cli/cli.h"
#include "core/size.h"
#include "engine/views.h"
#include "gpuplex/client.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wordexp.h>

#define usage_err(...) gpx_cli_usage_error(&gpx_cmd_fn, __VA_ARGS__)

#define MAX_CALL_BODY ((size_t)64 << 20) /* gpuplexd's own ceiling of max_body_bytes */

#define NO_DAEMON                                                                                  \
    "GPU functions are served by gpuplexd only, and none is running for this node: "               \
    "start gpuplexd (systemctl start gpuplexd, or gpuplexd --sim for a simulated node) or name "   \
    "one with --server or GPUPLEX_SERVER"

/*
 * A connection to gpuplexd, or the failure printed and its exit status (> 0): 9 when the
 * client's rule (include/gpuplex/client.h) picks the in-process engine, which serves no
 * functions, whether or not that engine could open (it needs the GPU driver; a CLI without
 * a daemon should not blame the driver for what only a daemon does).
 */
static int connect_daemon(const char *server, struct gpx_conn **out)
{
    gpx_error err = {0}, e = {.code = GPX_E_IO};
    struct gpx_conn_opts o = {.server = server};
    const char *env = getenv("GPUPLEX_SERVER");
    *out = NULL;
    if (gpx_conn_open(&o, out, &err) < 0) {
        if (err.code == GPX_E_IO || err.code == GPX_E_UNAUTH || err.code == GPX_E_PERM ||
            (server && *server) || (env && *env))
            return gpx_cli_fail(&err); /* a daemon was named: its own failure says more */
        snprintf(e.msg, sizeof e.msg, "%s (the in-process engine was tried: %.180s)", NO_DAEMON,
                 err.msg);
        return gpx_cli_fail(&e);
    }
    if (gpx_conn_is_daemon(*out))
        return 0;
    snprintf(e.msg, sizeof e.msg, "%s (this command found the %.90s: %.90s)", NO_DAEMON,
             gpx_conn_where(*out), gpx_conn_why(*out));
    gpx_conn_close(*out);
    *out = NULL;
    return gpx_cli_fail(&e);
}

/* The operations on gpuplexd's /v1/functions (the client's gpx_function_* calls). */
enum op { OP_CREATE, OP_LIST, OP_REMOVE, OP_LOGS };

/* One operation; *out the answer. Takes body (create) over. */
static int call(const char *server, enum op op, const char *name, json_t *body, const char *worker,
                unsigned tail, json_t **out)
{
    struct gpx_conn *cn = NULL;
    int rc = connect_daemon(server, &cn), r = 0;
    gpx_error err = {0};
    if (rc != 0) {
        json_decref(body);
        return rc;
    }
    switch (op) {
    case OP_CREATE:
        r = gpx_function_create(cn, body, out, &err);
        break;
    case OP_LIST:
        r = gpx_function_list(cn, out, &err);
        break;
    case OP_REMOVE:
        r = gpx_function_remove(cn, name, out, &err);
        break;
    case OP_LOGS:
        r = gpx_function_logs(cn, name, worker, tail, out, &err);
        break;
    }
    if (r < 0)
        rc = gpx_cli_fail(&err);
    gpx_conn_close(cn);
    return rc;
}

static long long num(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* ---------------------------------------------------------------- create */

/* A whole number lo..hi (the flag named in the error). */
static int int_flag(const char *flag, const char *s, long lo, long hi, json_t *body,
                    const char *key)
{
    char *end = NULL;
    errno = 0;
    long v = s && ((*s >= '0' && *s <= '9') || *s == '-') ? strtol(s, &end, 10) : lo - 1;
    if (errno || !end || *end || v < lo || v > hi)
        return usage_err("%s takes a whole number from %ld to %ld, not '%s'", flag, lo, hi, s);
    json_object_set_new(body, key, json_integer(v));
    return 0;
}

/* A price, >= 0 (a plain decimal number: currency is the operator's). */
static int price_flag(const char *flag, const char *s, json_t *body, const char *key)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || v < 0)
        return usage_err("%s takes a number >= 0 (e.g. 0.0001), not '%s'", flag, s);
    json_object_set_new(body, key, json_real(v));
    return 0;
}

/* Seconds, as "30", "1.5", "500ms", "30s", "2m", "1h"; > 0. */
static int seconds_flag(const char *flag, const char *s, json_t *body, const char *key)
{
    char *end = NULL;
    double v = strtod(s, &end), mul = 0;
    if (end != s) {
        if (!*end || !strcmp(end, "s"))
            mul = 1;
        else if (!strcmp(end, "ms"))
            mul = 1e-3;
        else if (!strcmp(end, "m"))
            mul = 60;
        else if (!strcmp(end, "h"))
            mul = 3600;
    }
    if (mul == 0 || !isfinite(v) || v <= 0)
        return usage_err("%s takes a duration > 0: seconds (30, 1.5) or with a unit (500ms, "
                         "30s, 2m, 1h), not '%s'",
                         flag, s);
    json_object_set_new(body, key, json_real(v * mul));
    return 0;
}

/* --command "ARGV": split as a shell would (quotes, $VAR), but never running a command. */
static int command_flag(const char *s, json_t *body)
{
    wordexp_t we;
    int r = wordexp(s, &we, WRDE_NOCMD | WRDE_UNDEF);
    if (r != 0) {
        if (r == WRDE_NOSPACE)
            wordfree(&we);
        return usage_err("--command '%s': %s", s,
                         r == WRDE_CMDSUB   ? "command substitution is not allowed"
                         : r == WRDE_BADVAL ? "it names an unset variable"
                         : r == WRDE_BADCHAR
                             ? "quote |, &, ;, <, >, (, ), {, } or newline: there is no shell"
                             : "unbalanced quotes?");
    }
    if (we.we_wordc == 0) {
        wordfree(&we);
        return usage_err("--command is empty: give the worker's program and arguments");
    }
    json_t *argv = json_array();
    for (size_t i = 0; i < we.we_wordc; i++)
        json_array_append_new(argv, json_string(we.we_wordv[i]));
    wordfree(&we);
    json_object_set_new(body, "command", argv);
    return 0;
}

/* --file F (or - for stdin): the registration body the flags then add to. */
static int file_body(const char *path, json_t **out)
{
    json_error_t je;
    json_t *j = !strcmp(path, "-") ? json_loadf(stdin, 0, &je) : json_load_file(path, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return usage_err("--file %s: %s", path,
                         j ? "not a JSON object (see docs/functions.md, \"Routes\")" : je.text);
    }
    json_decref(*out);
    *out = j;
    return 0;
}

/* The lease part of the body (an object, made on first use). */
static json_t *lease_of(json_t *body)
{
    json_t *l = json_object_get(body, "lease");
    if (!json_is_object(l)) {
        l = json_object();
        json_object_set_new(body, "lease", l);
    }
    return l;
}

static int fn_create(const char *server, int json, int argc, char **argv)
{
    enum {
        O_NAME = 256,
        O_COMMAND,
        O_IMAGE,
        O_MIN,
        O_MAX,
        O_CONC,
        O_QUEUE,
        O_IDLE,
        O_TIMEOUT,
        O_BODY,
        O_PRICE_REQ,
        O_PRICE_GPU,
        O_FILE
    };
    static const struct option opts[] = {
        {"name", required_argument, NULL, O_NAME},
        {"command", required_argument, NULL, O_COMMAND},
        {"image", required_argument, NULL, O_IMAGE},
        {"mode", required_argument, NULL, 'M'},
        {"memory", required_argument, NULL, 'm'},
        {"weight", required_argument, NULL, 'w'},
        {"cap", required_argument, NULL, 'c'},
        {"mig-profile", required_argument, NULL, 'P'},
        {"gpu", required_argument, NULL, 'g'},
        {"min-workers", required_argument, NULL, O_MIN},
        {"max-workers", required_argument, NULL, O_MAX},
        {"max-concurrency", required_argument, NULL, O_CONC},
        {"queue-max", required_argument, NULL, O_QUEUE},
        {"idle-timeout", required_argument, NULL, O_IDLE},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"max-body", required_argument, NULL, O_BODY},
        {"price-per-request", required_argument, NULL, O_PRICE_REQ},
        {"price-per-gpu-second", required_argument, NULL, O_PRICE_GPU},
        {"file", required_argument, NULL, O_FILE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    json_t *body = json_object();
    int c, rc = 0, worker_flag = 0;
    optind = 1;
    opterr = 0;
    /* --file first, wherever it is: the other flags add to (or replace) its fields */
    for (int i = 1; i < argc && argv[i] && strcmp(argv[i], "--") != 0; i++) {
        const char *f = !strcmp(argv[i], "--file") && i + 1 < argc ? argv[i + 1]
                        : !strncmp(argv[i], "--file=", 7)          ? argv[i] + 7
                                                                   : NULL;
        if (f && (rc = file_body(f, &body)) != 0) {
            json_decref(body);
            return rc;
        }
    }
    /* '+': options end at the first argument or "--"; what follows is the worker's argv */
    while (rc == 0 && (c = getopt_long(argc, argv, "+M:m:w:c:P:g:h", opts, NULL)) != -1) {
        uint64_t bytes;
        gpx_error err = {0};
        switch (c) {
        case O_NAME:
            json_object_set_new(body, "name", json_string(optarg));
            break;
        case O_COMMAND: /* a worker given here replaces --file's, command or image */
            rc = command_flag(optarg, body);
            json_object_del(body, "image");
            worker_flag = 1;
            break;
        case O_IMAGE:
            json_object_set_new(body, "image", json_string(optarg));
            json_object_del(body, "command");
            worker_flag = 1;
            break;
        case 'M':
            json_object_set_new(lease_of(body), "mode", json_string(optarg));
            break;
        case 'm':
            json_object_set_new(lease_of(body), "memory", json_string(optarg));
            break;
        case 'P':
            json_object_set_new(lease_of(body), "mig_profile", json_string(optarg));
            break;
        case 'w':
            rc = int_flag("--weight", optarg, 1, 1000000, lease_of(body), "weight");
            break;
        case 'c':
            rc = int_flag("--cap", optarg, 1, 100, lease_of(body), "cap");
            break;
        case 'g': {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            json_object_set_new(lease_of(body), "gpu",
                                *optarg && !*end && v >= 0 ? json_integer(v) : json_string(optarg));
            break;
        }
        case O_MIN:
            rc = int_flag("--min-workers", optarg, 0, 64, body, "min_workers");
            break;
        case O_MAX:
            rc = int_flag("--max-workers", optarg, 1, 64, body, "max_workers");
            break;
        case O_CONC:
            rc = int_flag("--max-concurrency", optarg, 1, 1024, body, "max_concurrency");
            break;
        case O_QUEUE:
            rc = int_flag("--queue-max", optarg, 0, 100000, body, "queue_max");
            break;
        case O_IDLE:
            rc = seconds_flag("--idle-timeout", optarg, body, "idle_timeout_s");
            break;
        case O_TIMEOUT:
            rc = seconds_flag("--timeout", optarg, body, "timeout_s");
            break;
        case O_BODY:
            if (gpx_size_parse(optarg, &bytes, &err) < 0 || bytes == 0)
                rc = usage_err("--max-body takes a size from 1 byte to 64M (65536, 512K, 1M), "
                               "not '%s'",
                               optarg);
            else
                json_object_set_new(body, "max_body_bytes", json_integer((json_int_t)bytes));
            break;
        case O_PRICE_REQ:
            rc = price_flag("--price-per-request", optarg, body, "price_per_request");
            break;
        case O_PRICE_GPU:
            rc = price_flag("--price-per-gpu-second", optarg, body, "price_per_gpu_second");
            break;
        case O_FILE:
            break; /* read above */
        case 'h':
            rc = -1;
            break;
        default:
            rc = usage_err("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (rc == 0 && optind < argc) {
        if (worker_flag)
            rc = usage_err("unexpected argument '%s': the worker is given by --command or "
                           "--image already (an argv after -- is the third way)",
                           argv[optind]);
        json_object_del(body, "image");
        json_t *cmd = json_array();
        for (int i = optind; i < argc; i++)
            json_array_append_new(cmd, json_string(argv[i]));
        json_object_set_new(body, "command", cmd);
    }
    if (rc == 0 && !json_object_get(body, "name"))
        rc = usage_err("%s", "missing --name NAME (or \"name\" in --file)");
    if (rc == 0 && !json_object_get(body, "command") && !json_object_get(body, "image"))
        rc = usage_err("%s", "missing the worker: --command \"PROG ARGS\", -- PROG ARGS..., or "
                             "--image IMAGE");
    if (rc != 0) {
        json_decref(body);
        return rc < 0 ? gpx_cli_print_usage(&gpx_cmd_fn) : rc;
    }
    json_t *out = NULL;
    if ((rc = call(server, OP_CREATE, NULL, body, NULL, 0, &out)) != 0)
        return rc;
    if (json)
        gpx_view_print(out);
    else
        puts(gpx_cli_str(out, "name"));
    json_decref(out);
    return 0;
}

/* ---------------------------------------------------------------- ls */

static void print_table(json_t *list)
{
    printf("%-20s %-12s %-9s %-7s %5s %5s %9s %5s %11s %11s %s\n", "NAME", "OWNER", "WORKERS",
           "MIN-MAX", "CONC", "QUEUE", "REQUESTS", "COLD", "PRICE/REQ", "PRICE/GPU-S", "COMMAND");
    size_t i, k;
    json_t *f, *w, *a;
    json_array_foreach(list, i, f)
    {
        unsigned ready = 0, all = 0;
        json_array_foreach(json_object_get(f, "workers"), k, w)
        {
            all++;
            ready += !strcmp(gpx_cli_str(w, "state"), "ready");
        }
        char workers[24], range[24], cmd[256] = "";
        snprintf(workers, sizeof workers, "%u/%u", ready, all);
        snprintf(range, sizeof range, "%lld-%lld", num(f, "min_workers"), num(f, "max_workers"));
        json_t *argv = json_object_get(f, "command");
        if (json_is_array(argv)) {
            size_t n = 0;
            json_array_foreach(argv, k, a)
            {
                int m = snprintf(cmd + n, sizeof cmd - n, "%s%s", k ? " " : "",
                                 json_string_value(a) ?: "");
                if (m < 0 || (size_t)m >= sizeof cmd - n)
                    break; /* a long command line is cut in the table; --json has it all */
                n += (size_t)m;
            }
        } else {
            snprintf(cmd, sizeof cmd, "image %s", gpx_cli_str(f, "image"));
        }
        printf("%-20s %-12s %-9s %-7s %5lld %5lld %9lld %5lld %11g %11g %s\n",
               gpx_cli_str(f, "name"), gpx_cli_str(f, "owner"), workers, range,
               num(f, "max_concurrency"), num(f, "queue_depth"), num(f, "requests"),
               num(f, "cold_starts"), json_number_value(json_object_get(f, "price_per_request")),
               json_number_value(json_object_get(f, "price_per_gpu_second")), cmd);
    }
}

/* ---------------------------------------------------------------- call */

/* The request body: --data, --data-file (- = stdin) or stdin when it is not a terminal. */
static int read_all(FILE *f, const char *what, char **out, size_t *len)
{
    size_t cap = 0, n = 0;
    char *p = NULL;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            char *q = cap <= MAX_CALL_BODY + 1 ? realloc(p, cap) : NULL;
            if (!q) {
                free(p);
                return usage_err("%s is larger than %zu MiB", what, MAX_CALL_BODY >> 20);
            }
            p = q;
        }
        size_t r = fread(p + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                free(p);
                return usage_err("reading %s: %s", what, strerror(errno));
            }
            break;
        }
    }
    *out = p;
    *len = n;
    return 0;
}

static int fn_call(const char *server, int json, int verbose, const char *name, const char *data,
                   const char *data_file, const char *content_type)
{
    char *body = NULL;
    size_t len = 0;
    int rc = 0;
    if (data) {
        body = strdup(data);
        len = strlen(data);
    } else if (data_file && strcmp(data_file, "-") != 0) {
        FILE *f = fopen(data_file, "rb");
        if (!f)
            return usage_err("--data-file %s: %s", data_file, strerror(errno));
        rc = read_all(f, data_file, &body, &len);
        fclose(f);
    } else if (data_file || !isatty(STDIN_FILENO)) {
        rc = read_all(stdin, "stdin", &body, &len);
    }
    if (rc != 0)
        return rc;
    struct gpx_conn *cn = NULL;
    if ((rc = connect_daemon(server, &cn)) != 0) {
        free(body);
        return rc;
    }
    struct gpx_fn_answer a;
    gpx_error err = {0};
    rc = gpx_function_invoke(cn, name, body ? body : "", len, content_type, &a, &err);
    gpx_conn_close(cn);
    free(body);
    if (rc < 0)
        return gpx_cli_fail(&err);
    if (json) {
        /* header values are the server's bytes: a string jansson refuses is left out */
        json_t *doc = json_object();
        json_object_set_new(doc, "status", json_integer(a.status));
        json_object_set_new(doc, "content_type", json_string(a.content_type));
        json_object_set_new(doc, "request_id", json_string(a.request_id));
        /* absent headers (an error before any worker) are null */
        json_object_set_new(doc, "queue_ms", a.queue_ms >= 0 ? json_real(a.queue_ms) : json_null());
        json_object_set_new(doc, "gpu_ms", a.gpu_ms >= 0 ? json_real(a.gpu_ms) : json_null());
        if (a.retry_after > 0)
            json_object_set_new(doc, "retry_after_s", json_integer(a.retry_after));
        json_t *parsed = json_loadb(a.body ? a.body : "", a.len, JSON_DECODE_ANY, NULL);
        json_object_set_new(doc, "body",
                            parsed ? parsed : json_stringn(a.body ? a.body : "", a.len));
        if (!json_object_get(doc, "body")) /* neither JSON nor UTF-8: print it without --json */
            json_object_set_new(doc, "body", json_null());
        gpx_view_print(doc);
        json_decref(doc);
    } else {
        if (verbose) {
            fprintf(stderr, "< HTTP %ld\n", a.status);
            if (a.content_type[0])
                fprintf(stderr, "< Content-Type: %s\n", a.content_type);
            if (a.request_id[0])
                fprintf(stderr, "< X-Gpuplex-Request-Id: %s\n", a.request_id);
            if (a.queue_ms >= 0)
                fprintf(stderr, "< X-Gpuplex-Queue-Ms: %.3f\n", a.queue_ms);
            if (a.gpu_ms >= 0)
                fprintf(stderr, "< X-Gpuplex-Gpu-Ms: %.3f\n", a.gpu_ms);
            if (a.retry_after > 0)
                fprintf(stderr, "< Retry-After: %ld\n", a.retry_after);
        }
        if (a.len)
            fwrite(a.body, 1, a.len, stdout);
        if (a.len && a.body[a.len - 1] != '\n' && isatty(STDOUT_FILENO))
            putchar('\n');
    }
    int status = a.status >= 200 && a.status < 300    ? 0
                 : a.status == 404                    ? gpx_error_exit_status(GPX_E_NOT_FOUND)
                 : a.status == 400 || a.status == 413 ? gpx_error_exit_status(GPX_E_INVALID)
                 : a.status == 429                    ? gpx_error_exit_status(GPX_E_BUSY)
                 : a.status == 401 || a.status == 403 ? gpx_error_exit_status(GPX_E_PERM)
                                                      : 1;
    if (status && !json)
        fprintf(stderr, "gpuplex fn call: %s answered %ld (request %s)\n", name, a.status,
                a.request_id[0] ? a.request_id : "-");
    free(a.body);
    return status;
}

/* ---------------------------------------------------------------- logs */

static void print_logs(json_t *out)
{
    json_t *workers = json_object_get(out, "workers"), *w;
    size_t i;
    json_array_foreach(workers, i, w)
    {
        if (json_array_size(workers) > 1) /* as tail(1) heads several files */
            printf("%s==> %s <==\n", i ? "\n" : "", gpx_cli_str(w, "id"));
        const char *logs = json_string_value(json_object_get(w, "logs"));
        fputs(logs ? logs : "", stdout);
    }
}

/* ---------------------------------------------------------------- dispatch */

/* A function name or worker id as a path segment: [A-Za-z0-9][A-Za-z0-9._-]{0,62}. */
static int name_ok(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
    return n > 0 && n < 64 && s[n] == '\0' && s[0] != '.' && s[0] != '_' && s[0] != '-';
}

static int fn_run(int argc, char **argv)
{
    enum { O_DATA = 256, O_DATA_FILE, O_TAIL, O_WORKER, O_TYPE };
    static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"data", required_argument, NULL, O_DATA},
                                         {"data-file", required_argument, NULL, O_DATA_FILE},
                                         {"content-type", required_argument, NULL, O_TYPE},
                                         {"tail", required_argument, NULL, O_TAIL},
                                         {"worker", required_argument, NULL, O_WORKER},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *server = NULL, *data = NULL, *data_file = NULL, *worker = NULL;
    const char *type = "application/json";
    int json = 0, verbose = 0, c;
    long tail = 100;
    const char *sub =
        gpx_cli_subcommand(&gpx_cmd_fn, argc, argv, "create, ls, rm, call or logs", &c);
    if (!sub)
        return c;
    /* create: its own flags and then the worker's argv; --server and --json come first */
    if (!strcmp(sub, "create")) {
        int i = gpx_cli_conn_flags(argc, argv, &server, &json);
        argv[i - 1] = argv[0];
        return fn_create(server, json, argc - i + 1, argv + i - 1);
    }
    optind = 2;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "s:jvh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            server = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case O_DATA:
            data = optarg;
            break;
        case O_DATA_FILE:
            data_file = optarg;
            break;
        case O_TYPE:
            type = optarg;
            break;
        case O_TAIL:
            if (gpx_cli_number(optarg, 1, 100000, &tail) < 0)
                return usage_err("--tail takes a number of lines from 1 to 100000, not '%s'",
                                 optarg);
            break;
        case O_WORKER:
            worker = optarg;
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_fn);
        default:
            return usage_err("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    int is_call = !strcmp(sub, "call"), is_logs = !strcmp(sub, "logs");
    if ((data || data_file || verbose || strcmp(type, "application/json") != 0) && !is_call)
        return usage_err("--data, --data-file, --content-type and -v are options of 'call'");
    if ((worker || tail != 100) && !is_logs)
        return usage_err("--tail and --worker are options of 'logs'");
    if (data && data_file)
        return usage_err("--data and --data-file: give one");
    json_t *out = NULL;
    int rc;
    if (!strcmp(sub, "ls") || !strcmp(sub, "list")) {
        if (optind < argc)
            return usage_err("unexpected argument '%s'", argv[optind]);
        if ((rc = call(server, OP_LIST, NULL, NULL, NULL, 0, &out)) != 0)
            return rc;
        if (json)
            gpx_view_print(out);
        else
            print_table(json_object_get(out, "functions"));
        json_decref(out);
        return 0;
    }
    if (!is_call && !is_logs && strcmp(sub, "rm") != 0)
        return usage_err("unknown subcommand '%s': create, ls, rm, call or logs", sub);
    if (optind >= argc)
        return usage_err("%s needs a function NAME (see 'gpuplex fn ls')", sub);
    if ((is_call || is_logs) && optind + 1 < argc)
        return usage_err("unexpected argument '%s'", argv[optind + 1]);
    for (int i = optind; i < argc; i++)
        if (!name_ok(argv[i]))
            return usage_err("invalid function NAME '%s': letters, digits, '.', '_' and '-', "
                             "at most 63, starting with a letter or digit",
                             argv[i]);
    if (is_call)
        return fn_call(server, json, verbose, argv[optind], data, data_file, type);
    int status = 0;
    if (worker && !name_ok(worker))
        return usage_err("invalid worker ID '%s' (see 'gpuplex fn ls --json')", worker);
    for (int i = optind; i < argc; i++) {
        if ((rc = call(server, is_logs ? OP_LOGS : OP_REMOVE, argv[i], NULL, worker, (unsigned)tail,
                       &out)) != 0) {
            status = rc;
            continue;
        }
        if (json)
            gpx_view_print(out);
        else if (is_logs)
            print_logs(out);
        else
            puts(gpx_cli_str(out, "name"));
        json_decref(out);
    }
    return status;
}

const struct gpx_cmd gpx_cmd_fn = {
    "fn",
    fn_run,
    "GPU functions: publish a worker as an HTTP endpoint, call it per request",
    "usage: gpuplex fn create [--json] --name NAME [--mode exclusive|vgpu|timeslice|mig]\n"
    "                         [--memory SIZE] [--weight N] [--cap PCT] [--mig-profile PROFILE]\n"
    "                         [--gpu G] [--min-workers N] [--max-workers N]\n"
    "                         [--max-concurrency N] [--queue-max N] [--idle-timeout T]\n"
    "                         [--timeout T] [--max-body SIZE] [--price-per-request PRICE]\n"
    "                         [--price-per-gpu-second PRICE] [--file FILE]\n"
    "                         (--command CMDLINE | --image IMAGE | -- PROG [ARG...])\n"
    "       gpuplex fn ls [--json]\n"
    "       gpuplex fn rm [--json] NAME...\n"
    "       gpuplex fn call [-v|--verbose] [--json] [--data STR | --data-file FILE]\n"
    "                       [--content-type TYPE] NAME\n"
    "       gpuplex fn logs [--tail N] [--worker WORKER] [--json] NAME\n"
    "\n"
    "A function is a worker program that gpuplexd starts on demand, each worker\n"
    "under its own lease, and calls per request over HTTP on a unix socket\n"
    "(docs/functions.md: the worker protocol, scaling, metering and billing; the\n"
    "example worker is gpuplex-fn-worker). Tenants call it; gpuplexd queues calls,\n"
    "starts workers up to --max-workers, stops idle ones and meters each request\n"
    "('gpuplex usage' shows requests, GPU-seconds and the bill). Only gpuplexd\n"
    "serves functions: without one these commands fail (exit 9) and say so.\n"
    "\n"
    "  create       register a function (admin); prints its NAME, or its JSON with --json\n"
    "    --name NAME            letters, digits, '.', '_', '-'; at most 63\n"
    "    --command CMDLINE      the worker's argv as one string, split as a shell would\n"
    "                           (quotes, $VAR; no command substitution, no shell runs\n"
    "                           it); or give the argv after -- exactly\n"
    "    --image IMAGE          run the worker as a container of IMAGE, its own CMD the\n"
    "                           worker (podman, the lease's CDI device; the image must\n"
    "                           be in gpuplexd's container_images)\n"
    "    --mode M --memory SIZE --weight N --cap PCT --mig-profile PROFILE --gpu G\n"
    "                           each worker's lease, as for 'gpuplex lease create'\n"
    "    --min-workers N        workers kept running (0-64, default 0: scale from zero)\n"
    "    --max-workers N        most workers at once (1-64, default 1)\n"
    "    --max-concurrency N    requests one worker serves at once (1-1024, default 1)\n"
    "    --queue-max N          calls waiting for a worker before 429 (0-100000, default 64)\n"
    "    --idle-timeout T       stop a worker idle this long (default 60s; 500ms, 30s, 2m)\n"
    "    --timeout T            per request and per worker start (default 30s); then 504\n"
    "    --max-body SIZE        largest request body (default 1M, at most 64M); then 413\n"
    "    --price-per-request PRICE\n"
    "                           the bill per answered request (default 0)\n"
    "    --price-per-gpu-second PRICE\n"
    "                           the bill per GPU-second its worker used (default 0)\n"
    "    --file FILE            the registration body as JSON (- for stdin); flags\n"
    "                           given too replace its fields\n"
    "  ls           the functions: workers ready/all, min-max, concurrency per\n"
    "               worker, calls queued now, requests, cold starts, prices, command\n"
    "  rm           stop its workers (SIGTERM, SIGKILL 5 s later), end their leases\n"
    "               and remove it (admin)\n"
    "  call         invoke it: the body from --data, --data-file (- for stdin) or\n"
    "               stdin when it is not a terminal (else empty); prints the worker's\n"
    "               answer body on stdout\n"
    "    --content-type TYPE    of the body (default application/json)\n"
    "    -v, --verbose          the answer's status and headers on stderr: request\n"
    "                           id, queue time (a cold start included) and GPU time\n"
    "    --json                 one object: status, content_type, request_id,\n"
    "                           queue_ms, gpu_ms, body (parsed when JSON)\n"
    "  logs         the workers' stdout and stderr (admin), the last --tail lines\n"
    "               (default 100) of each, or of --worker WORKER (an id of 'fn ls --json')\n"
    "  --json       the API's JSON (GET /v1/functions and the others)\n"
    "  --server S   gpuplexd's socket path or http://HOST:PORT (see 'gpuplex status')\n"
    "\n"
    "example (the example worker on a simulated node):\n"
    "  gpuplex fn create --name spin --mode vgpu --memory 2G --max-workers 2 \\\n"
    "      --price-per-request 0.0001 -- /usr/libexec/gpuplex/gpuplex-fn-worker\n"
    "  gpuplex fn call spin --data '{\"kernels\": 8, \"kernel_us\": 500}'\n"
    "  gpuplex usage\n"
    "\n"
    "exit status: 0 ok (call: the answer was 2xx); 2 usage, or the call's 400/413;\n"
    "5 no such function; 6 it exists already, or the call's queue was full (429);\n"
    "10 not allowed (create and rm are for admins); 9 no gpuplexd; 1 the call got\n"
    "another status (502 worker failed, 503 no worker could start, 504 timeout);\n"
    "see 'gpuplex help'.\n",
};
