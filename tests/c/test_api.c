/* greenhub C API test suite: runner, shared helpers and the version tests.
 * The thread tests are in test_threads.c, the socket tests in test_sockets.c.
 *
 * Usage: test_api [substring...]   runs the tests whose name contains one of the substrings
 *                                  (all tests without arguments).
 * Output: "ok - name" or "FAIL - name: why (file:line)" per test, "# ..." for notes, then
 * "N passed, N failed". Exit status 0 only if nothing failed.
 * Each test runs in a forked child with alarm(60) (a hang or crash is reported as that test's
 * failure); GH_TEST_NOFORK=1 runs them all in this process instead.
 */
#include "harness.h"

#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

/* ------------------------------------------------------------------------------------------ */
/* failure recording                                                                          */

#define TEST_ALARM_SECONDS 60
#define TEST_KILL_SECONDS 75 /* parent's own limit, in case SIGALRM is blocked or handled */

static int report_fd = -1; /* pipe to the parent (fork mode), -1 in no-fork mode */
static int cur_failures;
static char first_failure[1024];
static int nofork_extra_printed;
static const char *cur_name = "";

static void send_line(char kind, const char *msg) {
  char line[1100];
  int n = snprintf(line, sizeof line, "%c %s", kind, msg);
  if (n < 0) return;
  if ((size_t)n >= sizeof line - 1) n = (int)sizeof line - 2;
  /* no newlines inside a message */
  for (int i = 2; i < n; i++)
    if (line[i] == '\n') line[i] = ' ';
  line[n++] = '\n';
  if (report_fd >= 0) {
    ssize_t w = write(report_fd, line, (size_t)n); /* < PIPE_BUF: atomic */
    (void)w;
  } else if (kind == 'N') {
    printf("# %s: %.*s\n", cur_name, n - 3, line + 2);
  } else if (kind == 'F' && cur_failures > 1 && nofork_extra_printed < 20) {
    nofork_extra_printed++;
    printf("#   also failed: %.*s\n", n - 3, line + 2);
  }
}

