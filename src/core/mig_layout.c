/*
 * MIG layout files (see mig_layout.h). Two stages: text -> a small tree of
 * maps, sequences and scalars (YAML through libyaml's event API, JSON
 * through jansson), then tree -> layouts with every key and value checked,
 * errors naming the line. libyaml, not a hand-written parser, so that files
 * written for mig-parted (a real YAML reader) read the same here: flow
 * collections over lines, quoting and escapes, comments, "---"/"...".
 * Anchors, aliases, tags, block scalars ('|', '>') and multiple documents
 * are refused, not guessed at.
 *
 * Invariants: input is bounded (GPX_MIG_LAYOUT_MAX_BYTES), nesting is bounded
 * (MAX_DEPTH: the builder keeps an explicit stack, nothing recurses on YAML
 * input) and the node count is bounded (MAX_NODES), so no input can exhaust
 * the stack or memory; every allocation is freed on every path.
 */
#define _GNU_SOURCE
#include "core/mig_layout.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define MAX_DEPTH 32
#define MAX_NODES 20000U

enum node_type { N_NULL, N_SCALAR, N_MAP, N_SEQ };

struct node {
    enum node_type type;
    unsigned line;
    char *str; /* N_SCALAR */
    unsigned n, cap;
    char **keys; /* N_MAP */
    struct node **kids;
};

struct parser {
    unsigned nodes;
    gpx_error *err;
    int failed;
};

static void node_free(struct node *n)
{
    if (!n)
        return;
    for (unsigned i = 0; i < n->n; i++) {
        if (n->keys)
            free(n->keys[i]);
        node_free(n->kids[i]);
    }
    free(n->keys);
    free(n->kids);
    free(n->str);
    free(n);
}

static int fail(struct parser *ps, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *ps, unsigned line, const char *fmt, ...)
{
    if (!ps->failed) {
        char msg[300];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (line)
            gpx_error_set(ps->err, GPX_E_INVALID, "line %u: %s", line, msg);
        else
            gpx_error_set(ps->err, GPX_E_INVALID, "%s", msg);
        ps->failed = 1;
    }
    return -1;
}

static struct node *node_new(struct parser *ps, enum node_type t, unsigned line)
{
    if (ps->nodes >= MAX_NODES) {
        fail(ps, line, "layout file too large (more than %s values)", "20000");
        return NULL;
    }
    struct node *n = calloc(1, sizeof *n);
    if (!n) {
        fail(ps, line, "out of memory");
        return NULL;
    }
    ps->nodes++;
    n->type = t;
    n->line = line;
    return n;
}

/*
 * Appends kid (and key, for maps; both owned by the parent from here on, or
 * freed on failure). A duplicate key is reported at `key_line` (or the kid's).
 */
static int node_add(struct parser *ps, struct node *parent, char *key, unsigned key_line,
                    struct node *kid)
{
    if (parent->type == N_MAP) {
        for (unsigned i = 0; i < parent->n; i++) {
            if (strcmp(parent->keys[i], key) == 0) {
                fail(ps, key_line ? key_line : kid->line, "duplicate key '%s'", key);
                free(key);
                node_free(kid);
                return -1;
            }
        }
    }
    if (parent->n == parent->cap) {
        unsigned cap = parent->cap ? parent->cap * 2 : 4;
        /* an array of pointers to nodes */
        // NOLINTNEXTLINE(bugprone-sizeof-expression)
        struct node **kids = realloc(parent->kids, cap * sizeof *kids);
        if (kids)
            parent->kids = kids;
        char **keys = NULL;
        if (kids && parent->type == N_MAP) {
            keys = realloc(parent->keys, cap * sizeof *keys);
            if (keys)
                parent->keys = keys;
        }
        if (!kids || (parent->type == N_MAP && !keys)) {
            free(key);
            node_free(kid);
            return fail(ps, 0, "out of memory");
        }
        parent->cap = cap;
    }
    if (parent->type == N_MAP)
        parent->keys[parent->n] = key;
    else
        free(key);
    parent->kids[parent->n++] = kid;
    return 0;
}

