/* Independent closed-loop echo client, to cross-check bench/loadgen (issue #5).
 *
 * Written without reading bench/loadgen, and built differently on purpose: C, one thread,
 * blocking connects, level-triggered epoll. Each of N connections to 127.0.0.1:PORT sends a
 * 64-byte line (63 bytes + '\n', different each time), waits for the whole echo, checks every
 * byte, and sends the next. After a warm-up it counts completed round trips over a measured
 * window and prints one JSON line.
 *
 * Over the same window it also reads each CPU's busy share (/proc/stat) and, with -P, the
 * server's CPU time (/proc/PID/stat), so a run disturbed by other jobs can be told apart.
 *
 * usage: echo_client -p PORT [-c CONNS] [-s SECONDS] [-w WARMUP] [-P SERVER_PID]
 * exit status: 0 if every connection stayed correct and some round trips completed, else 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define LINE 64
#define MAX_CONNS 20000
#define STALL_S 10.0     /* no round trip at all for this long: give up rather than hang */
#define CONNECT_S 30.0   /* bound on the whole connect phase */
#define MAX_CPUS 64

struct conn {
    int fd;             /* -1 once closed after an error */
    unsigned sent, got; /* bytes of the current line sent / echoed back */
    int want_out;       /* EPOLLOUT registered (a send was short) */
    uint64_t seq;       /* requests made on this connection */
    char line[LINE], echo[LINE];
};

