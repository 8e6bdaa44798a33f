/*
 * gpuplex top: a live ncurses view of the node in the spirit of nvtop. Per GPU
 * a utilization and a memory bar with their recent history, the MIG instances
 * of GPUs in MIG mode, and a table of the caller's leases (an admin's: all)
 * with what each got over the last interval: its GPU-time share and wait from
 * the arbiter's accounting (sample.c), its memory from its region. It is the
 * per-tenant view nvtop cannot give: nvtop sees processes, not leases.
 *
 * Samples come through the one client rule (sample.h): a daemon's connection
 * is kept, an in-process engine is opened per sample, so that `top` never
 * locks other gpuplex commands out of the state directory.
 *
 * Invariants: the terminal is restored (endwin) on every way out — q, F10,
 * SIGINT, SIGTERM, SIGHUP; every line drawn is clipped to the window, so any
 * size (and any resize) is safe; only a terminal gets the screen (a pipe is
 * refused with exit 2: scripts read `gpuplex dmon --leases` or `ls --json`).
 */
#define _GNU_SOURCE
#include "cli/cli.h"
#include "cli/sample.h"
#include "gpuplex/client.h"
#include "nvml/inventory.h"
#include "shm/lease.h"

#include <curses.h> /* before term.h */
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <term.h> /* setupterm: is TERM known */
#include <time.h>
#include <unistd.h>

#define MIB      (1024ULL * 1024ULL)
#define HIST     512  /* samples of history per GPU: wider than any line drawn */
#define NO_VALUE 255u /* a history slot whose figure the driver did not give */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* --- the lease table: columns, rows, sorting ------------------------------------------------ */

enum col { C_ID, C_TENANT, C_MODE, C_GPU, C_PROCS, C_MEM, C_SHARE, C_WAIT, C__N };

static const struct {
    const char *key;   /* --sort name */
    const char *title; /* header */
    int width;
    int right; /* right-aligned (numbers) */
    int desc;  /* natural order is largest first */
} cols[C__N] = {
    {"id", "ID", 15, 0, 0},      {"tenant", "TENANT", 12, 0, 0},
    {"mode", "MODE", 9, 0, 0},   {"gpu", "GPU", 4, 1, 0},
    {"procs", "PROCS", 6, 1, 1}, {"memory", "MEM USED/QUOTA", 19, 1, 1},
    {"share", "GPU%", 6, 1, 1},  {"wait", "WAIT", 9, 1, 1},
};

struct row {
    const struct gpx_lease *l;
    int have_share; /* the share is known (engine.h, gpx_lease_util) */
    int have_wait;  /* two samples of this lease: wait is over the interval */
    double share, wait_ms;
};

/* qsort has no context argument: the sort order of the one view there is */
static int sort_col = C_SHARE, sort_reverse;

static int cmp_num(double a, double b)
{
    return a < b ? -1 : a > b ? 1 : 0;
}

static int cmp_rows(const void *pa, const void *pb)
{
    const struct row *a = pa, *b = pb;
    const struct gpx_lease_rec *x = &a->l->rec, *y = &b->l->rec;
    int c = 0;
    switch (sort_col) {
    case C_ID:
        break;
    case C_TENANT:
        c = strcmp(x->tenant, y->tenant);
        break;
    case C_MODE:
        c = strcmp(gpx_lease_mode_name((enum gpx_lease_mode)x->mode),
                   gpx_lease_mode_name((enum gpx_lease_mode)y->mode));
        break;
    case C_GPU:
        c = cmp_num(x->gpu_index, y->gpu_index);
        break;
    case C_PROCS:
        c = cmp_num(a->l->nprocs, b->l->nprocs);
        break;
    case C_MEM:
        c = cmp_num((double)a->l->used_bytes, (double)b->l->used_bytes);
        break;
    case C_SHARE:
        c = cmp_num(a->have_share ? a->share : -1, b->have_share ? b->share : -1);
        break;
    case C_WAIT:
        c = cmp_num(a->have_wait ? a->wait_ms : -1, b->have_wait ? b->wait_ms : -1);
        break;
    }
    if (cols[sort_col].desc)
        c = -c;
    if (sort_reverse)
        c = -c;
    /* ties (and the ID column) by id, always ascending: rows do not jump between frames */
    return c ? c : strcmp(x->id, y->id);
}