void th_fail(const char *file, int line, int err, const char *fmt, ...) {
  char msg[900], full[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  if (err >= 0)
    snprintf(full, sizeof full, "%s [errno=%s] (%s:%d)", msg, th_errname(err), base, line);
  else
    snprintf(full, sizeof full, "%s (%s:%d)", msg, base, line);
  cur_failures++;
  if (cur_failures == 1) snprintf(first_failure, sizeof first_failure, "%s", full);
  send_line('F', full);
}

void th_note(const char *fmt, ...) {
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  send_line('N', msg);
}

int th_failures(void) { return cur_failures; }

const char *th_errname(int e) {
  switch (e) {
#define E_(x) \
  case x:     \
    return #x;
    E_(EPERM) E_(ENOENT) E_(ESRCH) E_(EINTR) E_(EIO) E_(EBADF) E_(EAGAIN) E_(ENOMEM)
    E_(EACCES) E_(EFAULT) E_(EBUSY) E_(EEXIST) E_(EINVAL) E_(EMFILE) E_(ENOSPC) E_(EPIPE)
    E_(ERANGE) E_(EDEADLK) E_(ENOSYS) E_(ENOTSOCK) E_(EDESTADDRREQ) E_(EMSGSIZE)
    E_(ENOPROTOOPT) E_(EPROTONOSUPPORT) E_(EOPNOTSUPP) E_(EAFNOSUPPORT) E_(EADDRINUSE)
    E_(EADDRNOTAVAIL) E_(ENETDOWN) E_(ENETUNREACH) E_(ECONNABORTED) E_(ECONNRESET)
    E_(ENOBUFS) E_(EISCONN) E_(ENOTCONN) E_(ETIMEDOUT) E_(ECONNREFUSED) E_(EHOSTUNREACH)
    E_(EALREADY) E_(EINPROGRESS) E_(ECANCELED) E_(EOVERFLOW) E_(ENXIO) E_(ENODATA)
    E_(EPROTO) E_(EILSEQ)
#undef E_
    case 0:
      return "0";
    default: {
      static char buf[32];
      snprintf(buf, sizeof buf, "E?%d", e);
      return buf;
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* shared helpers                                                                             */

double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

gh_sock listen_local_at(const char *file, int line, uint16_t *port) {
  errno = 0;
  gh_sock l = gh_listen("127.0.0.1", 0, 64);
  if (l <= 0) {
    th_fail(file, line, errno, "gh_listen(\"127.0.0.1\", 0) returned %lld", (long long)l);
    return -1;
  }
  gh_addr a;
  memset(&a, 0, sizeof a);
  if (gh_local_addr(l, &a) != 0 || a.port == 0) {
    th_fail(file, line, errno, "gh_local_addr on a new listener failed (port %u)",
            (unsigned)a.port);
    gh_close(l);
    return -1;
  }
  *port = a.port;
  return l;
}

int make_pair_at(const char *file, int line, gh_sock *a, gh_sock *b) {
  uint16_t port = 0;
  gh_sock l = listen_local_at(file, line, &port);
  if (l < 0) return -1;
  errno = 0;
  gh_sock c = gh_connect("127.0.0.1", port);
  if (c <= 0) {
    th_fail(file, line, errno, "make_pair: gh_connect returned %lld", (long long)c);
    gh_close(l);
    return -1;
  }
  errno = 0;
  gh_sock s = gh_accept(l, NULL);
  if (s <= 0) {
    th_fail(file, line, errno, "make_pair: gh_accept returned %lld", (long long)s);
    gh_close(c);
    gh_close(l);
    return -1;
  }
  gh_close(l);
  *a = c;
  *b = s;
  return 0;
}

size_t recv_exact(gh_sock s, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = gh_recv(s, (char *)buf + got, len - got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  return got;
}

void opts_init(gh_spawn_opts *opts) { memset(opts, 0, sizeof *opts); }

int text_has_number(const char *text, long long n) {
  char num[32];
  snprintf(num, sizeof num, "%lld", n);
  size_t k = strlen(num);
  for (const char *p = text; (p = strstr(p, num)) != NULL; p++) {
    int digit_before = p > text && p[-1] >= '0' && p[-1] <= '9';
    if (n >= 0 && p > text && p[-1] == '-') digit_before = 1; /* "-42" is not 42 */
    int digit_after = p[k] >= '0' && p[k] <= '9';
    if (!digit_before && !digit_after) return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* version tests                                                                              */

#if !defined(GREENHUB_VERSION) || !defined(GREENHUB_VERSION_MAJOR) || \
    !defined(GREENHUB_VERSION_MINOR) || !defined(GREENHUB_VERSION_PATCH)
#error "greenhub.h must define GREENHUB_VERSION and GREENHUB_VERSION_MAJOR/MINOR/PATCH"
#endif

static void test_version(void) {
  const char *v = gh_version();
  REQUIRE(v != NULL);
  CHECKF(strcmp(v, GREENHUB_VERSION) == 0, "gh_version() = \"%s\", GREENHUB_VERSION = \"%s\"", v,
         GREENHUB_VERSION);
  char built[64];
  snprintf(built, sizeof built, "%d.%d.%d", (int)GREENHUB_VERSION_MAJOR,
           (int)GREENHUB_VERSION_MINOR, (int)GREENHUB_VERSION_PATCH);
  CHECKF(strcmp(built, GREENHUB_VERSION) == 0, "MAJOR.MINOR.PATCH = %s, GREENHUB_VERSION = %s",
         built, GREENHUB_VERSION);
  /* The same pointer/text on every call. */
  CHECK(strcmp(gh_version(), v) == 0);
}

static void test_header_constants(void) {
#ifdef GH_STATUS_STACK_OVERFLOW
  long long sso = (long long)GH_STATUS_STACK_OVERFLOW;
  CHECK_EQ(sso, (long long)INT32_MIN);
#else
  th_fail(__FILE__, __LINE__, -1, "GH_STATUS_STACK_OVERFLOW is not defined by greenhub.h");
#endif
  /* Handle types are 64-bit signed; the address struct holds an IPv6 text address. */
  CHECK_EQ(sizeof(gh_sock), 8);
  CHECK_EQ(sizeof(gh_thread), 8);
  CHECK((gh_sock)-1 < 0);
  CHECK((gh_thread)-1 < 0);
  gh_addr a;
  CHECK(sizeof a.host >= 46); /* INET6_ADDRSTRLEN */
#ifdef GH_HOST_MAX
  CHECK_EQ(sizeof a.host, GH_HOST_MAX);
#endif
  CHECK(sizeof a.port == 2);
}

const test_case api_tests[] = {
    {"version", test_version},
    {"header_constants", test_header_constants},
    {NULL, NULL},
};

/* ------------------------------------------------------------------------------------------ */
/* runner                                                                                     */

static const char *signame_of(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGABRT: return "SIGABRT";
    case SIGALRM: return "SIGALRM (hung: alarm fired)";
    case SIGPIPE: return "SIGPIPE";
    case SIGKILL: return "SIGKILL";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGTRAP: return "SIGTRAP";
    default: return "signal";
  }
}

/* Runs one test in a child; prints its result line. Returns 1 if it passed. */
static int run_forked(const test_case *t) {
  int fds[2];
  if (pipe(fds) != 0) {
    printf("FAIL - %s: harness: pipe: %s\n", t->name, strerror(errno));
    return 0;
  }
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    printf("FAIL - %s: harness: fork: %s\n", t->name, strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return 0;
  }
  if (pid == 0) {
    close(fds[0]);
    report_fd = fds[1];
    cur_name = t->name;
    alarm(TEST_ALARM_SECONDS);
    t->fn();
    send_line('D', "done");
    _exit(0);
  }
  close(fds[1]);

  /* Collect the child's lines until EOF or the hard limit. */
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  int timed_out = 0;
  double limit = now_ms() + TEST_KILL_SECONDS * 1000.0;
  for (;;) {
    double left = limit - now_ms();
    if (left <= 0) {
      timed_out = 1;
      break;
    }
    struct pollfd p = {fds[0], POLLIN, 0};
    int pr = poll(&p, 1, (int)left);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    if (len + 4096 > cap) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
    ssize_t n = read(fds[0], buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int wst = 0;
  while (waitpid(pid, &wst, 0) < 0 && errno == EINTR) {
  }

  /* Parse: "F msg", "N msg", "D done". */
  int done = 0, nfail = 0;
  char *first = NULL;
  for (char *line = buf; *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    if (line[0] == 'D') done = 1;
    if (line[0] == 'F') {
      nfail++;
      if (!first) first = line + 2;
    }
    line = nl ? nl + 1 : line + strlen(line);
  }
  char why[1400] = "";
  if (timed_out)
    snprintf(why, sizeof why, "timed out after %d s (killed by the runner)", TEST_KILL_SECONDS);
  else if (WIFSIGNALED(wst))
    snprintf(why, sizeof why, "child died from signal %d %s", WTERMSIG(wst),
             signame_of(WTERMSIG(wst)));
  else if (WIFEXITED(wst) && (WEXITSTATUS(wst) != 0 || !done))
    snprintf(why, sizeof why, "child exited with status %d before the test finished",
             WEXITSTATUS(wst));
  int passed = nfail == 0 && why[0] == '\0';
  if (passed) {
    printf("ok - %s\n", t->name);
  } else if (first) {
    printf("FAIL - %s: %s%s%s\n", t->name, first, why[0] ? "; then " : "", why);
  } else {
    printf("FAIL - %s: %s\n", t->name, why);
  }
  /* Further failures and notes as comments. */
  int extra = 0, skipped_first = 0;
  for (char *line = buf; line < buf + len;) {
    size_t l = strlen(line);
    if (line[0] == 'F') {
      if (!skipped_first) {
        skipped_first = 1;
      } else if (extra < 20) {
        printf("#   also failed: %s\n", line + 2);
        extra++;
      } else {
        extra++;
      }
    } else if (line[0] == 'N') {
      printf("# %s: %s\n", t->name, line + 2);
    }
    line += l + 1;
  }
  if (extra > 20) printf("#   ... and %d more failed checks\n", extra - 20);
  free(buf);
  fflush(stdout);
  return passed;
}

static int run_inline(const test_case *t) {
  cur_failures = 0;
  first_failure[0] = '\0';
  nofork_extra_printed = 0;
  cur_name = t->name;
  alarm(TEST_ALARM_SECONDS);
  /* Output of this test's extra failures/notes comes before its result line here. */
  t->fn();
  alarm(0);
  if (cur_failures == 0) {
    printf("ok - %s\n", t->name);
    return 1;
  }
  printf("FAIL - %s: %s\n", t->name, first_failure);
  return 0;
}

static int selected(const char *name, int argc, char **argv) {
  if (argc <= 1) return 1;
  for (int i = 1; i < argc; i++)
    if (strstr(name, argv[i])) return 1;
  return 0;
}

int main(int argc, char **argv) {
  /* Helper mode for the stack_size_from_env test: print the initial default and exit. */
  if (argc == 2 && strcmp(argv[1], "--print-stack-size") == 0) {
    printf("%zu\n", gh_get_stack_size());
    return 0;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *nf = getenv("GH_TEST_NOFORK");
  int nofork = nf && *nf && strcmp(nf, "0") != 0;
  /* Last resort against a hang: in fork mode every child arms alarm(60) for its test (and the
   * parent kills it after 75 s); in no-fork mode alarm(60) is re-armed before each test. */
  if (nofork) alarm(TEST_ALARM_SECONDS);
  const test_case *tables[] = {api_tests,   thread_tests, socket_tests, sync_tests,
                               limit_tests, sched_tests,  file_tests, http_tests};
  int passed = 0, failed = 0;
  for (size_t k = 0; k < sizeof tables / sizeof tables[0]; k++) {
    for (const test_case *t = tables[k]; t->name; t++) {
      if (!selected(t->name, argc, argv)) continue;
      int ok = nofork ? run_inline(t) : run_forked(t);
      if (ok)
        passed++;
      else
        failed++;
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