static struct node *scalar_node(struct parser *ps, unsigned line, const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    struct node *v = node_new(ps, N_SCALAR, line);
    if (!v)
        return NULL;
    v->str = strndup(s, n);
    if (!v->str) {
        node_free(v);
        fail(ps, line, "out of memory");
        return NULL;
    }
    return v;
}

/* --- YAML: libyaml events -> the tree ------------------------------------------------------ */

/* The open collections, outermost first; a map's key waits here for its value. */
struct builder {
    struct node *root;
    int top; /* index of the innermost open collection, -1 when none */
    struct node *open[MAX_DEPTH + 1];
    char *key[MAX_DEPTH + 1]; /* NULL: the map expects a key next */
    unsigned key_line[MAX_DEPTH + 1];
    int documents;
};

static unsigned mark_line(yaml_mark_t m)
{
    return (unsigned)m.line + 1;
}

static int refuse(struct parser *ps, unsigned line, const char *what)
{
    return fail(ps, line,
                "'%s' is not supported in layout files (no anchors, aliases, tags or block "
                "scalars)",
                what);
}

/* An untagged plain "", "~" or "null" (e.g. "key:" with nothing after it). */
static int is_null(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (!*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
            !strcmp(v, "NULL"));
}

/* A scalar, sequence start or mapping start: a map key, or a value to attach. */
static int on_node(struct parser *ps, struct builder *b, const yaml_event_t *ev)
{
    unsigned line = mark_line(ev->start_mark);
    const yaml_char_t *anchor, *tag;
    if (ev->type == YAML_SCALAR_EVENT) {
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
    } else {
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
    }
    if (anchor)
        return refuse(ps, line, "&");
    if (tag)
        return refuse(ps, line, "!");
    if (ev->type == YAML_SCALAR_EVENT) {
        if (ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
            ev->data.scalar.style == YAML_FOLDED_SCALAR_STYLE)
            return refuse(ps, line, ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ? "|" : ">");
        if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
            return fail(ps, line, "NUL character in a quoted string");
    }
    struct node *parent = b->top >= 0 ? b->open[b->top] : NULL;
    if (parent && parent->type == N_MAP && !b->key[b->top]) {
        if (ev->type != YAML_SCALAR_EVENT)
            return fail(ps, line, "a mapping key must be a plain or quoted string, not %s",
                        ev->type == YAML_SEQUENCE_START_EVENT ? "a list" : "a mapping");
        b->key[b->top] = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        if (!b->key[b->top])
            return fail(ps, line, "out of memory");
        b->key_line[b->top] = line;
        return 0;
    }
    if (b->top + 1 > MAX_DEPTH)
        return fail(ps, line, "nesting deeper than %s levels", "32");
    struct node *n;
    if (ev->type == YAML_SCALAR_EVENT && is_null(ev)) {
        n = node_new(ps, N_NULL, line);
    } else if (ev->type == YAML_SCALAR_EVENT) {
        n = node_new(ps, N_SCALAR, line);
        if (n) {
            n->str = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
            if (!n->str) {
                node_free(n);
                n = NULL;
                fail(ps, line, "out of memory");
            }
        }
    } else {
        n = node_new(ps, ev->type == YAML_SEQUENCE_START_EVENT ? N_SEQ : N_MAP, line);
    }
    if (!n)
        return -1;
    if (!parent && b->root) { /* libyaml gives one root per document (and one is allowed) */
        node_free(n);
        return fail(ps, line, "only one YAML document per layout file");
    }
    if (!parent) {
        b->root = n;
    } else {
        char *key = NULL;
        unsigned key_line = 0;
        if (parent->type == N_MAP) {
            key = b->key[b->top];
            key_line = b->key_line[b->top];
            b->key[b->top] = NULL;
        }
        if (node_add(ps, parent, key, key_line, n) < 0)
            return -1;
    }
    if (n->type == N_SEQ || n->type == N_MAP) {
        b->top++;
        b->open[b->top] = n;
        b->key[b->top] = NULL;
    }
    return 0;
}