/* --- per GPU history ------------------------------------------------------------------------ */

struct hist {
    unsigned char v[HIST]; /* percent, or NO_VALUE */
    unsigned n, head;      /* head: the next slot written */
};

static void hist_push(struct hist *h, unsigned v)
{
    h->v[h->head] = (unsigned char)(v > 100 && v != NO_VALUE ? 100 : v);
    h->head = (h->head + 1) % HIST;
    if (h->n < HIST)
        h->n++;
}

/* The k-th newest value (k = 0: the latest). */
static unsigned hist_at(const struct hist *h, unsigned k)
{
    return h->v[(h->head + HIST - 1 - k) % HIST];
}

/* --- the view's state ----------------------------------------------------------------------- */

struct top {
    const char *server;
    struct gpx_conn *cn; /* a daemon's connection, kept; NULL between in-process samples */
    char where[300];
    long interval_ms;
    struct gpx_sample prev, cur;
    int have_prev;
    char error[GPX_ERROR_MSG_MAX + 32]; /* the last sample's failure, shown in the header */
    struct hist *util, *mem;            /* per GPU, in the order of cur.node */
    unsigned nhist;
    struct row *rows;
    unsigned nrows;
    int scroll; /* first lease row shown */
    int utf8, color;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned pct(uint64_t part, uint64_t whole)
{
    return whole ? (unsigned)((part * 100 + whole / 2) / whole) : NO_VALUE;
}

/* Rebuilds the rows from the current sample (and the shares against the previous one). */
static int build_rows(struct top *t)
{
    free(t->rows);
    t->rows = NULL;
    t->nrows = 0;
    if (!t->cur.n_leases)
        return 0;
    t->rows = calloc(t->cur.n_leases, sizeof *t->rows);
    if (!t->rows)
        return -1;
    for (unsigned i = 0; i < t->cur.n_leases; i++) {
        struct row *r = &t->rows[t->nrows++];
        r->l = &t->cur.leases[i];
        /* a lease new since the last sample has no interval yet: only NVML's figures
         * (which cover the driver's own window) are known, the arbiter's and wait not */
        int seen = t->have_prev && gpx_sample_find_lease(&t->prev, r->l->rec.id) >= 0;
        r->share = gpx_sample_lease_share(seen ? &t->prev : NULL, &t->cur, i, &r->wait_ms);
        r->have_share = r->share >= 0;
        r->have_wait = r->wait_ms >= 0;
    }
    qsort(t->rows, t->nrows, sizeof *t->rows, cmp_rows);
    return 0;
}

/* Takes a sample: the current becomes the previous, history grows by one column. */
static void take_sample(struct top *t)
{
    struct gpx_sample s;
    gpx_error err = {0};
    if (gpx_sample_take_server(t->server, &t->cn, &s, &err) < 0) {
        snprintf(t->error, sizeof t->error, "sample failed: %s",
                 err.msg[0] ? err.msg : gpx_error_default(err.code));
        return;
    }
    t->error[0] = '\0';
    gpx_sample_free(&t->prev);
    t->prev = t->cur;
    t->have_prev = t->prev.t_ns != 0;
    t->cur = s;
    if (t->nhist != s.node.count) { /* GPUs came or went: start their history afresh */
        free(t->util);
        free(t->mem);
        t->util = calloc(s.node.count ? s.node.count : 1, sizeof *t->util);
        t->mem = calloc(s.node.count ? s.node.count : 1, sizeof *t->mem);
        t->nhist = t->util && t->mem ? s.node.count : 0;
    }
    for (unsigned g = 0; g < t->nhist; g++) {
        const struct gpx_gpu_info *gi = &s.node.gpus[g].info;
        hist_push(&t->util[g], (gi->valid & GPX_INV_UTIL) ? gi->util_gpu : NO_VALUE);
        hist_push(&t->mem[g], pct(gi->memory_used, gi->memory_total));
    }
    if (build_rows(t) < 0)
        snprintf(t->error, sizeof t->error, "out of memory");
}

/* --- drawing -------------------------------------------------------------------------------- */

enum { PAIR_UTIL = 1, PAIR_MEM, PAIR_ERR, PAIR_HEAD, PAIR_KEY };

/* printf at (y, x), clipped to the window's width. */
__attribute__((format(printf, 4, 5))) static int put(int y, int x, attr_t a, const char *fmt, ...)
{
    if (y < 0 || y >= LINES || x >= COLS)
        return x;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* clipped in cells, not bytes: a UTF-8 character (the graphs') is one cell, never cut */
    int n = 0, cells = 0;
    for (; buf[n]; n++) {
        if (((unsigned char)buf[n] & 0xC0) == 0x80)
            continue;
        if (cells == COLS - x)
            break;
        cells++;
    }
    attron(a);
    mvaddnstr(y, x, buf, n);
    attroff(a);
    return x + cells;
}

/* A whole line in attribute a (the header and footer bars). */
static void fill_line(int y, attr_t a)
{
    attron(a);
    mvhline(y, 0, ' ', COLS);
    attroff(a);
}

/* "[|||||        label]": the filled part in pair p, the label right-aligned inside. */
static void bar(struct top *t, int y, int x, int w, unsigned v, const char *label, short p)
{
    if (w < 4)
        return;
    int inner = w - 2, fill = v == NO_VALUE ? 0 : (int)((long)inner * v / 100);
    int lx = inner - (int)strlen(label);
    if (lx < 0)
        lx = 0;
    put(y, x, A_BOLD, "[");
    for (int i = 0; i < inner; i++) {
        char ch = i >= lx && label[i - lx] ? label[i - lx] : i < fill ? '|' : ' ';
        attr_t a = i < fill && t->color ? COLOR_PAIR(p) : 0;
        if (i >= lx && label[i - lx])
            a = A_BOLD;
        put(y, x + 1 + i, a, "%c", ch);
    }
    put(y, x + 1 + inner, A_BOLD, "]");
}

/* The last w values of h, newest at the right, as a sparkline of 8 levels. */
static void spark(struct top *t, int y, int x, int w, const struct hist *h, short p)
{
    static const char *const uni[8] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                       "\u2585", "\u2586", "\u2587", "\u2588"};
    static const char ascii[8] = {'_', '.', ',', ':', '-', '=', '+', '#'};
    if (w <= 0)
        return;
    if ((unsigned)w > HIST)
        w = HIST;
    for (int i = 0; i < w && x + i < COLS; i++) {
        unsigned k = (unsigned)(w - 1 - i);
        if (k >= h->n)
            continue; /* not sampled yet: blank, so the graph grows from the right */
        unsigned v = hist_at(h, k);
        if (v == NO_VALUE) {
            put(y, x + i, 0, " ");
            continue;
        }
        unsigned lvl = v >= 100 ? 7 : v * 8 / 100;
        attr_t a = t->color ? COLOR_PAIR(p) : 0;
        if (t->utf8)
            put(y, x + i, a, "%s", uni[lvl]);
        else
            put(y, x + i, a, "%c", ascii[lvl]);
    }
}

/*
 * The MIG instances of GPU `gpu`, flowed over lines from y (aligned with the bars),
 * in the sample's order; returns the next line.
 */
static int draw_mig(struct top *t, int y, int ymax, unsigned gpu)
{
    const int x0 = 7;
    int x = x0, any = 0;
    put(y, 2, A_BOLD, "MIG");
    for (unsigned i = 0; i < t->cur.n_mig; i++) {
        const struct gpx_sample_mig *m = &t->cur.mig[i];
        if (m->gpu != gpu)
            continue;
        char cell[160], used[24] = "";
        /* what its lease holds, when the sample knows it */
        if (m->used_known)
            snprintf(used, sizeof used, "%llu/", (unsigned long long)(m->memory_used / MIB));
        const char *holder = m->lease[0] ? m->lease : m->leased ? "(leased)" : "free";
        snprintf(cell, sizeof cell, "GI %u %s %s %s%lluMiB %up", m->gi_id,
                 m->profile[0] ? m->profile : "?", holder, used,
                 (unsigned long long)(m->memory_total / MIB), m->procs);
        int w = (int)strlen(cell);
        if (any && x + w > COLS) {
            if (++y >= ymax)
                return y;
            x = x0;
        }
        x = put(y, x, m->lease[0] ? A_BOLD : 0, "%s", cell) + 3;
        any = 1;
    }
    if (!any)
        put(y, x0, 0, "on, no instances");
    return y + 1;
}

/* One GPU: its name line, a utilization and a memory bar with history, MIG instances. */
static int draw_gpu(struct top *t, int y, int ymax, unsigned g)
{
    const struct gpx_gpu *gpu = &t->cur.node.gpus[g];
    const struct gpx_gpu_info *gi = &gpu->info;
    int x = put(y, 0, A_BOLD, "GPU %u", gi->index);
    x = put(y, x, 0, "  %s", gi->name);
    if (gi->valid & GPX_INV_TEMP)
        x = put(y, x, 0, "  %uC", gi->temperature_c);
    if ((gi->valid & GPX_INV_POWER) && (gi->valid & GPX_INV_POWER_LIMIT))
        x = put(y, x, 0, "  %u/%uW", gi->power_mw / 1000, gi->power_limit_mw / 1000);
    int mig_on = (gi->valid & GPX_INV_MIG) && gi->mig_current == NVML_DEVICE_MIG_ENABLE;
    x = put(y, x, 0, "  MIG %s", !(gi->valid & GPX_INV_MIG) ? "-" : mig_on ? "on" : "off");
    put(y, x, 0, "  %u lease%s%s", gpu->n_leases, gpu->n_leases == 1 ? "" : "s",
        gpu->exclusive ? " (exclusive)" : "");
    y++;

    /* bar and graph share the width: the bar about 40%, the history the rest */
    int bw = (COLS - 8) * 2 / 5;
    if (bw > 60)
        bw = 60;
    if (bw < 12)
        bw = 12;
    int sx = 7 + bw + 1, sw = COLS - sx;
    char label[64];
    unsigned u = (gi->valid & GPX_INV_UTIL) ? gi->util_gpu : NO_VALUE;
    if (u == NO_VALUE)
        snprintf(label, sizeof label, "-");
    else
        snprintf(label, sizeof label, "%u%%", u);
    if (y < ymax) {
        put(y, 2, A_BOLD, "UTIL");
        bar(t, y, 7, bw, u, label, PAIR_UTIL);
        if (g < t->nhist)
            spark(t, y, sx, sw, &t->util[g], PAIR_UTIL);
        y++;
    }
    snprintf(label, sizeof label, "%llu/%lluMiB", (unsigned long long)(gi->memory_used / MIB),
             (unsigned long long)(gi->memory_total / MIB));
    if (y < ymax) {
        put(y, 2, A_BOLD, "MEM");
        bar(t, y, 7, bw, pct(gi->memory_used, gi->memory_total), label, PAIR_MEM);
        if (g < t->nhist)
            spark(t, y, sx, sw, &t->mem[g], PAIR_MEM);
        y++;
    }
    if (mig_on && y < ymax)
        y = draw_mig(t, y, ymax, gi->index);
    return y;
}

static void format_cell(const struct row *r, enum col c, char *buf, size_t len)
{
    const struct gpx_lease *l = r->l;
    switch (c) {
    case C_ID:
        snprintf(buf, len, "%s", l->rec.id);
        break;
    case C_TENANT:
        snprintf(buf, len, "%s", l->rec.tenant);
        break;
    case C_MODE:
        snprintf(buf, len, "%s", gpx_lease_mode_name((enum gpx_lease_mode)l->rec.mode));
        break;
    case C_GPU:
        snprintf(buf, len, "%u", l->rec.gpu_index);
        break;
    case C_PROCS:
        snprintf(buf, len, "%u", l->nprocs);
        break;
    case C_MEM: {
        /* the quota of a shared lease; the GPU's (instance's) memory of an exclusive or mig one */
        uint64_t q = gpx_lease_held_memory(&l->rec);
        char u[24] = "-", qs[24] = "-";
        if (l->used_source != GPX_SRC_NONE) /* as gpx_sample_lease_memory */
            snprintf(u, sizeof u, "%llu", (unsigned long long)(l->used_bytes / MIB));
        if (q)
            snprintf(qs, sizeof qs, "%llu", (unsigned long long)(q / MIB));
        snprintf(buf, len, "%s/%s MiB", u, qs);
        break;
    }
    case C_SHARE:
        if (r->have_share)
            snprintf(buf, len, "%.1f%%", r->share * 100);
        else
            snprintf(buf, len, "-");
        break;
    case C_WAIT:
        if (r->have_wait)
            snprintf(buf, len, "%.0fms", r->wait_ms);
        else
            snprintf(buf, len, "-");
        break;
    default:
        buf[0] = '\0';
    }
}

/* One table line: cells padded to their column widths, separated by a space. */
static void draw_cells(int y, attr_t a, const char *const cell[C__N], int marked)
{
    int x = 0;
    for (int c = 0; c < C__N && x < COLS; c++) {
        attr_t ca = a | (c == marked ? A_BOLD | A_UNDERLINE : 0);
        int w = cols[c].width;
        if (cols[c].right)
            x = put(y, x, ca, "%*.*s", w, w, cell[c]);
        else
            x = put(y, x, ca, "%-*.*s", w, w, cell[c]);
        x = put(y, x, a, " ");
    }
}

static int draw_leases(struct top *t, int y, int ymax)
{
    if (y >= ymax)
        return y;
    /* the rows that fit under the title and the header, and which of them are shown */
    int title = y, room = ymax - (y + 2);
    if (t->scroll > (int)t->nrows - room)
        t->scroll = (int)t->nrows - room;
    if (t->scroll < 0)
        t->scroll = 0;
    int x = put(y, 0, A_BOLD, "LEASES");
    x = put(y, x, 0, " %u active", t->cur.n_leases);
    if (room > 0 && (int)t->nrows > room)
        x = put(title, x, A_BOLD, "  rows %d-%d (Up/Down)", t->scroll + 1, t->scroll + room);
    put(y, x, 0, "  GPU%% and WAIT over the last %.1fs", t->interval_ms / 1000.0);
    if (++y >= ymax)
        return y;
    const char *head[C__N];
    char titles[C__N][32];
    for (int c = 0; c < C__N; c++) {
        /* the sort column's title carries its direction, so a text capture shows it too */
        int desc = cols[c].desc ^ sort_reverse;
        snprintf(titles[c], sizeof titles[c], "%s%s", cols[c].title,
                 c == sort_col ? (desc ? "v" : "^") : "");
        head[c] = titles[c];
    }
    fill_line(y, A_REVERSE);
    draw_cells(y, A_REVERSE, head, sort_col);
    y++;
    if (!t->nrows && y < ymax)
        put(y++, 0, 0, "(no active lease%s)", t->cur.node.count ? "" : "; no GPU");
    for (int i = t->scroll; i < (int)t->nrows && y < ymax; i++, y++) {
        char buf[C__N][96];
        const char *cell[C__N];
        for (int c = 0; c < C__N; c++) {
            format_cell(&t->rows[i], (enum col)c, buf[c], sizeof buf[c]);
            cell[c] = buf[c];
        }
        draw_cells(y, 0, cell, -1);
    }
    return y;
}

/* htop's footer: each key, then what it does, in a bar. */
static void draw_footer(struct top *t)
{
    static const char *const keys[][2] = {
        {"F6/s", "Sort"}, {"<>", "Column"}, {"r", "Reverse"}, {"Up/Dn", "Scroll"}, {"q", "Quit"},
    };
    int y = LINES - 1, x = 0;
    attr_t bar_attr = t->color ? COLOR_PAIR(PAIR_KEY) : A_REVERSE;
    fill_line(y, bar_attr);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        x = put(y, x, A_BOLD, "%s", keys[i][0]);
        x = put(y, x, bar_attr, " %s  ", keys[i][1]);
    }
    put(y, x, bar_attr, "  sort: %s %s", cols[sort_col].title,
        (cols[sort_col].desc ^ sort_reverse) ? "desc" : "asc");
}

