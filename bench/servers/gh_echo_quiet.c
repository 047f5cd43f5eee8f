/* gh_echo_quiet: examples-c/echo_server.c without its log lines ("client connected",
 * "echoed ...": one write(2) each, since the example line-buffers stdout). The same handler
 * otherwise, so the benchmark can tell the library's cost from the example's logging.
 * usage: gh_echo_quiet [-p PORT]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "greenhub.h"
#include "quiet_server.h"

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
    return serve_forever(port, connection_handler);
}
