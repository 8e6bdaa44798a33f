/*
 * gpuplex(1) and the bash/zsh completion, written from the command table:
 * each command's summary and usage text (what `gpuplex help CMD` prints) and
 * the flags its synopsis names. tests/integration/man.sh checks that every
 * flag a command's getopt table takes is named in its usage text, so the
 * completion knows them all.
 */
#include "cli/cli.h"
#include "core/mig_catalog.h"
#include "core/roff.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define MAX_SUBS  8
#define MAX_FLAGS 48

struct flag {
    char name[40];
    char arg[64]; /* "" takes none; else the metavar (FILE) or the values (a|b) */
};

struct sub {
    char name[24]; /* "" for a command without subcommands */
    char pos[24];  /* the metavar of its operands: ID, CMD, COMMAND, ... */
    struct flag flags[MAX_FLAGS];
    unsigned nflags;
};

struct spec {
    struct sub subs[MAX_SUBS];
    unsigned nsubs;
};

static struct sub *sub_get(struct spec *sp, const char *name)
{
    for (unsigned i = 0; i < sp->nsubs; i++)
        if (strcmp(sp->subs[i].name, name) == 0)
            return &sp->subs[i];
    if (sp->nsubs == MAX_SUBS)
        return NULL;
    struct sub *s = &sp->subs[sp->nsubs++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

static void flag_add(struct sub *s, const char *name, size_t len, const char *arg)
{
    for (unsigned i = 0; i < s->nflags; i++)
        if (strlen(s->flags[i].name) == len && strncmp(s->flags[i].name, name, len) == 0)
            return;
    if (s->nflags < MAX_FLAGS && len < sizeof s->flags[0].name) {
        struct flag *f = &s->flags[s->nflags++];
        snprintf(f->name, sizeof f->name, "%.*s", (int)len, name);
        snprintf(f->arg, sizeof f->arg, "%s", arg);
    }
}

/* A synopsis word less its brackets and ellipsis: "[--json" -> "--json", "ID..." -> "ID". */
static void clean(const char *w, char *out, size_t len)
{
    while (*w == '[' || *w == '(')
        w++;
    snprintf(out, len, "%s", w);
    size_t n = strlen(out);
    while (n && strchr("[]().", out[n - 1]))
        out[--n] = '\0';
}

/* One synopsis entry ("gpuplex lease create [--gpu INDEX|UUID] ..."), split in words. */
static void parse_entry(const struct gpx_cmd *cmd, char **w, int n, struct spec *sp)
{
    if (n < 2 || strcmp(w[0], "gpuplex") != 0 || strcmp(w[1], cmd->name) != 0)
        return; /* "gpuplex --version" */
    char c[64];
    int i = 2;
    char name[24] = ""; /* the subcommand: "create", or "ls" of "[ls]" */
    if (i < n) {
        clean(w[i], c, sizeof c);
        if (islower((unsigned char)c[0])) {
            snprintf(name, sizeof name, "%.23s", c);
            i++;
        }
    }
    struct sub *s = sub_get(sp, name);
    if (!s)
        return;
    flag_add(s, "--help", 6, "");
    for (; i < n; i++) {
        clean(w[i], c, sizeof c);
        if (c[0] == '-' && c[1] && strcmp(c, "--") != 0) {
            /* "-f|--layout FILE": each alternative takes the argument that follows */
            char arg[64] = "";
            size_t wl = strlen(w[i]);
            if (w[i][wl - 1] != ']' && w[i][wl - 1] != ')' && i + 1 < n &&
                !strchr("[(|-", w[i + 1][0])) {
                clean(w[i + 1], arg, sizeof arg);
                i++;
            }
            for (char *p = c; *p;) {
                size_t len = strcspn(p, "|");
                flag_add(s, p, len, arg);
                p += len + (p[len] == '|');
            }
        } else if (isupper((unsigned char)c[0]) && !s->pos[0]) {
            snprintf(s->pos, sizeof s->pos, "%.23s", c);
        }
    }
}

/* The synopsis of cmd's usage text (its first block) into sp. */
static void parse_usage(const struct gpx_cmd *cmd, struct spec *sp)
{
    char text[4096], *words[256];
    const char *end = strstr(cmd->usage, "\n\n");
    size_t len = end ? (size_t)(end - cmd->usage) : strlen(cmd->usage);
    snprintf(text, sizeof text, "%.*s", (int)len, cmd->usage);
    memset(sp, 0, sizeof *sp);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(text, " \n", &save); t && n < 256;
         t = strtok_r(NULL, " \n", &save)) {
        if (strcmp(t, "usage:") == 0)
            continue;
        if (strcmp(t, "gpuplex") == 0 && n) {
            parse_entry(cmd, words, n, sp);
            n = 0;
        }
        words[n++] = t;
    }
    parse_entry(cmd, words, n, sp);
}

/* ---- gpuplex(1) ---- */

static void man_section(const char *name, const char *text)
{
    printf(".SH %s\n", name);
    gpx_roff_verbatim(stdout, text, strlen(text));
}

static int man(void)
{
    const struct gpx_cli_help *h = &gpx_cli_help;
    gpx_roff_th(stdout, "GPUPLEX", 1, "User Commands");
    printf(".SH NAME\ngpuplex \\- share NVIDIA GPUs between AI/ML workloads as leases\n");
    gpx_roff_usage(stdout, h->usage, NULL);
    printf(".SH DESCRIPTION\n");
    gpx_roff_text(stdout, h->intro, strlen(h->intro));
    printf(".PP\n");
    gpx_roff_text(stdout, h->engine, strlen(h->engine));
    printf(".SH COMMANDS\n");
    for (int i = 0; gpx_cli_commands[i]; i++) {
        const struct gpx_cmd *c = gpx_cli_commands[i];
        printf(".SS \"gpuplex %s\"\n", c->name);
        gpx_roff_text(stdout, c->summary, strlen(c->summary));
        printf(".PP\n");
        gpx_roff_verbatim(stdout, c->usage, strlen(c->usage));
    }
    man_section("OPTIONS", h->global);
    man_section("ENVIRONMENT", h->env);
    man_section("EXIT STATUS", h->exit);
    printf(".SH SEE ALSO\n.BR gpuplexd (8),\n.BR gpuplexd.conf (5)\n");
    return 0;
}

/* ---- completion ---- */

/* What completes a flag's argument or an operand: a word of the script's switch. */
static const char *kind_of(const char *meta)
{
    if (!meta[0])
        return "";
    if (strcmp(meta, "ID") == 0)
        return "lease";
    if (strcmp(meta, "FILE") == 0 || strcmp(meta, "PATH") == 0 || strcmp(meta, "DIR") == 0)
        return "file";
    if (strcmp(meta, "P") == 0 || strcmp(meta, "PROFILE") == 0)
        return "profile";
    if (strcmp(meta, "MODEL") == 0)
        return "model";
    if (strcmp(meta, "CMD") == 0)
        return "cmd";
    if (strcmp(meta, "COMMAND") == 0)
        return "gpuplex";
    if (islower((unsigned char)meta[0]) && strchr(meta, '|'))
        return "words";
    return "text";
}

static void print_words(const char *s)
{
    for (; *s; s++)
        putchar(*s == '|' ? ' ' : *s);
}

/* The shell functions of the table: the same text serves bash and zsh. */
static void completion_tables(void)
{
    static struct spec specs[32];
    printf("_gpuplex_cmds='");
    for (int i = 0; gpx_cli_commands[i]; i++)
        printf("%s%s", i ? " " : "", gpx_cli_commands[i]->name);
    printf("'\n_gpuplex_profiles='");
    /* every profile of the catalog: MIG names are the same on every node of a model */
    char seen[2048] = " ";
    for (int m = 0; m < GPX_MIG_MODEL_COUNT; m++) {
        const struct gpx_mig_model *mm = gpx_mig_model_get((enum gpx_mig_model_id)m);
        for (unsigned p = 0; mm && p < mm->profile_count; p++) {
            char key[GPX_MIG_NAME_MAX + 2];
            snprintf(key, sizeof key, " %s ", mm->profiles[p].name);
            if (!strstr(seen, key) && strlen(seen) + strlen(key) < sizeof seen) {
                printf("%s%s", seen[1] ? " " : "", mm->profiles[p].name);
                strcat(seen, key + 1);
            }
        }
    }
    printf("'\n_gpuplex_models='");
    for (const char *p = gpx_mig_model_list(); *p; p++)
        if (*p != ',')
            putchar(*p);
    printf("'\n");
    int n = 0;
    for (; gpx_cli_commands[n]; n++)
        parse_usage(gpx_cli_commands[n], &specs[n]);

    printf("_gpuplex_subs() {\n    case $1 in\n");
    for (int i = 0; i < n; i++) {
        if (specs[i].nsubs < 2 && !specs[i].subs[0].name[0])
            continue;
        printf("    %s) echo '", gpx_cli_commands[i]->name);
        for (unsigned s = 0; s < specs[i].nsubs; s++)
            printf("%s%s", s ? " " : "", specs[i].subs[s].name);
        printf("' ;;\n");
    }
    printf("    esac\n}\n_gpuplex_flags() {\n    case $1 in\n");
    for (int i = 0; i < n; i++)
        for (unsigned s = 0; s < specs[i].nsubs; s++) {
            const struct sub *sb = &specs[i].subs[s];
            printf("    '%s%s%s') echo '", gpx_cli_commands[i]->name, sb->name[0] ? " " : "",
                   sb->name);
            for (unsigned f = 0; f < sb->nflags; f++)
                printf("%s%s", f ? " " : "", sb->flags[f].name);
            printf("' ;;\n");
        }
    printf(
        "    esac\n}\n# what completes the argument of flag $2 of command $1 (none: no argument)\n"
        "_gpuplex_arg() {\n    case \"$1/$2\" in\n");
    for (int i = 0; i < n; i++)
        for (unsigned s = 0; s < specs[i].nsubs; s++) {
            const struct sub *sb = &specs[i].subs[s];
            for (unsigned f = 0; f < sb->nflags; f++) {
                const char *k = kind_of(sb->flags[f].arg);
                if (!k[0])
                    continue;
                printf("    '%s%s%s/%s') echo '%s", gpx_cli_commands[i]->name,
                       sb->name[0] ? " " : "", sb->name, sb->flags[f].name, k);
                if (strcmp(k, "words") == 0) {
                    putchar(':');
                    print_words(sb->flags[f].arg);
                }
                printf("' ;;\n");
            }
        }
    printf("    esac\n}\n# what completes the operands of command $1\n"
           "_gpuplex_pos() {\n    case $1 in\n");
    for (int i = 0; i < n; i++)
        for (unsigned s = 0; s < specs[i].nsubs; s++) {
            const char *k = kind_of(specs[i].subs[s].pos);
            if (k[0] && strcmp(k, "text") != 0)
                printf("    '%s%s%s') echo %s ;;\n", gpx_cli_commands[i]->name,
                       specs[i].subs[s].name[0] ? " " : "", specs[i].subs[s].name, k);
        }
    printf("    esac\n}\n");
}

/*
 * The walk over the words typed so far, in both shells: the command key
 * ("lease rm"), the operands before the cursor and --server, then the kind
 * of word to complete. $1: index of the first word after the command name.
 */
static const char walk[] =
    "    key=$cmd\n"
    "    subs=$(_gpuplex_subs \"$cmd\")\n"
    "    if [[ -n $subs && \" $subs \" == *\" ${w[$1]} \"* ]]; then\n"
    "        key=\"$cmd ${w[$1]}\"\n"
    "        i=$(($1 + 1))\n"
    "    fi\n"
    "    for ((; i < cw; i++)); do\n"
    "        if [[ ${w[i]} == -?* && ${w[i]} != -- ]]; then\n"
    "            [[ ${w[i]} == --server || ${w[i]} == -s ]] && server=(--server \"${w[i + 1]}\")\n"
    "            [[ -n $(_gpuplex_arg \"$key\" \"${w[i]}\") ]] && i=$((i + 1))\n"
    "        else\n"
    "            npos=$((npos + 1))\n"
    "        fi\n"
    "    done\n"
    "    kind=$(_gpuplex_arg \"$key\" \"${w[cw - 1]}\")\n"
    "    pos=$(_gpuplex_pos \"$key\")\n"
    "    if [[ $pos == cmd ]] && ((npos > 0)); then\n"
    "        kind=file # the words of gpuplex run's CMD are its own\n"
    "    elif [[ -z $kind && ${w[cw]} == -* ]]; then\n"
    "        kind=flags\n"
    "    elif [[ -z $kind ]]; then\n"
    "        kind=${pos:-flags}\n"
    "    fi\n";

static void bash(void)
{
    printf("# bash completion for gpuplex: written by `gpuplex help --completion bash`\n"
           "# from gpuplex's command table; do not edit.\n");
    completion_tables();
    printf("_gpuplex() {\n"
           "    local -a w=(\"${COMP_WORDS[@]}\") server=()\n"
           "    local cw=$COMP_CWORD cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]}\n"
           "    local key subs kind pos i=2 npos=0 list\n"
           "    COMPREPLY=()\n"
           "    if ((cw == 1)); then\n"
           "        mapfile -t COMPREPLY < <(compgen -W \"$_gpuplex_cmds --help --version\" -- "
           "\"$cur\")\n"
           "        return 0\n"
           "    fi\n"
           "    subs=$(_gpuplex_subs \"$cmd\")\n"
           "    if ((cw == 2)) && [[ -n $subs && $cur != -* ]]; then\n"
           "        mapfile -t COMPREPLY < <(compgen -W \"$subs\" -- \"$cur\")\n"
           "        return 0\n"
           "    fi\n"
           "    set -- 2\n"
           "%s"
           "    case $kind in\n"
           "    file) mapfile -t COMPREPLY < <(compgen -f -- \"$cur\"); return 0 ;;\n"
           "    cmd) mapfile -t COMPREPLY < <(compgen -c -- \"$cur\"); return 0 ;;\n"
           "    lease) list=$(\"${COMP_WORDS[0]}\" lease ls -q \"${server[@]}\" 2>/dev/null) ;;\n"
           "    profile) list=$_gpuplex_profiles ;;\n"
           "    model) list=$_gpuplex_models ;;\n"
           "    gpuplex) list=$_gpuplex_cmds ;;\n"
           "    words:*) list=${kind#words:} ;;\n"
           "    flags) list=$(_gpuplex_flags \"$key\") ;;\n"
           "    *) return 0 ;;\n"
           "    esac\n"
           "    mapfile -t COMPREPLY < <(compgen -W \"$list\" -- \"$cur\")\n"
           "    return 0\n"
           "}\n"
           "complete -F _gpuplex gpuplex\n",
           walk);
}

static void zsh(void)
{
    printf("#compdef gpuplex\n"
           "# zsh completion for gpuplex: written by `gpuplex help --completion zsh`\n"
           "# from gpuplex's command table; do not edit.\n");
    completion_tables();
    /* zsh's words are 1-based; w is a 0-based copy so that the walk reads the same */
    printf(
        "_gpuplex_complete() {\n"
        "    emulate -L zsh\n"
        "    setopt ksharrays\n"
        "    local -a w server\n"
        "    w=(\"${words[@]}\")\n"
        "    local cw=$((CURRENT - 1)) cmd=${w[1]} key subs kind pos i=2 npos=0\n"
        "    if ((cw == 1)); then\n"
        "        compadd -- ${=_gpuplex_cmds} --help --version\n"
        "        return\n"
        "    fi\n"
        "    subs=$(_gpuplex_subs \"$cmd\")\n"
        "    if ((cw == 2)) && [[ -n $subs && ${w[cw]} != -* ]]; then\n"
        "        compadd -- ${=subs}\n"
        "        return\n"
        "    fi\n"
        "    set -- 2\n"
        "%s"
        "    case $kind in\n"
        "    file) _files ;;\n"
        "    cmd) _command_names -e ;;\n"
        "    lease) compadd -- ${(f)\"$(${w[0]} lease ls -q \"${server[@]}\" 2>/dev/null)\"} ;;\n"
        "    profile) compadd -- ${=_gpuplex_profiles} ;;\n"
        "    model) compadd -- ${=_gpuplex_models} ;;\n"
        "    gpuplex) compadd -- ${=_gpuplex_cmds} ;;\n"
        "    words:*) compadd -- ${=${kind#words:}} ;;\n"
        "    flags) compadd -- ${=$(_gpuplex_flags \"$key\")} ;;\n"
        "    esac\n"
        "}\n"
        "_gpuplex_complete \"$@\"\n",
        walk);
}

int gpx_cli_generate(int argc, char **argv)
{
    if (argc == 1 && strcmp(argv[0], "--man") == 0)
        return man();
    if (argc == 2 && strcmp(argv[0], "--completion") == 0 && strcmp(argv[1], "bash") == 0) {
        bash();
        return 0;
    }
    if (argc == 2 && strcmp(argv[0], "--completion") == 0 && strcmp(argv[1], "zsh") == 0) {
        zsh();
        return 0;
    }
    return gpx_cli_usage_error(&gpx_cmd_help,
                               "'%s': the hidden generators are --man and "
                               "--completion bash|zsh",
                               argv[0]);
}
