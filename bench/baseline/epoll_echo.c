/* epoll_echo: the hand-written baseline for greenhub's echo server ("what the hardware allows
 * on one core"). One thread, edge-triggered epoll, non-blocking sockets, a 4 KiB buffer per
 * connection. Every complete line read is written back (all complete lines of one read in one
 * write); a longer line is echoed in 4 KiB pieces, as gh_readline does. A partial write keeps
 * the rest and waits for EPOLLOUT; reading that connection stops meanwhile (backpressure).
 *
 * Per round trip it makes one read and one write (plus its share of epoll_wait): a read that
 * returns less than it asked for has emptied the socket, so it does not read again to see
 * EAGAIN; with EPOLLET the next data brings a new edge. Each socket is registered once, for
 * EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET, so no epoll_ctl(MOD) is ever needed.
 *
 * usage: epoll_echo [-p PORT]   (default 6000; 0 picks a free port, printed)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 4096
#define BACKLOG SOMAXCONN /* the same backlog as greenhub's examples */
#define MAX_EVENTS 256

struct conn {
    int fd;
    unsigned in;       /* bytes in buf */
    unsigned out_off;  /* buf[out_off, out_len) is still to be written */
    unsigned out_len;  /* 0: nothing pending */
    char buf[BUF];
};

static struct conn listener_tag; /* data.ptr of the listening socket */

static void drop(struct conn *c)
{
    close(c->fd); /* also removes it from the epoll set */
    free(c);
}

/* Runs one connection as far as it can go without blocking; frees it when it ends. */
static void serve(struct conn *c)
{
    int drained = 0; /* a read came back short: the socket is empty until the next edge */
    for (;;) {
        while (c->out_off < c->out_len) {
            ssize_t n = send(c->fd, c->buf + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno != EAGAIN)
                    drop(c);
                return; /* EAGAIN: EPOLLOUT's edge brings us back */
            }
            c->out_off += (unsigned)n;
        }
        if (c->out_len > 0) { /* all written: the echoed bytes leave the buffer */
            c->in -= c->out_len;
            if (c->in > 0)
                memmove(c->buf, c->buf + c->out_len, c->in);
            c->out_off = c->out_len = 0;
        }
        /* Echo every complete line buffered (or a full buffer without one, as a piece). */
        char *nl = c->in ? memrchr(c->buf, '\n', c->in) : NULL;
        if (nl != NULL || c->in == BUF) {
            c->out_len = nl ? (unsigned)(nl - c->buf) + 1 : BUF;
            continue;
        }
        if (drained)
            return;
        size_t want = BUF - c->in;
        ssize_t n = read(c->fd, c->buf + c->in, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                drop(c);
            return;
        }
        if (n == 0) { /* end of stream: the unterminated rest goes back, then we close */
            if (c->in > 0)
                (void)send(c->fd, c->buf, c->in, MSG_NOSIGNAL | MSG_DONTWAIT);
            drop(c);
            return;
        }
        c->in += (unsigned)n;
        drained = (size_t)n < want;
    }
}

static void accept_all(int lfd, int ep)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                perror("accept4"); /* EMFILE and the like: try again on the next edge */
            return;
        }
        struct conn *c = malloc(sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->in = c->out_off = c->out_len = 0;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            perror("epoll_ctl");
            drop(c);
        }
        /* no read here: if data is already there, EPOLL_CTL_ADD reports it at once */
    }
}

int main(int argc, char **argv)
{
    long port = 6000;
    char *end = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "p:")) != -1) {
        if (opt == 'p')
            port = strtol(optarg, &end, 10);
        if (opt == '?' || end == optarg || *end || port < 0 || port > 65535) {
            fprintf(stderr, "usage: %s [-p PORT]\n", argv[0]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    socklen_t salen = sizeof sa;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, BACKLOG) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0) {
        perror("listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN | EPOLLET, .data.ptr = &listener_tag};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) {
        perror("epoll");
        return 1;
    }
    printf("epoll_echo listening on port %u\n", (unsigned)ntohs(sa.sin_port));
    fflush(stdout);

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == &listener_tag)
                accept_all(lfd, ep);
            else
                serve(events[i].data.ptr);
        }
    }
}
