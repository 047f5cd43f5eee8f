/* idle_conns: memory per idle connection, and how many green threads can be live at once.
 * The clients are another process (loadgen hold), so this process holds one fd per connection.
 *
 *   -m mem    -n N  accept N connections, one detached green thread each, blocked in gh_recv
 *                   into a 4 KiB buffer on its stack (like the echo handler's line buffer);
 *                   then RSS delta / N is the memory per idle connection.
 *   -m probe  -n MAX  the same, until spawn fails, MAX threads, or no connection comes for 3 s
 *                   (the fd limit stops accept: the library backs off on EMFILE). After a
 *                   failed spawn it ends one thread and spawns again, to show it recovered.
 *   -m threads -n MAX  no connections: detached threads parked in gh_park (each touching 4 KiB
 *                   of stack) until spawn fails or MAX; then the same recovery check.
 * It prints "LISTENING <port>" once it listens (not in threads mode), then one JSON line.
 * usage: idle_conns -m mem|probe|threads -n N [-p PORT]
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common.h"
#include "greenhub.h"

#ifndef IDLE_BUF
#define IDLE_BUF 4096 /* the handler's receive buffer, on its stack */
#endif

static long live;          /* threads that reached their blocking call */
static gh_thread *threads; /* every thread started, for the recovery check */

static int idle_handler(void *arg)
{
    gh_sock sock = (gh_sock)(intptr_t)arg;
    char buf[IDLE_BUF];
    live++;
    while (gh_recv(sock, buf, sizeof buf) > 0) {
    }
    live--;
    gh_close(sock);
    return 0;
}

static int parked(void *arg)
{
    (void)arg;
    volatile char buf[4096];
    memset((char *)buf, 1, sizeof buf);
    live++;
    gh_park(NULL);
    live--;
    return buf[100] == 1 ? 0 : 1;
}

static const char *errname(int e)
{
    switch (e) {
    case 0: return "";
    case ENOMEM: return "ENOMEM";
    case EAGAIN: return "EAGAIN";
    case EMFILE: return "EMFILE";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return strerror(e);
    }
}

int main(int argc, char **argv)
{
    const char *mode = "mem";
    long n = 10000, port = 0;
    int opt;
    while ((opt = getopt(argc, argv, "m:n:p:")) != -1) {
        if (opt == 'm')
            mode = optarg;
        else if (opt == 'n')
            n = atol(optarg);
        else if (opt == 'p')
            port = atol(optarg);
        else {
            fprintf(stderr, "usage: %s -m mem|probe|threads -n N [-p PORT]\n", argv[0]);
            return 2;
        }
    }
    int is_mem = strcmp(mode, "mem") == 0, is_probe = strcmp(mode, "probe") == 0;
    int is_threads = strcmp(mode, "threads") == 0;
    if (!(is_mem || is_probe || is_threads) || n < 1 || n > 1000000 || port < 0 || port > 65535) {
        fprintf(stderr, "idle_conns: bad arguments\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);

    /* Warm-up: the hub exists and a stack has been used, so the baseline RSS holds the fixed
     * costs of the library and only per-thread costs come after it. */
    gh_thread w = gh_spawn(parked, NULL);
    if (w == -1 || gh_yield() == -1 || gh_unpark(w, NULL) == -1 || gh_join(w, NULL) == -1) {
        perror("warm-up");
        return 1;
    }
    live = 0;

    gh_sock server = 0;
    if (!is_threads) {
        server = gh_listen("127.0.0.1", (uint16_t)port, 4096);
        gh_addr local;
        if (server == -1 || gh_local_addr(server, &local) == -1) {
            perror("gh_listen");
            return 1;
        }
        printf("LISTENING %u\n", (unsigned)local.port);
        fflush(stdout);
    }
    if ((threads = calloc((size_t)n, sizeof *threads)) == NULL) {
        perror("calloc");
        return 1;
    }
    long rss0 = status_kb("VmRSS:"), maps0 = map_count();
    double t0 = now_ns();

    long count = 0;
    int spawn_err = 0, stop_err = 0;
    const char *stopped = "limit";
    while (count < n) {
        gh_thread t;
        gh_sock sock = 0;
        if (!is_threads) {
            /* mem: the clients are all coming; probe: 3 s without one means they stopped */
            gh_deadline_push(is_mem ? 20000 : 3000);
            sock = gh_accept(server, NULL);
            int err = errno;
            gh_deadline_pop();
            if (sock == -1) {
                stop_err = err;
                stopped = "accept";
                break;
            }
            gh_spawn_opts o = {.sock = sock, .detached = true};
            t = gh_spawn_ex(idle_handler, (void *)(intptr_t)sock, &o);
        } else {
            t = gh_spawn(parked, NULL);
        }
        if (t == -1) {
            spawn_err = errno;
            stopped = "spawn";
            if (sock > 0)
                gh_close(sock);
            break;
        }
        threads[count++] = t;
        if (count % 256 == 0 && gh_yield() == -1) /* let them reach their blocking call */
            break;
    }
    gh_sleep(200); /* every thread now waits in gh_recv / gh_park */
    double secs = (now_ns() - t0) / 1e9;
    long rss1 = status_kb("VmRSS:"), maps1 = map_count();

    /* After a failed spawn: end one thread, then a spawn must work again. */
    const char *recovered = "null";
    if (spawn_err && count > 0) {
        if (is_threads)
            gh_unpark(threads[count - 1], NULL); /* it returns; its stack goes back to the pool */
        else
            gh_kill(threads[count - 1]); /* its gh_recv fails with ECANCELED: it returns */
        gh_sleep(50);
        gh_thread t = gh_spawn(parked, NULL);
        recovered = t != -1 ? "true" : "false";
        if (t != -1 && (gh_yield() == -1 || gh_unpark(t, NULL) == -1 || gh_join(t, NULL) == -1))
            recovered = "false";
    }
    printf("{\"bench\":\"idle_conns\",\"mode\":\"%s\",\"requested\":%ld,\"count\":%ld,\"live\":%ld,"
           "\"stopped_by\":\"%s\",\"spawn_errno\":\"%s\",\"stop_errno\":\"%s\",\"recovered\":%s,"
           "\"rss_before_kb\":%ld,\"rss_after_kb\":%ld,\"bytes_per_thread\":%.0f,"
           "\"maps_before\":%ld,\"maps_after\":%ld,\"nofile_soft\":%llu,\"nofile_hard\":%llu,"
           "\"seconds\":%.2f,\"rss_by_mapping_size\":",
           mode, n, count, live, stopped, errname(spawn_err), errname(stop_err), recovered, rss0,
           rss1, count ? (double)(rss1 - rss0) * 1024.0 / (double)count : 0.0, maps0, maps1,
           (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, secs);
    print_rss_by_mapping_size(stdout);
    char pages[1025];
    stack_residency((long)(gh_get_stack_size() / 1024), pages, sizeof pages);
    printf(",\"stack_pages_low_to_high\":\"%s\"}\n", pages);
    fflush(stdout);
    return 0; /* exit closes every connection */
}
