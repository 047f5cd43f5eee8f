/* sync_example: the C version of "Synchronization between threads" from "Fast, easy, event
 * driven servers in Python with Eventlet". A green thread is interrupted only when it waits
 * (for I/O, a timer, another thread), so code between two waits needs no lock. Shared state
 * that is updated *across* a wait does need one: a greenhub semaphore.
 * usage: sync_example   (talks to itself on 127.0.0.1; exits 0 if the guarded results are right)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "greenhub.h"

/* ---- part 1: appending to a shared array between two waits is safe ---- */

#define WORKERS 20  /* n = 1..20: 20! is the largest factorial an unsigned long long holds */

static unsigned long long shared_data[WORKERS];  /* sharedData = [] */
static int shared_len;
static uint16_t port;

/* def worker(sock): one connection, one byte n, n! appended to shared_data */
static int worker(void *arg)
{
    gh_sock sock = (gh_sock)(intptr_t)arg;
    unsigned char n;

    if (gh_recv(sock, &n, 1) != 1)  /* factorial = ord(sock.recv(1)); the thread waits here */
        return 1;
    unsigned long long result = 1;
    for (unsigned i = 1; i <= n; i++)
        result *= i;
    /* No wait between reading shared_len and storing it back: no other thread can run. */
    shared_data[shared_len++] = result;  /* sharedData.append(result) */
    printf("worker: %u! = %llu\n", (unsigned)n, result);
    gh_close(sock);
    return 0;
}

/* The other end: connects to our own listener and sends one byte. */
static int client(void *arg)
{
    unsigned char n = (unsigned char)(intptr_t)arg;
    gh_sock sock = gh_connect("127.0.0.1", port);
    if (sock == -1)
        return 1;
    gh_sleep(n % 4);  /* some take longer: results arrive out of order */
    return gh_sendall(sock, &n, 1) == -1;  /* its socket is closed when the thread ends */
}

static bool factorials(void)
{
    gh_sock server = gh_listen("127.0.0.1", 0, 50);  /* port 0: any free port */
    gh_addr local;
    if (server == -1 || gh_local_addr(server, &local) == -1) {
        perror("listen");
        return false;
    }
    port = local.port;
    for (int n = WORKERS; n >= 1; n--)
        gh_spawn_n(client, (void *)(intptr_t)n);
    for (int i = 0; i < WORKERS; i++) {  /* the accept loop of the seed's servers */
        gh_sock sock = gh_accept(server, NULL);
        if (sock == -1) {
            perror("accept");
            return false;
        }
        gh_spawn_opts opts = {.sock = sock, .detached = true};  /* the worker owns it */
        gh_spawn_ex(worker, (void *)(intptr_t)sock, &opts);
    }
    gh_run();  /* until every worker and client has ended */
    gh_close(server);

    /* shared_data is in arrival order; check that each n! is in it exactly once */
    bool ok = shared_len == WORKERS;
    unsigned long long want = 1;
    for (int n = 1; n <= WORKERS; n++) {
        want *= (unsigned long long)n;
        int seen = 0;
        for (int i = 0; i < shared_len; i++)
            seen += shared_data[i] == want;
        ok = ok && seen == 1;
    }
    printf("shared_data: %d results, %s\n", shared_len, ok ? "all correct" : "WRONG");
    return ok;
}

/* ---- part 2: a read-modify-write with a wait in the middle needs a semaphore ---- */

#define DEPOSITORS 10
#define DEPOSITS 10

static long balance;
static gh_sem lock;  /* a semaphore with one permit: a lock */
static bool use_lock;

/* Each deposit reads the balance, waits (say, a round trip to an audit log server), then
 * writes the balance back. While it waits, the other depositors run. */
static int depositor(void *arg)
{
    (void)arg;
    for (int i = 0; i < DEPOSITS; i++) {
        if (use_lock && gh_sem_acquire(lock, -1) == -1)
            return 1;
        long seen = balance;
        gh_sleep(1);  /* the I/O in the middle: other green threads run now */
        balance = seen + 1;
        if (use_lock)
            gh_sem_release(lock);
    }
    return 0;
}

static long deposit_all(bool with_lock)
{
    balance = 0;
    use_lock = with_lock;
    for (int i = 0; i < DEPOSITORS; i++)
        gh_spawn_n(depositor, NULL);
    gh_run();
    return balance;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);

    printf("part 1: workers append n! to a shared array, no lock\n");
    gh_deadline_push(10000);  /* if a client got lost, accept fails (ETIMEDOUT) instead of hanging */
    bool ok = factorials();
    gh_deadline_pop();

    printf("part 2: %d threads x %d deposits, each reads the balance, waits, writes it back\n",
           DEPOSITORS, DEPOSITS);
    long expected = DEPOSITORS * DEPOSITS;
    long unguarded = deposit_all(false);
    printf("WITHOUT a semaphore (wrong on purpose): balance %ld, expected %ld, %ld deposits lost\n",
           unguarded, expected, expected - unguarded);

    lock = gh_sem_new(1);
    if (lock == -1) {
        perror("gh_sem_new");
        return 1;
    }
    long guarded = deposit_all(true);
    gh_sem_free(lock);
    printf("with a semaphore: balance %ld, expected %ld, %s\n", guarded, expected,
           guarded == expected ? "correct" : "WRONG");
    ok = ok && guarded == expected;

    printf("%s\n", ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
}