static struct conn *conns;
static int ep, live;
static uint64_t errors;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Busy and total jiffies of each CPU (busy = all but idle and iowait); returns the CPU count. */
static int cpu_jiffies(unsigned long long busy[], unsigned long long total[]) {
    FILE *f = fopen("/proc/stat", "r");
    char row[512];
    int n = 0;
    while (f && n < MAX_CPUS && fgets(row, sizeof row, f)) {
        unsigned long long v[8] = {0};
        if (strncmp(row, "cpu", 3) != 0 || row[3] < '0' || row[3] > '9')
            continue;
        sscanf(row + 3, "%*d %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]);
        total[n] = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
        busy[n] = total[n] - v[3] - v[4];
        n++;
    }
    if (f)
        fclose(f);
    return n;
}

/* utime + stime of a process in seconds, or -1 if it cannot be read. */
static double proc_cpu_seconds(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces; fields follow its ')' */
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The next request: connection id and sequence number, then letters shifted by the sequence,
 * so a server echoing a stale or another connection's line is caught by the byte check. */
static void next_line(struct conn *c, unsigned id) {
    int n = snprintf(c->line, LINE, "%u:%llu:", id, (unsigned long long)c->seq);
    for (int i = n; i < LINE - 1; i++)
        c->line[i] = (char)('a' + (unsigned)(i + c->seq) % 26);
    c->line[LINE - 1] = '\n';
    c->sent = c->got = 0;
    c->seq++;
}

static void fail(struct conn *c) {
    errors++;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    live--;
}

static void set_out(struct conn *c, unsigned id, int on) {
    if (c->want_out == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = id};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = on;
}

/* Sends what is left of the current line; a short send waits for EPOLLOUT. */
static void send_rest(struct conn *c, unsigned id) {
    ssize_t n = send(c->fd, c->line + c->sent, LINE - c->sent, MSG_NOSIGNAL);
    if (n > 0)
        c->sent += (unsigned)n;
    else if (!(n < 0 && (errno == EAGAIN || errno == EINTR))) {
        fail(c);
        return;
    }
    set_out(c, id, c->sent < LINE);
}

/* Reads at most the rest of the expected echo; returns 1 when a round trip completed. */
static int receive(struct conn *c, unsigned id) {
    ssize_t n = recv(c->fd, c->echo + c->got, LINE - c->got, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0 || c->got + (unsigned)n > c->sent) { /* closed, error, or echo ahead of request */
        fail(c);
        return 0;
    }
    c->got += (unsigned)n;
    if (c->got < LINE)
        return 0;
    if (memcmp(c->line, c->echo, LINE) != 0) {
        fail(c);
        return 0;
    }
    next_line(c, id);
    send_rest(c, id);
    return 1;
}

static int open_conn(struct conn *c, unsigned id, int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only, never anything else */
    struct timeval tv = {.tv_sec = 10};          /* bounds a blocking connect */
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = id}; /* level-triggered */
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    live++;
    return 0;
}

int main(int argc, char **argv) {
    int port = 0, n = 100, server_pid = 0, opt;
    double seconds = 5, warmup = 1;
    while ((opt = getopt(argc, argv, "p:c:s:w:P:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'c': n = atoi(optarg); break;
        case 's': seconds = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 'P': server_pid = atoi(optarg); break;
        default: goto usage;
        }
    }
    if (port < 1 || port > 65535 || n < 1 || n > MAX_CONNS || !(seconds >= 0.1 && seconds <= 600) ||
        !(warmup >= 0 && warmup <= 60))
        goto usage;

    /* more descriptors than the default 1024 for the larger connection counts */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    conns = calloc((size_t)n, sizeof *conns);
    ep = epoll_create1(0);
    if (!conns || ep < 0) {
        perror("setup");
        return 1;
    }

    double t_connect = now();
    for (int i = 0; i < n; i++) {
        if (now() - t_connect > CONNECT_S || open_conn(&conns[i], (unsigned)i, port) != 0) {
            conns[i].fd = -1;
            errors++;
        }
    }
    /* every connection starts only once all are open, so the warm-up sees the full load */
    for (int i = 0; i < n; i++) {
        if (conns[i].fd >= 0) {
            next_line(&conns[i], (unsigned)i);
            send_rest(&conns[i], (unsigned)i);
        }
    }

    uint64_t done = 0, done0 = 0;
    double start = now(), warm_end = start + warmup, end = warm_end + seconds;
    double t0 = start, cpu0 = cpu_seconds(), last_progress = start;
    static unsigned long long busy0[MAX_CPUS], total0[MAX_CPUS], busy1[MAX_CPUS], total1[MAX_CPUS];
    int ncpu = cpu_jiffies(busy0, total0);
    double srv0 = server_pid > 0 ? proc_cpu_seconds(server_pid) : -1;
    int measuring = warmup <= 0, stalled = 0;
    static struct epoll_event evs[512];
    while (live > 0) {
        double t = now();
        if (!measuring && t >= warm_end) {
            measuring = 1;
            done0 = done;
            t0 = t;
            cpu0 = cpu_seconds();
            ncpu = cpu_jiffies(busy0, total0);
            srv0 = server_pid > 0 ? proc_cpu_seconds(server_pid) : -1;
        }
        if (t >= end)
            break;
        if (t - last_progress > STALL_S) {
            stalled = 1;
            break;
        }
        int k = epoll_wait(ep, evs, 512, 50);
        uint64_t before = done;
        for (int j = 0; j < k; j++) {
            unsigned id = evs[j].data.u32;
            struct conn *c = &conns[id];
            if (c->fd < 0)
                continue;
            if ((evs[j].events & EPOLLOUT) && c->sent < LINE)
                send_rest(c, id);
            if (c->fd >= 0 && (evs[j].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                done += (uint64_t)receive(c, id);
        }
        if (done != before)
            last_progress = t;
    }
    double t1 = now(), cpu1 = cpu_seconds();
    double srv1 = server_pid > 0 ? proc_cpu_seconds(server_pid) : -1;
    if (cpu_jiffies(busy1, total1) != ncpu)
        ncpu = 0;
    if (!measuring) { /* every connection failed during the warm-up: report an empty window */
        t0 = t1;
        cpu0 = cpu1;
        done0 = done;
    }
    double secs = t1 - t0;
    uint64_t trips = done - done0;
    int ok = errors == 0 && !stalled && trips > 0;
    printf("{\"conns\":%d,\"seconds\":%.3f,\"round_trips\":%llu,\"rps\":%.1f,\"errors\":%llu,"
           "\"client_cpu_pct\":%.1f,\"cpu_busy_pct\":[",
           n, secs, (unsigned long long)trips, secs > 0 ? trips / secs : 0.0,
           (unsigned long long)errors, secs > 0.01 ? 100.0 * (cpu1 - cpu0) / secs : 0.0);
    for (int i = 0; i < ncpu; i++)
        printf("%s%.1f", i ? "," : "", total1[i] > total0[i] ?
               100.0 * (double)(busy1[i] - busy0[i]) / (double)(total1[i] - total0[i]) : 0.0);
    if (srv0 >= 0 && srv1 >= 0 && secs > 0)
        printf("],\"server_cpu_pct\":%.1f", 100.0 * (srv1 - srv0) / secs);
    else
        printf("],\"server_cpu_pct\":null");
    printf(",\"stalled\":%s,\"ok\":%s}\n", stalled ? "true" : "false", ok ? "true" : "false");
    for (int i = 0; i < n; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    return ok ? 0 : 1;

usage:
    fprintf(stderr, "usage: %s -p PORT [-c CONNS 1..%d] [-s SECONDS 0.1..600] [-w WARMUP 0..60] "
            "[-P SERVER_PID]\n", argv[0], MAX_CONNS);
    return 2;
}
