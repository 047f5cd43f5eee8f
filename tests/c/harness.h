/* The harness of the greenhub C tests: how a test is declared, registered and checked
 * (runner.c runs them; support.h holds the helpers tests share).
 *
 * A test is `TEST(name) { ... }` in any C file of tests/c: it registers itself before main
 * runs, so no table lists the tests. CHECK-style macros record a failure (with file:line and
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

/* One registered test. The runner orders them by file, then line: a stable order that does not
 * depend on the order the linker runs constructors in. */
typedef struct th_test {
  const char *name;
  void (*fn)(void);
  const char *file;
  int line;
  struct th_test *next;
} th_test;

/* Adds a test to the runner's list (TEST calls it from a constructor). */
void th_register(th_test *t);

/* TEST(name) { body } defines the test "name" (the function test_name) and registers it. */
#define TEST(name)                                                              \
  static void test_##name(void);                                                \
  static th_test th_test_##name = {#name, test_##name, __FILE__, __LINE__, 0};  \
  __attribute__((constructor)) static void th_register_##name(void) {           \
    th_register(&th_test_##name);                                               \
  }                                                                             \
  static void test_##name(void)

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

#endif /* GH_TEST_HARNESS_H */
