/*
 * The floor under the routing overhead (bench/functions/run, row "a bare
 * relay"): the least any proxy in user space adds to a call. A thread per
 * client connection relays bytes both ways to its own connection to the
 * upstream unix socket, sleeping in poll() on the two: like gpuplexd's
 * router it wakes once on the request and once on the answer, but parses
 * nothing, authenticates nothing, queues and meters nothing.
 *
 * usage: relay LISTEN_SOCKET UPSTREAM_SOCKET (runs until killed)
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *upstream;

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path)
        return -1;
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *serve(void *arg)
{
    int c = (int)(intptr_t)arg;
    struct sockaddr_un sa;
    int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (u < 0 || unix_addr(upstream, &sa) < 0 ||
        connect(u, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("relay: connecting upstream");
        goto out;
    }
    static __thread char buf[65536];
    struct pollfd p[2] = {{.fd = c, .events = POLLIN}, {.fd = u, .events = POLLIN}};
    while (poll(p, 2, -1) > 0) {
        for (int i = 0; i < 2; i++) {
            if (!p[i].revents)
                continue;
            ssize_t n = recv(p[i].fd, buf, sizeof buf, 0);
            if (n <= 0 || send_all(p[1 - i].fd, buf, (size_t)n) < 0)
                goto out;
        }
    }
out:
    close(c);
    if (u >= 0)
        close(u);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: relay LISTEN_SOCKET UPSTREAM_SOCKET\n");
        return 2;
    }
    upstream = argv[2];
    struct sockaddr_un sa;
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || unix_addr(argv[1], &sa) < 0) {
        fprintf(stderr, "relay: bad socket path %s\n", argv[1]);
        return 1;
    }
    unlink(argv[1]);
    if (bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 64) < 0) {
        perror("relay: listening");
        return 1;
    }
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    for (;;) {
        int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        pthread_t t;
        if (pthread_create(&t, &at, serve, (void *)(intptr_t)c) != 0)
            close(c);
    }
}
