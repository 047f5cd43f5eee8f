/* A program built against an installed greenhub (tests/install/test_install.py): it checks the
 * version it was compiled with, then echoes a line through a green thread over 127.0.0.1.
 * Prints "greenhub VERSION: echoed LINE" and exits 0, or says what failed and exits 1. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <greenhub.h>

#if !defined(GREENHUB_VERSION_HEX) || GREENHUB_VERSION_HEX < 0x000200
#error "greenhub 0.2.0 or later is required"
#endif

static int echo_once(void *arg)
{
    gh_sock server = (gh_sock)(intptr_t)arg;
    char line[64];
    gh_sock client = gh_accept(server, NULL);
    ssize_t n = client == -1 ? -1 : gh_readline(client, line, sizeof line);
    int status = n > 0 && gh_sendall(client, line, (size_t)n) == 0 ? 0 : 1;
    gh_close(client);
    return status;
}

int main(void)
{
    if (strcmp(gh_version(), GREENHUB_VERSION) != 0) {
        fprintf(stderr, "compiled against %s, running %s\n", GREENHUB_VERSION, gh_version());
        return 1;
    }
    gh_sock server = gh_listen("127.0.0.1", 0, SOMAXCONN);
    gh_addr local;
    if (server == -1 || gh_local_addr(server, &local) == -1) {
        perror("gh_listen");
        return 1;
    }
    gh_thread t = gh_spawn(echo_once, (void *)(intptr_t)server);
    gh_sock sock = gh_connect("127.0.0.1", local.port);
    char reply[64] = {0};
    if (t == -1 || sock == -1 || gh_sendall(sock, "foo\n", 4) == -1 ||
        gh_readline(sock, reply, sizeof reply - 1) != 4) {
        perror("echo");
        return 1;
    }
    int status = -1;
    if (gh_join(t, &status) == -1 || status != 0) {
        fprintf(stderr, "the echo thread failed (status %d)\n", status);
        return 1;
    }
    printf("greenhub %s: echoed %s", gh_version(), reply);
    return 0;
}
