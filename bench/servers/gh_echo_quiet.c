/* gh_echo_quiet: examples-c/echo_server.c without its log lines ("client connected",
 * "echoed ...": one write(2) each, since the example line-buffers stdout). The same handler
 * otherwise, so the benchmark can tell the library's cost from the example's logging.
 * usage: gh_echo_quiet [-p PORT]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "greenhub.h"

static int connection_handler(void *arg)
{
    gh_sock sock = (gh_sock)(intptr_t)arg;
    char line[4096];
    ssize_t len;
    while ((len = gh_readline(sock, line, sizeof line)) > 0)
        if (gh_sendall(sock, line, (size_t)len) == -1)
            break;
    gh_close(sock);
    return 0;
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
    gh_sock server = gh_listen(NULL, (uint16_t)port, SOMAXCONN); /* as the examples */
    if (server == -1) {
        perror("gh_listen");
        return 1;
    }
    for (;;) {
        gh_sock sock = gh_accept(server, NULL);
        if (sock == -1) {
            if (errno == ECANCELED || errno == EINTR || errno == EBADF || errno == EDEADLK)
                break;
            continue;
        }
        gh_spawn_opts opts = {.sock = sock, .detached = true};
        if (gh_spawn_ex(connection_handler, (void *)(intptr_t)sock, &opts) == -1)
            gh_close(sock);
    }
    gh_close(server);
    return 0;
}