/* The byte offset of libyaml's mark index (which counts characters, not bytes). */
static size_t mark_offset(const char *text, size_t len, size_t index)
{
    size_t i = 0;
    for (; index > 0 && i < len; index--) {
        unsigned char c = (unsigned char)text[i];
        i += c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2; /* UTF-8, checked by libyaml */
    }
    return i < len ? i : len;
}

/* Sets the error for a libyaml failure: its problem, line and column, in our words. */
static int yaml_fail(struct parser *ps, const yaml_parser_t *yp, const char *text, size_t len)
{
    if (yp->error == YAML_MEMORY_ERROR) {
        ps->failed = 1;
        return gpx_error_set(ps->err, GPX_E_NOMEM, "out of memory parsing the layout file");
    }
    if (yp->error == YAML_READER_ERROR) {
        /* libyaml gives a byte offset here, not a mark */
        unsigned line = 1;
        size_t at = yp->problem_offset < len ? yp->problem_offset : len;
        for (size_t i = 0; i < at; i++)
            line += text[i] == '\n';
        return fail(ps, line, "%s (byte 0x%02x at offset %zu; layout files are UTF-8 text)",
                    yp->problem ? yp->problem : "unreadable input",
                    (unsigned)yp->problem_value & 0xffU, yp->problem_offset);
    }
    const char *problem = yp->problem ? yp->problem : "syntax error";
    const char *context = yp->context; /* "while parsing a flow sequence": "in a ..." */
    if (context && !strncmp(context, "while parsing ", 14))
        context += 14;
    else if (context && !strncmp(context, "while scanning ", 15))
        context += 15;
    if (context && (!strncmp(context, "for ", 4) || !*context))
        context = NULL; /* "for the next token": nothing to add */
    size_t at = mark_offset(text, len, yp->problem_mark.index);
    size_t bol = at; /* the start of the problem's line */
    while (bol > 0 && text[bol - 1] != '\n' && text[bol - 1] != '\r')
        bol--;
    int indented = 1; /* only blanks before the problem on its line */
    for (size_t i = bol; i < at; i++)
        indented &= text[i] == ' ';
    char buf[80];
    if ((yp->error == YAML_SCANNER_ERROR && at < len && text[at] == '\t') ||
        strstr(problem, "tab character")) {
        problem = "tab used for indentation (use spaces)";
    } else if (!strcmp(problem, "found character that cannot start any token") && at < len &&
               isgraph((unsigned char)text[at])) {
        snprintf(buf, sizeof buf, "'%c' cannot start a value (quote the value)", text[at]);
        problem = buf;
    } else if (!strcmp(problem, "mapping values are not allowed in this context")) {
        problem = "unexpected ':' (quote a value that contains ': ')";
    } else if (!strcmp(problem, "found unknown escape character")) {
        problem = "unsupported escape in quoted string";
    } else if (context && strstr(context, "quoted scalar") && strstr(problem, "end of stream")) {
        problem = "unterminated quoted string";
    } else if (!strcmp(problem, "did not find expected key") && at < len) {
        problem = indented ? "unexpected indentation (did not find expected key)"
                           : "unexpected text after a value (did not find expected key)";
    }
    char where[48];
    if (at >= len)
        snprintf(where, sizeof where, "at the end of the file");
    else
        snprintf(where, sizeof where, "column %u", (unsigned)yp->problem_mark.column + 1);
    if (context)
        return fail(ps, mark_line(yp->problem_mark), "%s (%s, in %s that starts on line %u)",
                    problem, where, context, mark_line(yp->context_mark));
    return fail(ps, mark_line(yp->problem_mark), "%s (%s)", problem, where);
}

