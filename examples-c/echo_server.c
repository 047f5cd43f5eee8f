/* echo_server: the C version of the first program of "Fast, easy, event driven servers in
 * Python with Eventlet". Each client gets its own green thread running plain sequential code;
 * the hub switches threads only while one of them waits for I/O.
 * usage: echo_server [-h HOST] [-p PORT]   (default 6000; 0 picks a free port)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "greenhub.h"

/* Runs in its own green thread, which owns the client socket. */
static int connection_handler(void *arg)
{
    gh_sock sock = (gh_sock)(intptr_t)arg;
    char line[4096];  /* a longer line is echoed in pieces, so memory stays bounded */
    ssize_t len;

    printf("client connected\n");
    /* pass through every non-eof line; 0 is EOF, -1 an error such as a reset: both end it */
    while ((len = gh_readline(sock, line, sizeof line)) > 0) {
        int shown = line[len - 1] == '\n' ? (int)len - 1 : (int)len;
        printf("echoed %.*s\n", shown, line);
        if (gh_sendall(sock, line, (size_t)len) == -1)
            break;  /* the client went away while we were answering */
    }
    printf("client disconnected\n");
    gh_close(sock);
    return 0;
}

int main(int argc, char **argv)
{
    long port = 6000;
    const char *host = NULL;  /* all IPv4 addresses */
    char *end = NULL;
    int opt;

    while ((opt = getopt(argc, argv, "h:p:")) != -1) {
        if (opt == 'p')
            port = strtol(optarg, &end, 10);
        else if (opt == 'h')
            host = optarg;
        if (opt == '?' || (opt == 'p' && (end == optarg || *end || port < 0 || port > 65535))) {
            fprintf(stderr, "usage: %s [-h HOST] [-p PORT]\n", argv[0]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);  /* one line at a time, so the log can be followed live */

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