static void draw(struct top *t)
{
    erase();
    attr_t head = t->color ? COLOR_PAIR(PAIR_HEAD) : A_REVERSE;
    fill_line(0, head);
    char clock[16];
    time_t now = time(NULL);
    struct tm tm;
    strftime(clock, sizeof clock, "%H:%M:%S", localtime_r(&now, &tm));
    int x = put(0, 0, head | A_BOLD, "gpuplex top");
    x = put(0, x, head, "  %s  every %.1fs  %s", t->where, t->interval_ms / 1000.0, clock);
    if (t->error[0])
        put(0, x, (t->color ? COLOR_PAIR(PAIR_ERR) : A_REVERSE) | A_BOLD, "  %s", t->error);

    /* GPUs first, but the lease table keeps at least its title, header and 2 rows */
    int ymax = LINES - 1, y = 1, gpu_max = ymax - 4;
    unsigned g = 0;
    for (; g < t->cur.node.count && y + 3 <= gpu_max; g++)
        y = draw_gpu(t, y, gpu_max, g);
    if (g < t->cur.node.count && y < gpu_max)
        put(y++, 0, A_DIM, "(%u more GPU%s: enlarge the window)", t->cur.node.count - g,
            t->cur.node.count - g == 1 ? "" : "s");
    if (!t->cur.node.count && y < gpu_max)
        put(y++, 0, 0, "(no GPU)");
    draw_leases(t, y, ymax);
    draw_footer(t);
    refresh();
}