/* Parses one YAML document into a tree; NULL (with the error set) on failure. */
static struct node *parse_yaml(struct parser *ps, const char *text, size_t len)
{
    yaml_parser_t yp;
    if (!yaml_parser_initialize(&yp)) {
        ps->failed = 1;
        gpx_error_set(ps->err, GPX_E_NOMEM, "out of memory parsing the layout file");
        return NULL;
    }
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    yaml_parser_set_encoding(&yp, YAML_UTF8_ENCODING);
    struct builder b = {.top = -1};
    int done = 0;
    while (!done && !ps->failed) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&yp, &ev)) {
            yaml_fail(ps, &yp, text, len);
            break;
        }
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (b.documents++)
                fail(ps, mark_line(ev.start_mark), "only one YAML document per layout file");
            break;
        case YAML_ALIAS_EVENT:
            refuse(ps, mark_line(ev.start_mark), "*");
            break;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            on_node(ps, &b, &ev);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (b.top >= 0) { /* libyaml pairs them; a map's key is taken by then */
                free(b.key[b.top]);
                b.key[b.top] = NULL;
                b.top--;
            }
            break;
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        default: /* stream start, document end, and YAML_NO_EVENT */
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&yp);
    for (int i = 0; i <= b.top; i++)
        free(b.key[i]);
    if (ps->failed) {
        node_free(b.root);
        return NULL;
    }
    if (!b.root || b.root->type == N_NULL) {
        node_free(b.root);
        fail(ps, 0, "empty layout file");
        return NULL;
    }
    return b.root;
}

/* JSON -> the same tree. */
static struct node *from_json(struct parser *ps, json_t *j, int depth)
{
    if (depth > MAX_DEPTH) {
        fail(ps, 0, "nesting deeper than %s levels", "32");
        return NULL;
    }
    struct node *n;
    char num[32];
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        n = node_new(ps, N_MAP, 0);
        if (!n)
            return NULL;
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            struct node *kid = from_json(ps, v, depth + 1);
            char *key = kid ? strdup(k) : NULL;
            if (!kid || !key || node_add(ps, n, key, 0, kid) < 0) {
                if (kid && !key) {
                    node_free(kid);
                    fail(ps, 0, "out of memory");
                }
                node_free(n);
                return NULL;
            }
        }
        return n;
    }
    case JSON_ARRAY: {
        n = node_new(ps, N_SEQ, 0);
        if (!n)
            return NULL;
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            struct node *kid = from_json(ps, v, depth + 1);
            if (!kid || node_add(ps, n, NULL, 0, kid) < 0) {
                node_free(n);
                return NULL;
            }
        }
        return n;
    }
    case JSON_STRING:
        return scalar_node(ps, 0, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return scalar_node(ps, 0, num, strlen(num));
    case JSON_REAL:
        snprintf(num, sizeof num, "%g", json_real_value(j));
        return scalar_node(ps, 0, num, strlen(num));
    case JSON_TRUE:
        return scalar_node(ps, 0, "true", 4);
    case JSON_FALSE:
        return scalar_node(ps, 0, "false", 5);
    case JSON_NULL:
    default:
        return node_new(ps, N_NULL, 0);
    }
}

/* --- tree -> layouts ---------------------------------------------------------------------- */

static const char *type_name(enum node_type t)
{
    return t == N_MAP ? "a mapping" : t == N_SEQ ? "a list" : t == N_NULL ? "empty" : "a value";
}

