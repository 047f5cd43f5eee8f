/* gh_file_quiet: examples-c/file_server.c as the file benchmark measures it: the same request
 * (a path and a NUL, the file back, opened beneath ROOT with gh_open_beneath, regular files
 * only, sent with gh_sendfile) without the example's log lines, and with SIGPIPE ignored, so
 * gh_sendfile needs no signal-mask calls around sendfile(2). What is left is the library's
 * cost per request, which the epoll + sendfile baseline is compared with.
 * usage: gh_file_quiet [-p PORT] [-r ROOT]
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "greenhub.h"
#include "quiet_server.h"

static int root_fd;

/* The regular file PATH beneath ROOT (a leading '/' means ROOT), or -1. */
static int open_served_file(const char *path, gh_file_info *info)
{
    while (*path == '/')
        path++;
    int fd = gh_open_beneath(root_fd, *path ? path : ".", O_RDONLY | O_NONBLOCK, info);
    if (fd == -1 || S_ISREG(info->mode))
        return fd;
    close(fd);
    return -1;
}

static int connection_handler(void *arg)
{
    gh_sock sock = (gh_sock)(intptr_t)arg;
    char filepath[4097];
    ssize_t len = gh_read_until(sock, "\0", 1, filepath, sizeof filepath);
    gh_file_info info;
    int fd = len > 0 && filepath[len - 1] == '\0' ? open_served_file(filepath, &info) : -1;
    if (fd != -1) {
        for (int64_t sent = 0; sent < info.size;) {
            ssize_t n = gh_sendfile(sock, fd, sent, (size_t)(info.size - sent));
            if (n <= 0)
                break;
            sent += n;
        }
        close(fd);
    }
    gh_close(sock);
    return 0;
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
    if (root_fd == -1) {
        perror(root);
        return 1;
    }
    return serve_forever(port, connection_handler);
}
