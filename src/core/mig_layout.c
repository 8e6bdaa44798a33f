/*
 * MIG layout files (see mig_layout.h). Two stages: text -> a small tree of
 * maps, sequences and scalars (the YAML subset here, JSON through jansson),
 * then tree -> layouts with every key and value checked, errors naming the
 * line. The YAML subset: block mappings and sequences by indentation
 * (spaces only), "- key: value" items, flow collections on one line
 * ([a, b], {k: v}), plain, 'single' and "double" quoted scalars, # comments,
 * and a leading "---". Anchors, tags, multi-line scalars and multiple
 * documents are refused, not guessed at.
 *
 * Invariants: input is bounded (GPX_MIG_LAYOUT_MAX_BYTES), nesting is bounded
 * (MAX_DEPTH) and the node count is bounded (MAX_NODES), so no input can
 * exhaust the stack or memory; every allocation is freed on every path.
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
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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

struct line {
    unsigned no;
    unsigned indent;
    char *text;
};

struct parser {
    struct line *lines;
    unsigned nlines, pos;
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

/* Appends kid (and key, for maps; both owned by the parent from here on). */
static int node_add(struct parser *ps, struct node *parent, char *key, struct node *kid)
{
    if (parent->type == N_MAP) {
        for (unsigned i = 0; i < parent->n; i++) {
            if (strcmp(parent->keys[i], key) == 0) {
                fail(ps, kid->line, "duplicate key '%s'", key);
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

/* --- scalars and flow collections ------------------------------------------------------ */

/* Parses a quoted scalar at *p (which is ' or "); returns the unquoted copy. */
static char *quoted(struct parser *ps, unsigned line, const char **p)
{
    char q = **p;
    const char *s = *p + 1;
    size_t cap = strlen(s) + 1;
    char *out = malloc(cap), *o = out;
    if (!out) {
        fail(ps, line, "out of memory");
        return NULL;
    }
    for (;;) {
        if (!*s) {
            free(out);
            fail(ps, line, "unterminated quoted string");
            return NULL;
        }
        if (*s == q) {
            if (q == '\'' && s[1] == '\'') {
                *o++ = '\'';
                s += 2;
                continue;
            }
            s++;
            break;
        }
        if (q == '"' && *s == '\\') {
            char e = s[1];
            char c = e == 'n' ? '\n' : e == 't' ? '\t' : e;
            if (!strchr("nt\"\\/'", e) || !e) {
                free(out);
                fail(ps, line, "unsupported escape in quoted string");
                return NULL;
            }
            *o++ = c;
            s += 2;
            continue;
        }
        *o++ = *s++;
    }
    *o = '\0';
    *p = s;
    return out;
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
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

static int refused_indicator(char c)
{
    /* anchors, aliases, tags, block scalars, directives: not in the subset */
    return c == '&' || c == '*' || c == '!' || c == '|' || c == '>' || c == '%' || c == '@' ||
           c == '`';
}

static struct node *flow_value(struct parser *ps, unsigned line, const char **pp, int depth);

/* A scalar inside a flow collection: quoted, or plain up to one of `stops`. */
static struct node *flow_scalar(struct parser *ps, unsigned line, const char **pp,
                                const char *stops)
{
    const char *p = skip_ws(*pp);
    if (*p == '"' || *p == '\'') {
        char *s = quoted(ps, line, &p);
        if (!s)
            return NULL;
        struct node *v = node_new(ps, N_SCALAR, line);
        if (!v) {
            free(s);
            return NULL;
        }
        v->str = s;
        *pp = p;
        return v;
    }
    if (refused_indicator(*p)) {
        fail(ps, line, "'%s' is not supported in layout files (no anchors, tags or block scalars)",
             (char[]){*p, 0});
        return NULL;
    }
    const char *start = p;
    while (*p && !strchr(stops, *p))
        p++;
    if (p == start) {
        fail(ps, line, "missing value");
        return NULL;
    }
    *pp = p;
    return scalar_node(ps, line, start, (size_t)(p - start));
}

static struct node *flow_collection(struct parser *ps, unsigned line, const char **pp, int depth)
{
    const char *p = *pp;
    char close = *p == '[' ? ']' : '}';
    struct node *c = node_new(ps, *p == '[' ? N_SEQ : N_MAP, line);
    if (!c)
        return NULL;
    p = skip_ws(p + 1);
    if (*p == close) {
        *pp = p + 1;
        return c;
    }
    for (;;) {
        char *key = NULL;
        if (c->type == N_MAP) {
            struct node *k = flow_scalar(ps, line, &p, ":,}");
            if (!k)
                goto bad;
            key = k->str;
            k->str = NULL;
            node_free(k);
            ps->nodes--;
            p = skip_ws(p);
            if (*p != ':') {
                free(key);
                fail(ps, line, "expected ':' in flow mapping");
                goto bad;
            }
            p++;
        }
        struct node *v = flow_value(ps, line, &p, depth + 1);
        if (!v) {
            free(key);
            goto bad;
        }
        if (node_add(ps, c, key, v) < 0)
            goto bad;
        p = skip_ws(p);
        if (*p == ',') {
            p = skip_ws(p + 1);
            if (*p == close) { /* trailing comma */
                p++;
                break;
            }
            continue;
        }
        if (*p == close) {
            p++;
            break;
        }
        fail(ps, line, "expected ',' or '%s' in flow collection", (char[]){close, 0});
        goto bad;
    }
    *pp = p;
    return c;
bad:
    node_free(c);
    return NULL;
}

static struct node *flow_value(struct parser *ps, unsigned line, const char **pp, int depth)
{
    if (depth > MAX_DEPTH) {
        fail(ps, line, "nesting deeper than %s levels", "32");
        return NULL;
    }
    const char *p = skip_ws(*pp);
    *pp = p;
    if (*p == '[' || *p == '{')
        return flow_collection(ps, line, pp, depth);
    return flow_scalar(ps, line, pp, ",]}");
}

/* A value written on the same line as its key or dash. */
static struct node *inline_value(struct parser *ps, unsigned line, const char *text, int depth)
{
    const char *p = text;
    struct node *v;
    if (*p == '[' || *p == '{') {
        v = flow_collection(ps, line, &p, depth + 1);
    } else if (*p == '"' || *p == '\'') {
        char *s = quoted(ps, line, &p);
        if (!s)
            return NULL;
        v = node_new(ps, N_SCALAR, line);
        if (!v) {
            free(s);
            return NULL;
        }
        v->str = s;
    } else {
        if (refused_indicator(*p)) {
            fail(ps, line,
                 "'%s' is not supported in layout files (no anchors, tags or block scalars)",
                 (char[]){*p, 0});
            return NULL;
        }
        return scalar_node(ps, line, p, strlen(p));
    }
    if (!v)
        return NULL;
    p = skip_ws(p);
    if (*p) {
        node_free(v);
        fail(ps, line, "unexpected text after value: '%s'", p);
        return NULL;
    }
    return v;
}

/* --- block structure ---------------------------------------------------------------------- */

static int is_seq_item(const char *t)
{
    return t[0] == '-' && (t[1] == '\0' || t[1] == ' ');
}

/*
 * Finds the ':' that ends a mapping key in `t` (a ':' followed by a space or
 * the end, outside quotes, before any flow collection); -1 if `t` is no key.
 */
static int key_colon(const char *t)
{
    if (*t == '[' || *t == '{')
        return -1;
    if (*t == '"' || *t == '\'') {
        char q = *t;
        const char *s = t + 1;
        while (*s && !(*s == q && !(q == '\'' && s[1] == '\'')))
            s += (*s == '\\' && q == '"' && s[1]) || (q == '\'' && *s == '\'') ? 2 : 1;
        if (!*s)
            return -1;
        s = skip_ws(s + 1);
        return *s == ':' && (s[1] == '\0' || s[1] == ' ') ? (int)(s - t) : -1;
    }
    for (const char *s = t; *s; s++)
        if (*s == ':' && (s[1] == '\0' || s[1] == ' '))
            return (int)(s - t);
    return -1;
}

static struct node *parse_block(struct parser *ps, unsigned indent, int depth);

static struct node *parse_seq(struct parser *ps, unsigned indent, int depth)
{
    struct node *seq = node_new(ps, N_SEQ, ps->lines[ps->pos].no);
    if (!seq)
        return NULL;
    while (ps->pos < ps->nlines && ps->lines[ps->pos].indent == indent &&
           is_seq_item(ps->lines[ps->pos].text)) {
        struct line *l = &ps->lines[ps->pos];
        const char *rest = skip_ws(l->text + 1);
        struct node *item;
        if (!*rest) {
            ps->pos++;
            if (ps->pos < ps->nlines && ps->lines[ps->pos].indent > indent)
                item = parse_block(ps, ps->lines[ps->pos].indent, depth + 1);
            else
                item = node_new(ps, N_NULL, l->no);
        } else if (key_colon(rest) > 0 || is_seq_item(rest)) {
            /* "- key: value": a mapping (or nested list) whose column is that of `key`. */
            l->indent += (unsigned)(rest - l->text);
            l->text = (char *)rest;
            item = parse_block(ps, l->indent, depth + 1);
        } else {
            item = inline_value(ps, l->no, rest, depth);
            ps->pos++;
        }
        if (!item || node_add(ps, seq, NULL, item) < 0) {
            node_free(seq);
            return NULL;
        }
    }
    if (ps->pos < ps->nlines && ps->lines[ps->pos].indent > indent) {
        fail(ps, ps->lines[ps->pos].no, "unexpected indentation");
        node_free(seq);
        return NULL;
    }
    return seq;
}

static struct node *parse_map(struct parser *ps, unsigned indent, int depth)
{
    struct node *map = node_new(ps, N_MAP, ps->lines[ps->pos].no);
    if (!map)
        return NULL;
    while (ps->pos < ps->nlines && ps->lines[ps->pos].indent == indent) {
        struct line *l = &ps->lines[ps->pos];
        int colon = key_colon(l->text);
        if (colon <= 0 || is_seq_item(l->text)) {
            fail(ps, l->no, "expected 'key: value', found '%s'", l->text);
            node_free(map);
            return NULL;
        }
        char *key;
        if (l->text[0] == '"' || l->text[0] == '\'') {
            const char *p = l->text;
            key = quoted(ps, l->no, &p);
        } else {
            key = strndup(l->text, (size_t)colon);
            if (key) {
                size_t n = strlen(key);
                while (n > 0 && key[n - 1] == ' ')
                    key[--n] = '\0';
                if (refused_indicator(key[0]) || key[0] == '?') {
                    free(key);
                    key = NULL;
                    fail(ps, l->no, "unsupported key '%s'", l->text);
                }
            } else {
                fail(ps, l->no, "out of memory");
            }
        }
        if (!key) {
            node_free(map);
            return NULL;
        }
        const char *rest = skip_ws(l->text + colon + 1);
        unsigned no = l->no;
        struct node *val;
        if (!*rest) {
            ps->pos++;
            if (ps->pos < ps->nlines && ps->lines[ps->pos].indent > indent)
                val = parse_block(ps, ps->lines[ps->pos].indent, depth + 1);
            else if (ps->pos < ps->nlines && ps->lines[ps->pos].indent == indent &&
                     is_seq_item(ps->lines[ps->pos].text))
                val = parse_seq(ps, indent, depth + 1); /* "key:\n- a" */
            else
                val = node_new(ps, N_NULL, no);
        } else {
            val = inline_value(ps, no, rest, depth);
            ps->pos++;
        }
        if (!val) {
            free(key);
            node_free(map);
            return NULL;
        }
        if (node_add(ps, map, key, val) < 0) {
            node_free(map);
            return NULL;
        }
    }
    if (ps->pos < ps->nlines && ps->lines[ps->pos].indent > indent) {
        fail(ps, ps->lines[ps->pos].no, "unexpected indentation");
        node_free(map);
        return NULL;
    }
    return map;
}

static struct node *parse_block(struct parser *ps, unsigned indent, int depth)
{
    if (depth > MAX_DEPTH) {
        fail(ps, ps->lines[ps->pos].no, "nesting deeper than %s levels", "32");
        return NULL;
    }
    if (is_seq_item(ps->lines[ps->pos].text))
        return parse_seq(ps, indent, depth);
    if (key_colon(ps->lines[ps->pos].text) > 0)
        return parse_map(ps, indent, depth);
    /* a lone scalar or flow collection as a block */
    struct line *l = &ps->lines[ps->pos++];
    return inline_value(ps, l->no, l->text, depth);
}

/* Splits `buf` (modified in place) into significant lines. */
static int split_lines(struct parser *ps, char *buf)
{
    unsigned cap = 64;
    ps->lines = malloc(cap * sizeof *ps->lines);
    if (!ps->lines)
        return fail(ps, 0, "out of memory");
    unsigned no = 0;
    for (char *s = buf; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        no++;
        size_t len = strlen(s);
        if (len && s[len - 1] == '\r')
            s[--len] = '\0';
        unsigned indent = 0;
        while (s[indent] == ' ')
            indent++;
        char *t = s + indent;
        if (*t == '\t')
            return fail(ps, no, "tab used for indentation (use spaces)");
        /* strip a comment: '#' at the start or after a blank, outside quotes */
        char q = 0;
        for (char *c = t; *c; c++) {
            if (q) {
                if (*c == '\\' && q == '"' && c[1])
                    c++;
                else if (*c == q)
                    q = 0;
            } else if (*c == '"' || *c == '\'') {
                if (c == t || c[-1] == ' ' || c[-1] == '[' || c[-1] == '{' || c[-1] == ',' ||
                    c[-1] == ':' || c[-1] == '-')
                    q = *c;
            } else if (*c == '#' && (c == t || c[-1] == ' ' || c[-1] == '\t')) {
                *c = '\0';
                break;
            }
        }
        len = strlen(t);
        while (len && (t[len - 1] == ' ' || t[len - 1] == '\t'))
            t[--len] = '\0';
        int marker = strcmp(t, "---") == 0 || strcmp(t, "...") == 0;
        if (marker && ps->nlines > 0)
            return fail(ps, no, "only one YAML document per layout file");
        if (len && !marker) {
            if (ps->nlines == cap) {
                cap *= 2;
                struct line *n = realloc(ps->lines, cap * sizeof *n);
                if (!n)
                    return fail(ps, no, "out of memory");
                ps->lines = n;
            }
            ps->lines[ps->nlines++] = (struct line){no, indent, t};
        }
        s = nl ? nl + 1 : NULL;
    }
    return 0;
}

static struct node *parse_yaml(struct parser *ps, char *buf)
{
    if (split_lines(ps, buf) < 0)
        return NULL;
    if (ps->nlines == 0) {
        fail(ps, 0, "empty layout file");
        return NULL;
    }
    struct node *root = parse_block(ps, ps->lines[0].indent, 0);
    if (root && ps->pos < ps->nlines) {
        fail(ps, ps->lines[ps->pos].no, "unexpected indentation");
        node_free(root);
        return NULL;
    }
    return root;
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
            if (!kid || !key || node_add(ps, n, key, kid) < 0) {
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
            if (!kid || node_add(ps, n, NULL, kid) < 0) {
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
        char *buf = strndup(text, len);
        if (!buf)
            return gpx_error_set(err, GPX_E_NOMEM, "layout file of %zu bytes", len);
        root = parse_yaml(&ps, buf);
        if (root && to_layouts(&ps, root, out) < 0) {
            gpx_mig_layout_file_free(out);
        }
        node_free(root);
        free(ps.lines);
        free(buf);
        return ps.failed ? -1 : 0;
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