static int expect(struct parser *ps, const struct node *n, enum node_type t, const char *what)
{
    if (n->type == t)
        return 0;
    char msg[160];
    snprintf(msg, sizeof msg, "%s must be %s, not %s", what, type_name(t), type_name(n->type));
    return fail(ps, n->line, "%s", msg);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    if (!isdigit((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int parse_device_index(struct parser *ps, const struct node *n, uint32_t *mask)
{
    unsigned long v;
    if (expect(ps, n, N_SCALAR, "a device index") < 0)
        return -1;
    if (parse_uint(n->str, 31, &v) < 0)
        return fail(ps, n->line, "device index '%s' must be 0..31", n->str);
    *mask |= 1U << v;
    return 0;
}

static int parse_filter(struct parser *ps, const struct node *n, struct gpx_mig_layout_rule *r)
{
    if (expect(ps, n, N_SCALAR, "a device-filter entry") < 0)
        return -1;
    if (r->nfilters >= GPX_MIG_LAYOUT_MAX_FILTERS)
        return fail(ps, n->line, "more than %s device-filter entries", "16");
    struct gpx_mig_layout_filter *f = &r->filters[r->nfilters];
    const char *s = n->str;
    if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) && isxdigit((unsigned char)s[2])) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s + 2, &end, 16);
        if (errno || *end || v == 0 || v > 0xffffffffULL)
            return fail(ps, n->line, "bad PCI device id '%s' (example: 0x233010DE)", s);
        f->pci_device_id = (uint32_t)v;
        f->model = -1;
    } else if (isdigit((unsigned char)s[0])) {
        /* an unquoted 0x... that a YAML library turned into a decimal number */
        unsigned long v;
        if (parse_uint(s, 0xffffffffUL, &v) < 0 || v == 0)
            return fail(ps, n->line, "bad PCI device id '%s' (example: 0x233010DE)", s);
        f->pci_device_id = (uint32_t)v;
        f->model = -1;
    } else {
        int m = gpx_mig_model_find(s);
        if (m < 0) {
            char msg[200];
            snprintf(msg, sizeof msg,
                     "unknown device-filter '%s' (a PCI device id such as "
                     "0x233010DE, or a model: %s)",
                     s, gpx_mig_model_list());
            return fail(ps, n->line, "%s", msg);
        }
        f->pci_device_id = 0;
        f->model = m;
    }
    r->nfilters++;
    return 0;
}

static int parse_rule(struct parser *ps, const struct node *n, struct gpx_mig_layout_rule *r)
{
    memset(r, 0, sizeof *r);
    r->all_devices = 1;
    if (expect(ps, n, N_MAP, "a layout rule (a '- devices: ...' item)") < 0)
        return -1;
    int have_enabled = 0;
    for (unsigned i = 0; i < n->n; i++) {
        const char *k = n->keys[i];
        const struct node *v = n->kids[i];
        if (!strcmp(k, "devices")) {
            if (v->type == N_SCALAR && !strcmp(v->str, "all")) {
                r->all_devices = 1;
            } else if (v->type == N_SCALAR) {
                r->all_devices = 0;
                if (parse_device_index(ps, v, &r->devices) < 0)
                    return -1;
            } else if (v->type == N_SEQ) {
                r->all_devices = 0;
                for (unsigned j = 0; j < v->n; j++)
                    if (parse_device_index(ps, v->kids[j], &r->devices) < 0)
                        return -1;
            } else {
                return fail(ps, v->line, "devices must be 'all' or a list of GPU indexes");
            }
        } else if (!strcmp(k, "device-filter")) {
            if (v->type == N_SEQ) {
                for (unsigned j = 0; j < v->n; j++)
                    if (parse_filter(ps, v->kids[j], r) < 0)
                        return -1;
            } else if (parse_filter(ps, v, r) < 0) {
                return -1;
            }
        } else if (!strcmp(k, "mig-enabled")) {
            if (expect(ps, v, N_SCALAR, "mig-enabled") < 0)
                return -1;
            if (parse_bool(v->str, &r->mig_enabled) < 0)
                return fail(ps, v->line, "mig-enabled must be true or false, not '%s'", v->str);
            have_enabled = 1;
        } else if (!strcmp(k, "mig-devices")) {
            if (v->type == N_NULL)
                continue;
            if (expect(ps, v, N_MAP, "mig-devices") < 0)
                return -1;
            for (unsigned j = 0; j < v->n; j++) {
                if (r->ndevices >= GPX_MIG_LAYOUT_MAX_DEVICES)
                    return fail(ps, v->line, "more than %s mig-devices entries", "16");
                const char *prof = v->keys[j];
                const struct node *c = v->kids[j];
                unsigned long cnt;
                if (strlen(prof) == 0 || strlen(prof) >= GPX_MIG_NAME_MAX)
                    return fail(ps, c->line, "bad MIG profile name '%s'", prof);
                if (expect(ps, c, N_SCALAR, "a mig-devices count") < 0)
                    return -1;
                if (parse_uint(c->str, 64, &cnt) < 0)
                    return fail(ps, c->line, "count '%s' must be 0..64", c->str);
                snprintf(r->mig_devices[r->ndevices].profile, GPX_MIG_NAME_MAX, "%s", prof);
                r->mig_devices[r->ndevices].count = (unsigned)cnt;
                r->ndevices++;
            }
        } else {
            return fail(ps, v->line,
                        "unknown key '%s' in a layout rule (devices, device-filter, "
                        "mig-enabled, mig-devices)",
                        k);
        }
    }
    if (!have_enabled)
        return fail(ps, n->line, "layout rule without mig-enabled");
    if (!r->mig_enabled) {
        for (unsigned j = 0; j < r->ndevices; j++)
            if (r->mig_devices[j].count)
                return fail(ps, n->line, "mig-devices given with mig-enabled: false");
    }
    return 0;
}

