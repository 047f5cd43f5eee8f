/* Helpers the greenhub C tests share (support.c). Helpers only one test file uses live in that
 * file; the synchronization tests' own machinery is in support_sync.h. */
#ifndef GH_TEST_SUPPORT_H
#define GH_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "greenhub.h"

/* Bounds a test's root-level blocking calls: a bug gives ETIMEDOUT (a failure), not a hang. */
#define ROOT_DEADLINE_MS 10000

/* The same for the file tests, whose slow reads (FUSE) take seconds. */
#define DEADLINE_MS 20000

/* ---- time ---- */

/* Monotonic clock in milliseconds. */
double now_ms(void);

/* ---- sockets ---- */

/* A connected TCP pair over 127.0.0.1, both ends owned by the calling thread.
 * Returns 0, or -1 after recording a failure. */
int make_pair_at(const char *file, int line, gh_sock *a, gh_sock *b);
#define make_pair(a, b) make_pair_at(__FILE__, __LINE__, (a), (b))

/* A listener on 127.0.0.1, port 0; writes its port. Returns the socket, or -1 after recording
 * a failure. */
gh_sock listen_local_at(const char *file, int line, uint16_t *port);
#define listen_local(port) listen_local_at(__FILE__, __LINE__, (port))

/* Receives exactly len bytes (loops over gh_recv). Returns the number received before EOF or
 * an error (then errno is set by gh_recv). */
size_t recv_exact(gh_sock s, void *buf, size_t len);

/* Compares what a read returned with the expected bytes. */
void expect_read_at(const char *file, int line, ssize_t got, const char *buf, const char *want);
#define EXPECT_READ(got, buf, want) expect_read_at(__FILE__, __LINE__, (got), (buf), (want))

/* Fills the socket's send path with non-blocking sends until it stays full: some kernels
 * (gVisor's netstack, for one) move loopback data to the peer asynchronously, so a first
 * EAGAIN can be followed by free space a moment later. Returns the bytes sent; *last_err is
 * the errno of the last failed send (EAGAIN expected). Leaves the timeout at 0. */
long long fill_until_full(gh_sock s, int *last_err);

/* A thread body (arg: struct bulk_sender) that sends len bytes with gh_sendall under a root
 * deadline, recording the result. */
struct bulk_sender {
  gh_sock s;
  const char *data;
  size_t len;
  int rc, err;
};
int bulk_sender_body(void *arg);

/* ---- small thread bodies ---- */

/* Fills opts with zeros (the defaults). */
void opts_init(gh_spawn_opts *opts);

/* arg: an int, set to 1. */
int set_flag(void *arg);
/* Returns its argument (an intptr_t) as the status. */
int return_arg(void *arg);
/* Returns 0 at once. */
int return_zero(void *arg);
/* arg: milliseconds; returns 0 if the sleep succeeded, errno otherwise. */
int sleep_then_return(void *arg);

/* arg: an int counting 5 ms sleeps until sleep_ticker_stop is set (or the sleep fails). */
extern volatile int sleep_ticker_stop;
int sleep_ticker_body(void *arg);

/* A green thread that counts its turns: it sleeps `sleep_ms` between them (0: yields). */
struct ticker {
  int sleep_ms;
  volatile int stop;
  long ticks;
  double last, max_gap;
};
int ticker_body(void *arg);

/* ---- the process ---- */

/* Open file descriptors of this process. */
int fd_count(void);

/* true if the text contains n as a whole decimal token (not part of a longer number). */
int text_has_number(const char *text, long long n);

#endif /* GH_TEST_SUPPORT_H */
