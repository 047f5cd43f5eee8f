/* Minimal test harness shared by the greenhub C tests (test_api.c holds the runner and main).
 *
 * Every test is a `void fn(void)`; CHECK-style macros record a failure (with file:line and
 * errno) and let the test go on. By default each test runs in its own forked process, so a hang
 * (alarm), a crash (signal) or leftover green threads in one test cannot affect the others.
 * GH_TEST_NOFORK=1 runs everything in one process (handy under a debugger).
 *
 * Green threads run on the calling OS thread, so the failure recorder needs no locking.
 */
#ifndef GH_TEST_HARNESS_H
#define GH_TEST_HARNESS_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "greenhub.h"

typedef void (*test_fn)(void);
typedef struct test_case {
  const char *name;
  test_fn fn;
} test_case;

/* Tables terminated by {NULL, NULL}. */
extern const test_case api_tests[];
extern const test_case thread_tests[];
extern const test_case socket_tests[];
extern const test_case sync_tests[];
extern const test_case limit_tests[];
extern const test_case sched_tests[];
extern const test_case file_tests[];
extern const test_case http_tests[];

#if defined(__GNUC__)
#define TH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TH_PRINTF(a, b)
#endif

/* Records a failure of the current test. err < 0: do not append errno. */
void th_fail(const char *file, int line, int err, const char *fmt, ...) TH_PRINTF(4, 5);
/* An informational line printed under the test's result ("# name: ..."). */
void th_note(const char *fmt, ...) TH_PRINTF(1, 2);
/* Number of failures recorded so far in the current test. */
int th_failures(void);
/* Symbolic name of an errno value ("EBADF"), or "E?<n>". */
const char *th_errname(int e);

/* ---- checks ---- */

#define CHECK(cond)                                                             \
  do {                                                                          \
    if (!(cond)) {                                                              \
      int th_e_ = errno;                                                        \
      th_fail(__FILE__, __LINE__, th_e_, "check failed: %s", #cond);            \
    }                                                                           \
  } while (0)

/* CHECKF(cond, fmt, ...): like CHECK with a formatted explanation. */
#define CHECKF(cond, ...)                                                       \
  do {                                                                          \
    if (!(cond)) {                                                              \
      int th_e_ = errno;                                                        \
      th_fail(__FILE__, __LINE__, th_e_, __VA_ARGS__);                          \
    }                                                                           \
  } while (0)

/* Integer equality, printing both values. */
#define CHECK_EQ(a, b)                                                          \
  do {                                                                          \
    long long th_a_ = (long long)(a), th_b_ = (long long)(b);                   \
    if (th_a_ != th_b_) {                                                       \
      int th_e_ = errno;                                                        \
      th_fail(__FILE__, __LINE__, th_e_, "%s == %s: got %lld, want %lld", #a,   \
              #b, th_a_, th_b_);                                                \
    }                                                                           \
  } while (0)

/* expr must fail with -1 and errno == e. Evaluates to nothing; errno is reset before. */
#define CHECK_ERR(expr, e)                                                      \
  do {                                                                          \
    errno = 0;                                                                  \
    long long th_r_ = (long long)(expr);                                        \
    int th_e_ = errno;                                                          \
    if (th_r_ != -1 || th_e_ != (e))                                            \
      th_fail(__FILE__, __LINE__, -1,                                           \
              "%s: got %lld errno=%s, want -1 errno=%s", #expr, th_r_,          \
              th_errname(th_e_), th_errname(e));                                \
  } while (0)

/* expr must fail with -1 and errno e1 or e2. */
#define CHECK_ERR2(expr, e1, e2)                                                \
  do {                                                                          \
    errno = 0;                                                                  \
    long long th_r_ = (long long)(expr);                                        \
    int th_e_ = errno;                                                          \
    if (th_r_ != -1 || (th_e_ != (e1) && th_e_ != (e2)))                        \
      th_fail(__FILE__, __LINE__, -1,                                           \
              "%s: got %lld errno=%s, want -1 errno=%s or %s", #expr, th_r_,    \
              th_errname(th_e_), th_errname(e1), th_errname(e2));               \
  } while (0)

/* expr must not return a negative value (i.e. succeed). */
#define CHECK_OK(expr)                                                          \
  do {                                                                          \
    errno = 0;                                                                  \
    long long th_r_ = (long long)(expr);                                        \
    int th_e_ = errno;                                                          \
    if (th_r_ < 0)                                                              \
      th_fail(__FILE__, __LINE__, -1, "%s: failed with %lld errno=%s", #expr,   \
              th_r_, th_errname(th_e_));                                        \
  } while (0)

/* Like CHECK, then `return` (from a void test) if it failed. */
#define REQUIRE(cond)                                                           \
  do {                                                                          \
    if (!(cond)) {                                                              \
      int th_e_ = errno;                                                        \
      th_fail(__FILE__, __LINE__, th_e_, "required: %s (test aborted)", #cond); \
      return;                                                                   \
    }                                                                           \
  } while (0)

/* ---- shared helpers (test_api.c) ---- */

/* Monotonic clock in milliseconds. */
double now_ms(void);

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

/* Fills opts with zeros (the defaults). */
void opts_init(gh_spawn_opts *opts);

/* true if the text contains n as a whole decimal token (not part of a longer number). */
int text_has_number(const char *text, long long n);

#endif /* GH_TEST_HARNESS_H */