static int to_layouts(struct parser *ps, const struct node *root, struct gpx_mig_layout_file *out)
{
    if (expect(ps, root, N_MAP, "a layout file") < 0)
        return -1;
    const struct node *configs = NULL;
    for (unsigned i = 0; i < root->n; i++) {
        if (!strcmp(root->keys[i], "version")) {
            const struct node *v = root->kids[i];
            if (v->type != N_SCALAR || strcmp(v->str, "v1") != 0)
                return fail(ps, v->line, "unsupported layout file version (expected v1)");
        } else if (!strcmp(root->keys[i], "mig-configs")) {
            configs = root->kids[i];
        } else {
            return fail(ps, root->kids[i]->line,
                        "unknown top-level key '%s' (expected version, mig-configs)",
                        root->keys[i]);
        }
    }
    if (!configs)
        return fail(ps, root->line, "no mig-configs in the layout file");
    if (expect(ps, configs, N_MAP, "mig-configs") < 0)
        return -1;
    out->layouts = calloc(configs->n ? configs->n : 1, sizeof *out->layouts);
    if (!out->layouts)
        return fail(ps, 0, "out of memory");
    for (unsigned i = 0; i < configs->n; i++) {
        const struct node *rules = configs->kids[i];
        struct gpx_mig_layout *l = &out->layouts[out->count];
        if (strlen(configs->keys[i]) == 0 || strlen(configs->keys[i]) >= GPX_MIG_LAYOUT_NAME_MAX)
            return fail(ps, rules->line, "layout name '%s' must be 1..63 characters",
                        configs->keys[i]);
        if (expect(ps, rules, N_SEQ, "a layout (a list of rules)") < 0)
            return -1;
        if (rules->n == 0)
            return fail(ps, rules->line, "layout '%s' has no rules", configs->keys[i]);
        snprintf(l->name, sizeof l->name, "%s", configs->keys[i]);
        l->rules = calloc(rules->n, sizeof *l->rules);
        if (!l->rules)
            return fail(ps, 0, "out of memory");
        out->count++;
        for (unsigned j = 0; j < rules->n; j++) {
            if (parse_rule(ps, rules->kids[j], &l->rules[j]) < 0)
                return -1;
            l->nrules++;
        }
    }
    return 0;
}

