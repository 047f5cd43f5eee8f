/* greenhub C API tests: green thread stacks. The stack size setting and GREENHUB_STACK_SIZE,
 * a stack overflow ending only its thread (GH_STATUS_STACK_OVERFLOW), stacks too big to map. */
#include "harness.h"
#include "support.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int use_stack(void *arg) {
  size_t n = (size_t)(intptr_t)arg;
  volatile char big[n];
  for (size_t i = 0; i < n; i += 256) big[i] = (char)(i >> 8);
  big[n - 1] = 1;
  unsigned sum = 0;
  for (size_t i = 0; i < n; i += 4096) sum += (unsigned char)big[i];
  (void)sum;
  return big[n - 1] == 1 ? 0 : 1;
}

TEST(stack_size_setting) {
  size_t old = gh_get_stack_size();
  CHECKF(old >= 16 * 1024, "default stack size %zu < 16 KiB", old);
  th_note("default stack size: %zu bytes", old);
  CHECK_ERR(gh_set_stack_size(1), EINVAL);
  CHECK_ERR(gh_set_stack_size(0), EINVAL);
  CHECK_ERR(gh_set_stack_size(16 * 1024 - 1), EINVAL);
  CHECK_EQ(gh_get_stack_size(), old);
  CHECK_EQ(gh_set_stack_size(256 * 1024), 0);
  CHECK_EQ(gh_get_stack_size(), 256 * 1024);

  gh_deadline_push(ROOT_DEADLINE_MS);
  /* 128 KiB of locals on the 256 KiB default. */
  gh_thread t = gh_spawn(use_stack, (void *)(intptr_t)(128 * 1024));
  REQUIRE(t > 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECKF(st == 0, "thread using 128 KiB on a 256 KiB stack: status %d", st);

  CHECK_EQ(gh_set_stack_size(16 * 1024), 0); /* the lower bound itself is valid */
  CHECK_EQ(gh_get_stack_size(), 16 * 1024);

  /* A per-spawn stack size overrides the (small) default. */
  CHECK_EQ(gh_set_stack_size(64 * 1024), 0);
  gh_spawn_opts o;
  opts_init(&o);
  o.stack_size = 1024 * 1024;
  t = gh_spawn_ex(use_stack, (void *)(intptr_t)(512 * 1024), &o);
  REQUIRE(t > 0);
  st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECKF(st == 0, "thread using 512 KiB with opts.stack_size = 1 MiB: status %d", st);
  gh_deadline_pop();
  CHECK_EQ(gh_set_stack_size(old), 0);
  CHECK_EQ(gh_get_stack_size(), old);
}

/* Runs this test binary again as "--print-stack-size" with GREENHUB_STACK_SIZE set to value
 * (NULL: unset); returns what it printed (gh_get_stack_size()), or 0 on error. */
static size_t stack_size_in_child(const char *value) {
  int fds[2];
  if (pipe(fds) != 0) return 0;
  pid_t pid = fork();
  if (pid < 0) return 0;
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    if (value)
      setenv("GREENHUB_STACK_SIZE", value, 1);
    else
      unsetenv("GREENHUB_STACK_SIZE");
    char *args[] = {(char *)"test_api", (char *)"--print-stack-size", NULL};
    execv("/proc/self/exe", args);
    _exit(127);
  }
  close(fds[1]);
  char out[64] = "";
  size_t len = 0;
  ssize_t n;
  while (len < sizeof out - 1 && (n = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
    len += (size_t)n;
  out[len] = '\0';
  close(fds[0]);
  int wst;
  waitpid(pid, &wst, 0);
  return (size_t)strtoull(out, NULL, 10);
}

TEST(stack_size_from_env) {
  size_t def = stack_size_in_child(NULL);
  CHECKF(def == 128 * 1024, "default stack size without GREENHUB_STACK_SIZE: %zu, want 131072",
         def);
  size_t k = stack_size_in_child("300k");
  CHECKF(k == 300 * 1024, "GREENHUB_STACK_SIZE=300k: %zu, want 307200", k);
  size_t m = stack_size_in_child("1m");
  CHECKF(m == 1024 * 1024, "GREENHUB_STACK_SIZE=1m: %zu, want 1048576", m);
  size_t b = stack_size_in_child("65536");
  CHECKF(b == 65536, "GREENHUB_STACK_SIZE=65536: %zu, want 65536", b);
  size_t bad = stack_size_in_child("lots");
  th_note("GREENHUB_STACK_SIZE=lots gives %zu; =1000 (below 16 KiB) gives %zu", bad,
          stack_size_in_child("1000"));
  CHECKF(bad >= 16 * 1024, "an unparsable GREENHUB_STACK_SIZE gave a default of %zu", bad);
}

static volatile int recurse_limit = INT_MAX;

static int recurse(int n) {
  volatile char pad[512];
  pad[0] = (char)n;
  pad[511] = (char)(n >> 8);
  if (n >= recurse_limit) return 0;
  return recurse(n + 1) + pad[0] + pad[511];
}

static int overflow_body(void *arg) {
  *(int *)arg = 1;
  return recurse(0);
}

TEST(stack_overflow_status) {
  gh_sock a = 0, b = 0;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  for (int round = 0; round < 2; round++) {
    int started = 0;
    gh_spawn_opts o;
    opts_init(&o);
    o.stack_size = 64 * 1024;
    if (round == 0) o.sock = a; /* the dying thread owns a socket */
    gh_thread t = gh_spawn_ex(overflow_body, &started, &o);
    REQUIRE(t > 0);
    int st = 0;
    CHECK_EQ(gh_join(t, &st), 0);
    CHECK_EQ(started, 1);
    CHECKF(st == INT32_MIN, "round %d: status of a thread that overflowed its stack: %d, want "
           "GH_STATUS_STACK_OVERFLOW", round, st);
  }
  /* Its socket was closed: the handle is stale and the peer sees EOF. */
  CHECK_ERR(gh_fileno(a), EBADF);
  char c;
  gh_settimeout(b, 2000);
  CHECK_EQ(gh_recv(b, &c, 1), 0);
  /* The process goes on. */
  gh_thread u = gh_spawn(return_arg, (void *)(intptr_t)11);
  REQUIRE(u > 0);
  int st = -1;
  CHECK_EQ(gh_join(u, &st), 0);
  CHECK_EQ(st, 11);
  gh_close(b);
  gh_deadline_pop();
}

TEST(spawn_huge_stack) {
  gh_spawn_opts o;
  opts_init(&o);
  int flag = 0;

  o.stack_size = (size_t)1 << 62; /* beyond the address space */
  CHECK_ERR2(gh_spawn_ex(set_flag, &flag, &o), ENOMEM, EAGAIN);

  o.stack_size = SIZE_MAX; /* page rounding must not wrap around */
  errno = 0;
  gh_thread t = gh_spawn_ex(set_flag, &flag, &o);
  int e = errno;
  CHECKF(t == -1 && (e == ENOMEM || e == EAGAIN || e == EINVAL),
         "stack_size SIZE_MAX: got %lld errno=%s, want -1 ENOMEM/EAGAIN (or EINVAL)",
         (long long)t, th_errname(e));

  o.stack_size = (size_t)1 << 46; /* 64 TiB */
  errno = 0;
  t = gh_spawn_ex(set_flag, &flag, &o);
  e = errno;
  if (t == -1) {
    CHECKF(e == ENOMEM || e == EAGAIN, "stack_size 1<<46: errno=%s, want ENOMEM or EAGAIN",
           th_errname(e));
  } else {
    th_fail(__FILE__, __LINE__, -1,
            "gh_spawn_ex with stack_size 1<<46 (64 TiB) succeeded (id %lld), want -1 "
            "ENOMEM/EAGAIN", (long long)t);
    if (t > 0) {
      int st = -1;
      CHECK_EQ(gh_join(t, &st), 0);
    }
  }

  /* A huge default is either refused or makes the spawns fail cleanly. */
  size_t old = gh_get_stack_size();
  errno = 0;
  if (gh_set_stack_size((size_t)1 << 62) == 0) {
    CHECK_ERR2(gh_spawn(set_flag, &flag), ENOMEM, EAGAIN);
    CHECK_EQ(gh_set_stack_size(old), 0);
  } else {
    th_note("gh_set_stack_size(1<<62) refused: errno=%s", th_errname(errno));
  }
  CHECK_EQ(gh_get_stack_size(), old);

  /* The process is fine afterwards. */
  flag = 0;
  t = gh_spawn(set_flag, &flag);
  REQUIRE(t > 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(flag, 1);
}
