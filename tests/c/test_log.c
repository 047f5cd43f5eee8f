/* greenhub C API tests: the report callback (gh_set_log): structured exit reports, and a
 * callback that blocks. */
#include "harness.h"
#include "support.h"

#include <stdlib.h>
#include <unistd.h>

struct logcap {
  int calls;
  int bad_newline;
  char lines[16][512];
};

static void log_cb(void *ctx, const gh_report *report) {
  const char *line = report->text;
  struct logcap *c = ctx;
  if (c->calls < 16) snprintf(c->lines[c->calls], sizeof c->lines[0], "%s", line);
  if (line && strchr(line, '\n')) c->bad_newline = 1;
  c->calls++;
}

static int find_log_line(const struct logcap *c, long long id, long long status) {
  for (int i = 0; i < c->calls && i < 16; i++)
    if (text_has_number(c->lines[i], id) && text_has_number(c->lines[i], status)) return i;
  return -1;
}

TEST(log_callback) {
  static struct logcap cap;
  memset(&cap, 0, sizeof cap);
  gh_set_log(log_cb, &cap);
  gh_deadline_push(ROOT_DEADLINE_MS);

  gh_thread t = gh_spawn(return_arg, (void *)(intptr_t)13);
  REQUIRE(t > 0);
  /* Reports name a thread by its short id (gh_thread_id), not by its handle. */
  int64_t tid = gh_thread_id(t);
  CHECKF(tid > 0 && tid < 1000000, "short id %lld of thread %lld", (long long)tid, (long long)t);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 13);
  int i = find_log_line(&cap, tid, 13);
  CHECKF(i >= 0, "no log line mentions thread %lld and status 13 (%d lines; first: \"%s\")",
         (long long)tid, cap.calls, cap.calls ? cap.lines[0] : "");
  CHECKF(i < 0 || !text_has_number(cap.lines[i], t), "the report names the handle: \"%s\"",
         cap.lines[i]);
  if (i >= 0) th_note("log line: \"%s\"", cap.lines[i]);
  CHECKF(!cap.bad_newline, "a log line contains a newline");

  /* A detached thread's failure is logged too. */
  gh_thread d = gh_spawn_n(return_arg, (void *)(intptr_t)9);
  REQUIRE(d > 0);
  int64_t did = gh_thread_id(d);
  CHECK_EQ(gh_run(), 0);
  CHECKF(find_log_line(&cap, did, 9) >= 0, "no log line for detached thread %lld status 9",
         (long long)did);

  int before = cap.calls;
  gh_thread z = gh_spawn(return_arg, (void *)(intptr_t)0);
  REQUIRE(z > 0);
  CHECK_EQ(gh_join(z, &st), 0);
  if (cap.calls != before) th_note("a thread returning 0 was logged: \"%s\"", cap.lines[before]);

  /* NULL restores the default (stderr): the callback is no longer called. */
  gh_set_log(NULL, NULL);
  fflush(stderr);
  char path[] = "/tmp/gh-test-stderr-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  unlink(path);
  int saved = dup(2);
  dup2(fd, 2);
  before = cap.calls;
  gh_thread u = gh_spawn(return_arg, (void *)(intptr_t)14);
  int64_t uid = gh_thread_id(u);
  if (u > 0) gh_join(u, &st);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  REQUIRE(u > 0);
  CHECKF(cap.calls == before, "the callback was called after gh_set_log(NULL, NULL)");
  char text[4096];
  ssize_t n = pread(fd, text, sizeof text - 1, 0);
  close(fd);
  text[n > 0 ? n : 0] = '\0';
  CHECKF(text_has_number(text, uid) && text_has_number(text, 14),
         "default log (stderr) has no line with thread %lld and status 14: \"%.200s\"",
         (long long)uid, text);
  gh_deadline_pop();
}

struct blocking_log {
  int calls;
  int rc, err;
  int yield_rc, yield_err;
};

static void blocking_log_cb(void *ctx, const gh_report *report) {
  struct blocking_log *b = ctx;
  (void)report;
  if (b->calls++ == 0) {
    errno = 0;
    b->rc = gh_sleep(1);
    b->err = errno;
  }
}

TEST(log_callback_must_not_block) {
  static struct blocking_log b;
  memset(&b, 0, sizeof b);
  b.rc = -2;
  gh_set_log(blocking_log_cb, &b);
  gh_thread t = gh_spawn(return_arg, (void *)(intptr_t)3);
  REQUIRE(t > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(gh_run(), 0);
  gh_deadline_pop();
  gh_set_log(NULL, NULL);
  CHECKF(b.calls >= 1, "the log callback was not called for a thread returning 3");
  CHECKF(b.rc == -1 && b.err == EDEADLK,
         "gh_sleep inside the log callback: %d errno=%s, want EDEADLK", b.rc, th_errname(b.err));
  /* The hub still works. */
  CHECK_EQ(gh_sleep(1), 0);
}
