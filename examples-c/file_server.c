/* file_server: the C version of the "Error Handling" program of "Fast, easy, event driven
 * servers in Python with Eventlet". A client sends a path ending in a NUL byte and gets that
 * file back, read from inside ROOT only. When a handler fails, only its green thread dies.
 * usage: file_server [-h HOST] [-p PORT] [-r ROOT]   (defaults: 6000, the current directory)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "greenhub.h"

static int root_fd;  /* the served directory: every request is resolved beneath it */

/* Opens the regular file PATH inside ROOT; -1 with errno set if it cannot be served. Only this
 * green thread waits for the open, however slow the filesystem: the others keep being served. */
static int open_served_file(const char *path, gh_file_info *info)
{
    while (*path == '/')  /* a leading '/' means ROOT... */
        path++;
    if (*path == '\0')
        path = ".";       /* ...which is a directory, so it is refused below */

    /* The library resolves PATH beneath ROOT only: "..", absolute symlinks and symlinks leading
     * out of ROOT are refused (EXDEV), and so are magic links. O_NONBLOCK: opening a FIFO must
     * not wait for a writer (regular files ignore it). */
    int fd = gh_open_beneath(root_fd, path, O_RDONLY | O_NONBLOCK, info);
    if (fd == -1 && errno == ENOSYS)  /* Linux < 5.6 cannot confine the path: refuse */
        fprintf(stderr, "no openat2 in this kernel: refusing to serve '%s'\n", path);
    if (fd == -1 && errno == EXDEV)   /* RESOLVE_BENEATH's "cross-device link": an escape */
        errno = EACCES;
    if (fd == -1)
        return -1;
    if (S_ISREG(info->mode))
        return fd;
    close(fd);  /* no directories, FIFOs or devices */
    errno = S_ISDIR(info->mode) ? EISDIR : EINVAL;
    return -1;
}

/* Runs in its own green thread, which owns the client socket. */
static int connection_handler(void *arg)
{
    gh_sock sock = (gh_sock)(intptr_t)arg;
    char filepath[4097];  /* a path of up to 4096 bytes, then its NUL */

    ssize_t len = gh_read_until(sock, "\0", 1, filepath, sizeof filepath);
    if (len <= 0 || filepath[len - 1] != '\0') {
        gh_close(sock);  /* EOF, error or no NUL in time: no request to answer, so no failure */
        return 0;
    }
    printf("client requested: %s\n", filepath);

    gh_file_info info;
    int fd = open_served_file(filepath, &info);
    if (fd == -1) {
        /* Fail like the Python version's uncaught IOError: the library reports the non-zero
         * status and closes the socket this thread owns. We leave the socket open on purpose
         * to show that clean-up; the other clients never notice. */
        int err = errno;
        fprintf(stderr, "IOError: [Errno %d] %s: '%s'\n", err, strerror(err), filepath);
        return err;
    }
    /* gh_sendfile never blocks the hub on the file (uncached data is read on the thread pool)
     * and lets the others run after each 1 MiB, so one big or slow download stalls nobody. */
    for (int64_t sent = 0; sent < info.size;) {
        ssize_t n = gh_sendfile(sock, fd, sent, (size_t)(info.size - sent));
        if (n <= 0)
            break;  /* 0: the file shrank meanwhile; -1: the client went away */
        sent += n;
    }
    close(fd);
    gh_close(sock);
    return 0;
}

int main(int argc, char **argv)
{
    long port = 6000;
    const char *host = NULL;  /* all IPv4 addresses */
    const char *root = ".";
    char *end = NULL;
    int opt;

    while ((opt = getopt(argc, argv, "h:p:r:")) != -1) {
        if (opt == 'p')
            port = strtol(optarg, &end, 10);
        else if (opt == 'r')
            root = optarg;
        else if (opt == 'h')
            host = optarg;
        if (opt == '?' || (opt == 'p' && (end == optarg || *end || port < 0 || port > 65535))) {
            fprintf(stderr, "usage: %s [-h HOST] [-p PORT] [-r ROOT]\n", argv[0]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);  /* one line at a time, so the log can be followed live */

    root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd == -1) {
        perror(root);
        return 1;
    }
    /* Without -h, NULL: all IPv4 addresses. The backlog holds a burst of connects while the
     * hub is busy (the kernel caps it at net.core.somaxconn); with 50, a burst of 200 left
     * some half-open. */
    gh_sock server = gh_listen(host, (uint16_t)port, SOMAXCONN);
    if (server == -1) {
        perror("gh_listen");
        return 1;
    }
    gh_addr local;
    if (gh_local_addr(server, &local) == 0)
        port = local.port;  /* with -p 0, report the port we actually got */
    printf("server socket listening on port %ld\n", port);

    for (;;) {
        gh_addr peer;
        gh_sock sock = gh_accept(server, &peer);  /* blocking in main runs the hub */
        if (sock == -1) {
            int err = errno;  /* EMFILE/ENFILE never get here: the library retries them */
            fprintf(stderr, "accept: %s\n", strerror(err));
            if (err == ECANCELED || err == EINTR || err == EBADF || err == EDEADLK)
                break;  /* asked to stop: "except (SystemExit, KeyboardInterrupt): break" */
            continue;   /* one lost client (say, reset before we took it): keep serving */
        }
        printf("accepted ('%s', %u)\n", peer.host, (unsigned)peer.port);

        /* The new thread owns the socket; detached, like eventlet.spawn_n: nobody joins it. */
        gh_spawn_opts opts = {.sock = sock, .detached = true};
        if (gh_spawn_ex(connection_handler, (void *)(intptr_t)sock, &opts) == -1) {
            perror("gh_spawn_ex");  /* no stack left: turn this client away, keep the others */
            gh_close(sock);
        }
    }
    gh_close(server);
    return 0;
}
