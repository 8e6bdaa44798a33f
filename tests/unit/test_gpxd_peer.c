/*
 * Who is behind a loopback TCP connection (src/daemon/peer.c): the parser of
 * /proc/net/tcp and tcp6 on tables as the kernel prints them (the samples'
 * addresses are as a little-endian host prints them), and the lookup on a
 * real connection made by another uid.
 */
#define _GNU_SOURCE
#include "daemon/peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* The client 127.0.0.1:55466 connected to our 127.0.0.1:34097: its socket, ours (accepted,
 * uid 0), the listener, and an older connection of the same ends in TIME_WAIT. */
static const char tcp4[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    "timeout inode\n"
    "   0: 0100007F:8531 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
    "0 2564248 1 0000000023a5c0b9 100 0 0 10 0\n"
    "   1: 0100007F:D8AA 0100007F:8531 06 00000000:00000000 03:0000162B 00000000     0        "
    "0 0 3 000000001ed5f8f3\n"
    "   2: 0100007F:8531 0100007F:D8AA 01 00000000:00000000 00:00000000 00000000     0        "
    "0 2564250 1 00000000b682ae34 20 0 0 10 -1\n"
    "   3: 0100007F:D8AA 0100007F:8531 01 00000000:00000000 00:00000000 00000000  1001        "
    "0 2564249 1 00000000bf9aaecc 20 0 0 10 -1\n";

/* [::1]:53098 connected to our [::1]:44843, uid 1002; no newline at the end. */
static const char tcp6[] =
    "  sl  local_address                         remote_address                        st "
    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   1: 00000000000000000000000001000000:AF2B 00000000000000000000000001000000:CF6A 01 "
    "00000000:00000000 00:00000000 00000000     0        0 2564254 1 00000000b682ae34 20 0 0 "
    "10 -1\n"
    "   2: 00000000000000000000000001000000:CF6A 00000000000000000000000001000000:AF2B 01 "
    "00000000:00000000 00:00000000 00000000  1002        0 2564253 2 00000000bf9aaecc 20 0 0 "
    "10 -1";

static struct gpxd_tcp_ends ends(int family, const char *local, uint16_t lport, const char *remote,
                                 uint16_t rport)
{
    struct gpxd_tcp_ends e;
    memset(&e, 0, sizeof e);
    e.family = family;
    assert_int_equal(inet_pton(family, local, e.local), 1);
    assert_int_equal(inet_pton(family, remote, e.remote), 1);
    e.local_port = lport;
    e.remote_port = rport;
    return e;
}

static int little_endian(void)
{
    uint16_t one = 1;
    return *(uint8_t *)&one == 1;
}

static void test_tcp4(void **state)
{
    (void)state;
    if (!little_endian())
        skip();
    uint32_t uid = 7;
    struct gpxd_tcp_ends e = ends(AF_INET, "127.0.0.1", 55466, "127.0.0.1", 34097);
    assert_int_equal(gpxd_proc_net_tcp_uid(tcp4, strlen(tcp4), &e, &uid), 1);
    assert_int_equal(uid, 1001); /* the client's socket: not ours, not the TIME_WAIT one */
    /* our accepted socket, looked up the other way round, is uid 0 */
    e = ends(AF_INET, "127.0.0.1", 34097, "127.0.0.1", 55466);
    assert_int_equal(gpxd_proc_net_tcp_uid(tcp4, strlen(tcp4), &e, &uid), 1);
    assert_int_equal(uid, 0);
    /* another port, another address, the wrong family: not there */
    e = ends(AF_INET, "127.0.0.1", 55467, "127.0.0.1", 34097);
    assert_int_equal(gpxd_proc_net_tcp_uid(tcp4, strlen(tcp4), &e, &uid), 0);
    e = ends(AF_INET, "127.0.0.2", 55466, "127.0.0.1", 34097);
    assert_int_equal(gpxd_proc_net_tcp_uid(tcp4, strlen(tcp4), &e, &uid), 0);
    e = ends(AF_INET6, "::1", 55466, "::1", 34097);
    assert_int_equal(gpxd_proc_net_tcp_uid(tcp4, strlen(tcp4), &e, &uid), 0);
    /* cut anywhere inside the client's line: no overread (ASan), and not found before its uid
     * (the daemon passes only whole lines) */
    e = ends(AF_INET, "127.0.0.1", 55466, "127.0.0.1", 34097);
    size_t start = strlen(tcp4) - 1;
    while (tcp4[start - 1] != '\n')
        start--;
    size_t at_uid = (size_t)(strstr(tcp4 + start, "1001") - tcp4);
    for (size_t n = start; n < strlen(tcp4); n++)
        assert_int_equal(gpxd_proc_net_tcp_uid(tcp4, n, &e, &uid), n > at_uid);
}

static void test_tcp6(void **state)
{
    (void)state;
    if (!little_endian())
        skip();
    uint32_t uid = 7;
    struct gpxd_tcp_ends e = ends(AF_INET6, "::1", 53098, "::1", 44843);
    assert_int_equal(gpxd_proc_net_tcp_uid(tcp6, strlen(tcp6), &e, &uid), 1);
    assert_int_equal(uid, 1002);
    e = ends(AF_INET6, "::2", 53098, "::1", 44843);
    assert_int_equal(gpxd_proc_net_tcp_uid(tcp6, strlen(tcp6), &e, &uid), 0);
    /* an IPv6 table is no IPv4 one */
    e = ends(AF_INET, "127.0.0.1", 53098, "127.0.0.1", 44843);
    assert_int_equal(gpxd_proc_net_tcp_uid(tcp6, strlen(tcp6), &e, &uid), 0);
}

/* Lines that are not quite a socket's are skipped, never half-read. */
static void test_malformed(void **state)
{
    (void)state;
    if (!little_endian())
        skip();
    struct gpxd_tcp_ends e = ends(AF_INET, "127.0.0.1", 55466, "127.0.0.1", 34097);
    static const char *bad[] = {
        "   3: 0100007F:D8AA 0100007F:8531 01 00000000:00000000 00:00000000 00000000\n",
        "   3: 0100007F:D8AA 0100007F:8531 01 00000000:00000000 00:00000000 00000000 4294967295\n",
        "   3: 0100007F:D8AA 0100007F:8531 01 00000000:00000000 00:00000000 00000000 12345678901\n",
        "   3: 0100007F:D8AA 0100007F:8531 01 00000000:00000000 00:00000000 00000000 10x1\n",
        "   3: 0100007F:D8AA 0100007F:8531 01 00000000:00000000 00:00000000 00000000 -1\n",
        "   3: 0100007G:D8AA 0100007F:8531 01 00000000:00000000 00:00000000 00000000 1001\n",
        "   3: 0100007F:D8AA 0100007F:85311 01 00000000:00000000 00:00000000 00000000 1001\n",
        "   3: 0100007F-D8AA 0100007F:8531 01 00000000:00000000 00:00000000 00000000 1001\n",
        "   3: 0100007F:D8AA 0100007F:8531 1 00000000:00000000 00:00000000 00000000 1001\n",
        "   3 0100007F:D8AA 0100007F:8531 01 00000000:00000000 00:00000000 00000000 1001\n",
        "   3: 0100007F:D8AA 0100007F:8531 06 00000000:00000000 00:00000000 00000000 1001\n",
        "   3: 0100007F:D8AA\n0100007F:8531 01 00000000:00000000 00:00000000 00000000 1001\n",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t uid = 7;
        if (gpxd_proc_net_tcp_uid(bad[i], strlen(bad[i]), &e, &uid) != 0)
            fail_msg("line %zu was taken: %s", i, bad[i]);
        assert_int_equal(uid, 7);
    }
    /* tabs and lower-case hex are as good */
    const char *ok = "3:\t0100007f:d8aa 0100007F:8531\t01 0:0 0:0 0 1001";
    uint32_t uid = 0;
    assert_int_equal(gpxd_proc_net_tcp_uid(ok, strlen(ok), &e, &uid), 1);
    assert_int_equal(uid, 1001);
}

static void test_loopback(void **state)
{
    (void)state;
    static const struct {
        const char *addr;
        int loopback;
    } cases[] = {
        {"127.0.0.1", 1},       {"127.1.2.3", 1}, {"10.0.0.1", 0},
        {"128.0.0.1", 0},       {"::1", 1},       {"::ffff:127.0.0.1", 1},
        {"::ffff:10.0.0.1", 0}, {"fe80::1", 0},   {"::", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        if (inet_pton(AF_INET, cases[i].addr, &s4->sin_addr) == 1) {
            s4->sin_family = AF_INET;
        } else {
            assert_int_equal(inet_pton(AF_INET6, cases[i].addr, &s6->sin6_addr), 1);
            s6->sin6_family = AF_INET6;
        }
        if (gpxd_addr_is_loopback((struct sockaddr *)&ss) != cases[i].loopback)
            fail_msg("%s: loopback should be %d", cases[i].addr, cases[i].loopback);
    }
}

/* A connection made by a child as `uid` to a listener on addr: gpxd_tcp_peer_uid says uid. */
static void lookup_real(int family, const char *addr, uid_t uid)
{
    struct sockaddr_storage ls;
    memset(&ls, 0, sizeof ls);
    socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    ls.ss_family = (sa_family_t)family;
    void *a = family == AF_INET ? (void *)&((struct sockaddr_in *)&ls)->sin_addr
                                : (void *)&((struct sockaddr_in6 *)&ls)->sin6_addr;
    assert_int_equal(inet_pton(family, addr, a), 1);
    int l = socket(family, SOCK_STREAM, 0);
    assert_true(l >= 0);
    if (bind(l, (struct sockaddr *)&ls, len) < 0) { /* no IPv6 here */
        close(l);
        return;
    }
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&ls, &len), 0);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setresuid(uid, uid, uid) < 0)
            _exit(2);
        int c = socket(family, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&ls, len) < 0)
            _exit(3);
        char b;
        _exit(read(go[0], &b, 1) < 0 ? 4 : 0); /* holds the connection until told */
    }
    struct sockaddr_storage peer, local;
    socklen_t pl = sizeof peer, ll = sizeof local;
    int s = accept(l, (struct sockaddr *)&peer, &pl);
    assert_true(s >= 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&local, &ll), 0);
    uint32_t got = 12345;
    int rc = gpxd_tcp_peer_uid((struct sockaddr *)&peer, (struct sockaddr *)&local, &got);
    /* our own socket's ends, the other way round, are ours */
    uint32_t mine = 12345;
    int rc_mine = gpxd_tcp_peer_uid((struct sockaddr *)&local, (struct sockaddr *)&peer, &mine);
    assert_int_equal(write(go[1], "x", 1), 1);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(s);
    close(l);
    close(go[0]);
    close(go[1]);
    assert_int_equal(rc, 0);
    assert_int_equal(got, uid);
    assert_int_equal(rc_mine, 0);
    assert_int_equal(mine, geteuid());
}

static void test_real_connection(void **state)
{
    (void)state;
    uid_t uid = geteuid() == 0 ? 65534 : geteuid(); /* another uid when we may */
    lookup_real(AF_INET, "127.0.0.1", uid);
    lookup_real(AF_INET6, "::1", uid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp4),
        cmocka_unit_test(test_tcp6),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_real_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