/* --- keys and the loop ---------------------------------------------------------------------- */

/* 1 when the key ends the view. */
static int on_key(struct top *t, int ch)
{
    int page = LINES / 2 > 1 ? LINES / 2 : 1;
    switch (ch) {
    case 'q':
    case 'Q':
    case KEY_F(10):
        return 1;
    case 's':
    case '>':
    case '.':
    case KEY_F(6):
        sort_col = (sort_col + 1) % C__N;
        break;
    case '<':
    case ',':
        sort_col = (sort_col + C__N - 1) % C__N;
        break;
    case 'r':
    case 'I':
        sort_reverse = !sort_reverse;
        break;
    case KEY_UP:
        t->scroll--;
        break;
    case KEY_DOWN:
        t->scroll++;
        break;
    case KEY_PPAGE:
        t->scroll -= page;
        break;
    case KEY_NPAGE:
        t->scroll += page;
        break;
    case KEY_HOME:
        t->scroll = 0;
        break;
    case KEY_RESIZE:
        clearok(curscr, TRUE); /* repaint everything: nothing of the old size stays */
        return 0;
    default:
        return 0;
    }
    if (t->nrows)
        qsort(t->rows, t->nrows, sizeof *t->rows, cmp_rows);
    return 0;
}

static void loop(struct top *t)
{
    int64_t next = mono_ms();
    while (!stop) {
        int64_t now = mono_ms();
        if (now >= next) {
            take_sample(t);
            /* the next sample an interval after this one's start; never a burst to catch up */
            next += t->interval_ms;
            if (next <= mono_ms())
                next = mono_ms() + t->interval_ms;
            draw(t);
            continue;
        }
        /* wake at least every 200 ms, so that a signal is seen soon whatever getch does */
        int64_t wait = next - now;
        timeout((int)(wait < 200 ? wait : 200));
        int ch = getch();
        if (ch == ERR)
            continue;
        if (on_key(t, ch))
            break;
        draw(t);
    }
}

