/* epoll_file: the hand-written baseline for greenhub's file server ("what the hardware allows
 * on one core"). One thread, edge-triggered epoll. A client sends a path ending in a NUL byte;
 * the file is opened beneath ROOT with the confinement examples-c/file_server.c gets from
 * gh_open_beneath (openat2 with RESOLVE_BENEATH, fstat, regular files only), sent with
 * sendfile(2) until done (EAGAIN waits for EPOLLOUT's edge), then both are closed. A request
 * that cannot be served is just closed. Unlike greenhub it blocks on a slow file: it measures
 * the cached case only.
 *
 * Each socket is registered once for EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET: no epoll_ctl(MOD).
 * A read that returns less than it asked for has emptied the socket, so there is no extra read
 * to see EAGAIN.
 *
 * usage: epoll_file [-p PORT] [-r ROOT]   (defaults: 6000, the current directory)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PATH_MAX_LEN 4096 /* as the example: a path of up to 4096 bytes, then its NUL */
#define BACKLOG SOMAXCONN /* the same backlog as greenhub's examples */
#define MAX_EVENTS 256

struct conn {
    int fd;
    int file;      /* -1 while the path is being read */
    off_t off, size;
    unsigned plen;
    char path[PATH_MAX_LEN + 1];
};

static struct conn listener_tag;
static int root_fd;

static void drop(struct conn *c)
{
    if (c->file >= 0)
        close(c->file);
    close(c->fd);
    free(c);
}

/* Opens the regular file PATH beneath ROOT, as the example does; -1 if it cannot be served. */
static int open_served_file(const char *path, struct stat *st)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    while (*path == '/')
        path++;
    if (*path == '\0')
        path = ".";
    int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void serve(struct conn *c)
{
    while (c->file < 0) { /* reading the path */
        size_t want = PATH_MAX_LEN + 1 - c->plen;
        ssize_t n = read(c->fd, c->path + c->plen, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) { /* EOF or error before a whole request: nothing to answer */
            drop(c);
            return;
        }
        char *nul = memchr(c->path + c->plen, '\0', (size_t)n);
        c->plen += (unsigned)n;
        if (nul == NULL) {
            if (c->plen > PATH_MAX_LEN) { /* no NUL in time */
                drop(c);
                return;
            }
            if ((size_t)n < want)
                return; /* drained: the rest brings a new edge */
            continue;
        }
        struct stat st;
        c->file = open_served_file(c->path, &st);
        if (c->file < 0) {
            drop(c);
            return;
        }
        c->size = st.st_size;
    }
    while (c->off < c->size) {
        ssize_t n = sendfile(c->fd, c->file, &c->off, (size_t)(c->size - c->off));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return; /* EPOLLOUT's edge brings us back */
        if (n <= 0)
            break; /* the client went away, or the file shrank */
    }
    drop(c);
}

static void accept_all(int lfd, int ep)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                perror("accept4");
            return;
        }
        struct conn *c = malloc(sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->file = -1;
        c->off = c->size = 0;
        c->plen = 0;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            perror("epoll_ctl");
            drop(c);
        }
    }
}

int main(int argc, char **argv)
{
    long port = 6000;
    const char *root = ".";
    char *end = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "p:r:")) != -1) {
        if (opt == 'p')
            port = strtol(optarg, &end, 10);
        else if (opt == 'r')
            root = optarg;
        if (opt == '?' || (opt == 'p' && (end == optarg || *end || port < 0 || port > 65535))) {
            fprintf(stderr, "usage: %s [-p PORT] [-r ROOT]\n", argv[0]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        perror(root);
        return 1;
    }

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
    printf("epoll_file listening on port %u\n", (unsigned)ntohs(sa.sin_port));
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