int gpx_mig_layout_parse(const char *text, size_t len, struct gpx_mig_layout_file *out,
                         gpx_error *err)
{
    memset(out, 0, sizeof *out);
    if (len > GPX_MIG_LAYOUT_MAX_BYTES)
        return gpx_error_set(err, GPX_E_INVALID, "layout file larger than %u bytes",
                             GPX_MIG_LAYOUT_MAX_BYTES);
    if (memchr(text, '\0', len))
        return gpx_error_set(err, GPX_E_INVALID, "layout file contains a NUL byte");
    struct parser ps = {.err = err};
    struct node *root = NULL;
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i]))
        i++;
    if (i < len && (text[i] == '{' || text[i] == '[')) {
        json_error_t je;
        json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!j)
            return gpx_error_set(err, GPX_E_INVALID, "line %d: %s", je.line, je.text);
        root = from_json(&ps, j, 0);
        json_decref(j);
    } else {
        root = parse_yaml(&ps, text, len);
    }
    if (root && to_layouts(&ps, root, out) < 0)
        gpx_mig_layout_file_free(out);
    node_free(root);
    return ps.failed ? -1 : 0;
}

int gpx_mig_layout_load(const char *path, struct gpx_mig_layout_file *out, gpx_error *err)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gpx_error_errno(err, errno == ENOENT ? GPX_E_NOT_FOUND : GPX_E_IO, errno,
                               "layout file '%s'", path);
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return gpx_error_errno(err, GPX_E_IO, e, "layout file '%s'", path);
    }
    if (!S_ISREG(sb.st_mode) || (size_t)sb.st_size > GPX_MIG_LAYOUT_MAX_BYTES) {
        close(fd);
        return gpx_error_set(err, GPX_E_INVALID,
                             "layout file '%s' is not a regular file of at most %u bytes", path,
                             GPX_MIG_LAYOUT_MAX_BYTES);
    }
    size_t size = (size_t)sb.st_size, got = 0;
    char *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        return gpx_error_set(err, GPX_E_NOMEM, "layout file '%s'", path);
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    int rc = gpx_mig_layout_parse(buf, got, out, err);
    free(buf);
    if (rc < 0)
        return gpx_error_wrap(err, "layout file '%s'", path);
    return 0;
}

void gpx_mig_layout_file_free(struct gpx_mig_layout_file *f)
{
    if (!f)
        return;
    for (unsigned i = 0; i < f->count; i++)
        free(f->layouts[i].rules);
    free(f->layouts);
    f->layouts = NULL;
    f->count = 0;
}

const struct gpx_mig_layout *gpx_mig_layout_find(const struct gpx_mig_layout_file *f,
                                                 const char *name)
{
    for (unsigned i = 0; f && name && i < f->count; i++)
        if (strcmp(f->layouts[i].name, name) == 0)
            return &f->layouts[i];
    return NULL;
}

const struct gpx_mig_layout_rule *gpx_mig_layout_rule_for(const struct gpx_mig_layout *l,
                                                          unsigned gpu_index,
                                                          uint32_t pci_device_id, int model)
{
    for (unsigned i = 0; l && i < l->nrules; i++) {
        const struct gpx_mig_layout_rule *r = &l->rules[i];
        if (!r->all_devices && (gpu_index > 31 || !(r->devices >> gpu_index & 1U)))
            continue;
        int match = r->nfilters == 0;
        for (unsigned k = 0; k < r->nfilters && !match; k++) {
            const struct gpx_mig_layout_filter *f = &r->filters[k];
            if (f->model >= 0 ? f->model == model
                              : (pci_device_id && f->pci_device_id == pci_device_id))
                match = 1;
        }
        if (match)
            return r;
    }
    return NULL;
}

int gpx_mig_layout_demand(const struct gpx_mig_layout_rule *r, const struct gpx_mig_model *m,
                          unsigned demand[GPX_MIG_MAX_PROFILES], gpx_error *err)
{
    memset(demand, 0, GPX_MIG_MAX_PROFILES * sizeof demand[0]);
    for (unsigned i = 0; i < r->ndevices; i++) {
        int p = gpx_mig_profile_parse(m, r->mig_devices[i].profile, err);
        if (p < 0)
            return -1;
        demand[p] += r->mig_devices[i].count;
    }
    return 0;
}
