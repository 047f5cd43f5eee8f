/* chat_server: every line a client sends goes to every other connected client, in one global
 * order. Each client has two green threads: a reader that broadcasts its lines, and a writer
 * that drains the client's own bounded queue (a greenhub channel) into its socket. A client
 * too slow to keep up fills its queue and is dropped, so it never holds up the others.
 * usage: chat_server [-h HOST] [-p PORT]   (default 6000; 0 picks a free port)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "greenhub.h"

#define MAX_LINE 4096    /* a longer line is cut into pieces of this size, each sent as a line */
#define QUEUE_CAP 256    /* messages waiting for one client; one more and it is dropped */

/* A message is shared by every queue it sits in, never copied per recipient: the last queue
 * done with it frees it. */
struct message {
    int refs;
    size_t len;
    char data[];  /* the line, always ending in '\n' */
};

struct client {
    gh_sock sock;                /* owned by the reader thread */
    gh_chan queue;               /* struct message * items, drained by the writer thread */
    bool gone;                   /* disconnect() ran: out of the registry, queue and socket closed */
    int refs;                    /* the reader and the writer: the last one out frees this */
    struct client *prev, *next;  /* the registry */
};

/* Every connected client. No lock guards it: green threads switch only inside blocking calls,
 * and nothing below blocks while it walks or changes the list (gh_chan_try_send, gh_chan_close
 * and gh_close never wait). The same holds for the reference counts. */
static struct client *clients;

static void message_unref(struct message *m)
{
    if (--m->refs == 0)
        free(m);
}

static void client_unref(struct client *c)
{
    if (--c->refs > 0)
        return;
    gh_chan_free(c->queue);  /* both threads are done with it, and it was drained */
    free(c);
}

/* Takes the client out of the chat; safe to call more than once. Closing the queue ends the
 * writer once it has drained it; closing the socket wakes a reader (or writer) blocked on it
 * with EBADF. */
static void disconnect(struct client *c)
{
    if (c->gone)
        return;
    c->gone = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    gh_chan_close(c->queue);
    gh_close(c->sock);
}

/* Queues one line for every client but its sender. Nothing here blocks, so the message enters
 * every queue at the same point of the global order. */
static void broadcast(struct client *from, const char *line, size_t len)
{
    bool add_newline = line[len - 1] != '\n';  /* a cut piece, or the unterminated last line */
    struct message *m = malloc(sizeof *m + len + 1);
    if (m == NULL)
        return;  /* out of memory: this line is lost, the chat goes on */
    memcpy(m->data, line, len);
    if (add_newline)
        m->data[len++] = '\n';
    m->len = len;
    m->refs = 1;  /* ours, dropped at the end */

    struct client *c, *next;
    for (c = clients; c != NULL; c = next) {
        next = c->next;  /* disconnect() below unlinks c */
        if (c == from)
            continue;
        m->refs++;  /* the queue's reference, dropped by the writer */
        if (gh_chan_try_send(c->queue, m) == 0)
            continue;
        m->refs--;  /* not queued */
        if (errno == EAGAIN) {  /* QUEUE_CAP messages already wait: it does not keep up */
            printf("dropped slow client\n");
            disconnect(c);
        }
    }
    message_unref(m);
}

/* The client's writer thread: sends what its queue holds until the queue is closed. */
static int client_writer(void *arg)
{
    struct client *c = arg;
    void *item;

    while (gh_chan_recv(c->queue, &item, -1) == 0) {  /* -1 (EPIPE): closed and drained */
        struct message *m = item;
        /* waits while the client's socket buffer is full: only this thread waits */
        if (!c->gone && gh_sendall(c->sock, m->data, m->len) == -1)
            disconnect(c);  /* the client went away: its reader wakes up and ends too */
        message_unref(m);
    }
    disconnect(c);  /* in case the receive failed for another reason (say, we were killed) */
    while (gh_chan_try_recv(c->queue, &item) == 0)
        message_unref(item);  /* nothing may stay in the queue when it is freed */
    client_unref(c);
    return 0;
}

/* The client's reader thread, which owns its socket: broadcasts every line it reads. */
static int client_reader(void *arg)
{
    gh_sock sock = (gh_sock)(intptr_t)arg;
    char line[MAX_LINE];
    ssize_t len;

    struct client *c = malloc(sizeof *c);
    if (c == NULL)
        return 1;  /* reported by the library; it closes the socket this thread owns */
    *c = (struct client){.sock = sock, .refs = 2};
    c->queue = gh_chan_new(QUEUE_CAP);
    gh_spawn_opts opts = {.name = "chat writer", .detached = true};
    if (c->queue == -1 || gh_spawn_ex(client_writer, c, &opts) == -1) {
        perror("chat_server: new client");
        if (c->queue != -1)
            gh_chan_free(c->queue);
        free(c);
        return 1;
    }
    c->next = clients;  /* join the chat */
    if (clients)
        clients->prev = c;
    clients = c;
    printf("client connected\n");

    /* 0 is EOF; -1 an error, or EBADF once disconnect() closed the socket: both end it */
    while (!c->gone && (len = gh_readline(sock, line, sizeof line)) > 0) {
        broadcast(c, line, (size_t)len);
        /* A sender that always has data buffered would never block, so the writers would
         * never run and every queue would fill up: let the other threads have a turn. */
        gh_yield();
    }
    disconnect(c);
    printf("client disconnected\n");
    client_unref(c);
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
            int err = errno;
            fprintf(stderr, "accept: %s\n", strerror(err));
            if (err == ECANCELED || err == EINTR || err == EBADF || err == EDEADLK)
                break;
            continue;  /* one lost client: keep serving */
        }
        printf("accepted ('%s', %u)\n", peer.host, (unsigned)peer.port);

        /* The reader owns the socket; it starts the writer itself. */
        gh_spawn_opts opts = {.sock = sock, .name = "chat reader", .detached = true};
        if (gh_spawn_ex(client_reader, (void *)(intptr_t)sock, &opts) == -1) {
            perror("gh_spawn_ex");
            gh_close(sock);
        }
    }
    gh_close(server);
    return 0;
}
