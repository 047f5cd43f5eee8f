/* What the benchmark's own C servers share (gh_echo_quiet.c, gh_file_quiet.c): the examples'
 * accept loop without its log lines. Listens on every IPv4 address with the examples' backlog
 * (SOMAXCONN) and gives each connection a detached green thread that owns its socket. Returns
 * only when accept is asked to stop, or 1 if it cannot listen. */
#ifndef GH_BENCH_QUIET_SERVER_H
#define GH_BENCH_QUIET_SERVER_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "greenhub.h"

static int serve_forever(long port, gh_fn handler)
{
    gh_sock server = gh_listen(NULL, (uint16_t)port, SOMAXCONN);
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
        if (gh_spawn_ex(handler, (void *)(intptr_t)sock, &opts) == -1)
            gh_close(sock);
    }
    gh_close(server);
    return 0;
}

#endif