/* The screen on stdout; NULL when the terminal type is unknown (initscr would exit). */
static SCREEN *screen_start(struct top *t)
{
    /* asked first: newterm's own failure leaks the screen it began (ASan's leak check) */
    int err = 0;
    if (setupterm(NULL, STDOUT_FILENO, &err) != OK)
        return NULL;
    del_curterm(cur_term);
    SCREEN *scr = newterm(NULL, stdout, stdin);
    if (!scr)
        return NULL;
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    t->color = has_colors();
    if (t->color) {
        start_color();
        short bg = use_default_colors() == OK ? -1 : COLOR_BLACK; /* the terminal's own */
        init_pair(PAIR_UTIL, COLOR_GREEN, bg);
        init_pair(PAIR_MEM, COLOR_CYAN, bg);
        init_pair(PAIR_ERR, COLOR_WHITE, COLOR_RED);
        init_pair(PAIR_HEAD, COLOR_BLACK, COLOR_CYAN);
        init_pair(PAIR_KEY, COLOR_BLACK, COLOR_CYAN);
    }
    return scr;
}

static int parse_interval(const char *s, long *ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0.1 || v > 3600)
        return -1;
    *ms = lround(v * 1000);
    return 0;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"delay", required_argument, NULL, 'd'}, {"sort", required_argument, NULL, 'S'},
        {"reverse", no_argument, NULL, 'r'},     {"server", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    struct top t = {.interval_ms = 1000};
    int c;
    sort_col = C_SHARE;
    sort_reverse = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (parse_interval(optarg, &t.interval_ms) < 0)
                return gpx_cli_usage_error(
                    &gpx_cmd_top, "-d/--delay takes seconds in 0.1..3600, not '%s'", optarg);
            break;
        case 'S': {
            int k = 0;
            while (k < C__N && strcmp(cols[k].key, optarg) != 0)
                k++;
            if (k == C__N)
                return gpx_cli_usage_error(&gpx_cmd_top,
                                           "--sort must be one of id, tenant, mode, gpu, procs, "
                                           "memory, share, wait; not '%s'",
                                           optarg);
            sort_col = k;
            break;
        }
        case 'r':
            sort_reverse = 1;
            break;
        case 's':
            t.server = optarg;
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_top);
        default:
            return gpx_cli_usage_error(&gpx_cmd_top, "unknown or incomplete option '%s'",
                                       argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gpx_cli_usage_error(&gpx_cmd_top, "unexpected argument '%s'", argv[optind]);
    if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO))
        return gpx_cli_usage_error(&gpx_cmd_top,
                                   "needs a terminal (standard input and output); for scripts "
                                   "use 'gpuplex dmon --leases' or 'gpuplex ls --json'");

    /* the path is chosen (and a failure reported) before the screen is taken */
    int rc = gpx_cli_connect(t.server, &t.cn);
    if (rc)
        return rc;
    snprintf(t.where, sizeof t.where, "%s", gpx_conn_where(t.cn));
    if (!gpx_conn_is_daemon(t.cn)) { /* in-process: not held between samples (sample.h) */
        gpx_conn_close(t.cn);
        t.cn = NULL;
    }

    /* before initscr: ncurses then leaves them to us (it sets its own only over SIG_DFL);
     * no SA_RESTART, so that a signal cuts getch's wait short */
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    stop = 0;

    setlocale(LC_ALL, "");
    t.utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    SCREEN *scr = screen_start(&t);
    if (scr) {
        loop(&t);
        endwin();
        delscreen(scr);
    } else {
        const char *term = getenv("TERM");
        fprintf(stderr, "gpuplex top: cannot use terminal type '%s' (TERM; see 'toe -a')\n",
                term ? term : "");
        rc = gpx_error_exit_status(GPX_E_USAGE);
    }

    gpx_conn_close(t.cn);
    gpx_sample_free(&t.prev);
    gpx_sample_free(&t.cur);
    free(t.rows);
    free(t.util);
    free(t.mem);
    return rc;
}

const struct gpx_cmd gpx_cmd_top = {
    "top",
    run,
    "live view of GPUs, MIG instances and leases (ncurses, like nvtop)",
    "usage: gpuplex top [-d|--delay SECS] [--sort id|tenant|mode|gpu|procs|memory|share|wait]\n"
    "                   [--reverse] [--server S]\n"
    "\n"
    "A full-screen view of the node, refreshed every interval: per GPU a\n"
    "utilization bar and a memory bar, each with a graph of its recent history\n"
    "(one column per sample, newest at the right), the GPU instances of GPUs in\n"
    "MIG mode ('GI 2 3g.40gb l-... 512/40448MiB 1p': id, profile, the lease\n"
    "holding it, 'free', or '(leased)' by a lease you may not see, memory used\n"
    "where known / the instance's, processes), and a table of the active leases\n"
    "you may see (an admin: every tenant's):\n"
    "  ID, TENANT, MODE, GPU, PROCS     the lease and its processes now\n"
    "  MEM USED/QUOTA                   device memory used / its quota (exclusive\n"
    "                                   and mig leases: the GPU's or instance's,\n"
    "                                   both from NVML)\n"
    "  GPU%                             its GPU utilization over the last interval\n"
    "                                   (timeslice and capped vgpu: the arbiter's\n"
    "                                   grants; exclusive: the GPU's, from NVML;\n"
    "                                   uncapped vgpu: its processes' per-process\n"
    "                                   utilization, from NVML; mig: the\n"
    "                                   instance's where the driver reports one)\n"
    "  WAIT                             time it waited for its turn in that interval\n"
    "WAIT and the arbiter's GPU% need two samples: '-' until the second; '-' also\n"
    "where the driver gives no figure. A sample that fails\n"
    "(gpuplexd gone) is named in the header; the last figures stay and it tries\n"
    "again every interval.\n"
    "\n"
    "options:\n"
    "  -d, --delay SECS  refresh interval in seconds, 0.1..3600 (default 1; decimals\n"
    "                    allowed: -d 0.5). Note: nvtop's -d counts tenths.\n"
    "  --sort COLUMN     the first sort column: id, tenant, mode, gpu, procs,\n"
    "                    memory, share (GPU%, the default), wait\n"
    "  --reverse         start with the sort order reversed\n"
    "  --server S        gpuplexd's socket or URL (default: the rule of 'gpuplex\n"
    "                    status'; without a daemon the engine is opened in-process\n"
    "                    for each sample, never held in between)\n"
    "  -h, --help\n"
    "\n"
    "keys (also in the footer):\n"
    "  F6, s, >    sort by the next column (the header marks it: v largest\n"
    "              first, ^ smallest first)\n"
    "  <           sort by the previous column\n"
    "  r, I        reverse the sort order\n"
    "  Up, Down, PgUp, PgDn, Home\n"
    "              scroll the lease table\n"
    "  q, F10      quit (as do SIGINT and SIGTERM); the terminal is restored\n"
    "\n"
    "Sort order: numeric columns largest first, text columns A to Z; ties by id.\n"
    "It needs a terminal: with standard output or input not a terminal it exits 2\n"
    "at once (scripts: 'gpuplex dmon --leases', 'gpuplex ls --json').\n"
    "\n"
    "exit status: 0 when quit (q, F10, SIGINT, SIGTERM, SIGHUP); 2 bad usage, no\n"
    "terminal or a terminal type ncurses does not know (TERM); the connection's\n"
    "status when the first connection fails (see 'gpuplex help').\n",
};
