/* greenhub C API tests: gh_spawn and gh_spawn_ex. A new thread starts lazily, at the spawner's
 * next blocking call, in spawn order; bad arguments; 5000 threads at once. */
#include "harness.h"
#include "support.h"

TEST(spawn_runs_on_yield) {
  int flag = 0;
  gh_thread t = gh_spawn(set_flag, &flag);
  REQUIRE(t > 0);
  CHECKF(flag == 0, "the new thread ran inside gh_spawn");
  CHECK_OK(gh_yield());
  CHECKF(flag == 1, "the new thread did not run during the spawner's gh_yield");
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 0);
}

TEST(spawn_runs_on_sleep0) {
  int flag = 0;
  gh_thread t = gh_spawn(set_flag, &flag);
  REQUIRE(t > 0);
  CHECKF(flag == 0, "the new thread ran inside gh_spawn");
  CHECK_EQ(gh_sleep(0), 0);
  CHECKF(flag == 1, "the new thread did not run during the spawner's gh_sleep(0)");
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 0);
}

TEST(spawn_runs_on_join) {
  int flag = 0;
  gh_thread t = gh_spawn(set_flag, &flag);
  REQUIRE(t > 0);
  CHECKF(flag == 0, "the new thread ran inside gh_spawn");
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK(flag == 1);
  CHECK_EQ(st, 0);
}

struct lazy_inner {
  int flag;
  int seen_before_yield;
  int seen_after_yield;
  int join_status;
};

static int lazy_spawner(void *arg) {
  struct lazy_inner *li = arg;
  gh_thread u = gh_spawn(set_flag, &li->flag);
  if (u <= 0) return 1;
  li->seen_before_yield = li->flag;
  gh_yield();
  li->seen_after_yield = li->flag;
  int st = -1;
  if (gh_join(u, &st) != 0) return 2;
  li->join_status = st;
  return 0;
}

TEST(spawn_from_thread_runs_on_yield) {
  struct lazy_inner li = {0, -1, -1, -1};
  gh_thread t = gh_spawn(lazy_spawner, &li);
  REQUIRE(t > 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 0);
  CHECKF(li.seen_before_yield == 0, "a thread spawned by a green thread ran inside gh_spawn");
  CHECKF(li.seen_after_yield == 1, "a thread spawned by a green thread did not run on its yield");
  CHECK_EQ(li.join_status, 0);
}

static int order_buf[64];

static int order_n;

static int append_id(void *arg) {
  if (order_n < 64) order_buf[order_n++] = (int)(intptr_t)arg;
  return 0;
}

TEST(spawn_fifo_order) {
  enum { N = 8 };
  gh_thread t[N];
  order_n = 0;
  for (int i = 0; i < N; i++) {
    t[i] = gh_spawn(append_id, (void *)(intptr_t)i);
    REQUIRE(t[i] > 0);
  }
  CHECKF(order_n == 0, "%d thread(s) ran before the spawner blocked", order_n);
  /* Join in reverse order: the run order must not depend on the join order. */
  for (int i = N - 1; i >= 0; i--) {
    int st = -1;
    CHECK_EQ(gh_join(t[i], &st), 0);
    CHECK_EQ(st, 0);
  }
  CHECK_EQ(order_n, N);
  char got[256] = "";
  int in_order = 1;
  for (int i = 0; i < order_n; i++) {
    if (order_buf[i] != i) in_order = 0;
    size_t l = strlen(got);
    snprintf(got + l, sizeof got - l, "%d ", order_buf[i]);
  }
  CHECKF(in_order, "threads ran in order [%s], want spawn order [0..%d]", got, N - 1);
}

TEST(spawn_null_einval) {
  int dummy = 0;
  CHECK_ERR(gh_spawn(NULL, &dummy), EINVAL);
  CHECK_ERR(gh_spawn_n(NULL, &dummy), EINVAL);
  gh_spawn_opts o;
  opts_init(&o);
  CHECK_ERR(gh_spawn_ex(NULL, &dummy, &o), EINVAL);
  CHECK_EQ(gh_run(), 0);
}

TEST(spawn_ex_options) {
  /* NULL opts: the defaults (joinable). */
  gh_thread t = gh_spawn_ex(return_arg, (void *)(intptr_t)21, NULL);
  REQUIRE(t > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 21);
  /* join with a NULL status pointer */
  t = gh_spawn(return_arg, (void *)(intptr_t)22);
  REQUIRE(t > 0);
  CHECK_EQ(gh_join(t, NULL), 0);
  CHECK_ERR(gh_join(t, NULL), EBADF);
  gh_spawn_opts o;
  opts_init(&o);
  int flag = 0;
  o.stack_size = 1; /* below 16 KiB */
  CHECK_ERR(gh_spawn_ex(set_flag, &flag, &o), EINVAL);
  o.stack_size = 16 * 1024 - 1;
  CHECK_ERR(gh_spawn_ex(set_flag, &flag, &o), EINVAL);
  opts_init(&o);
  o.name = "\xff\xfe bad utf-8";
  CHECK_ERR(gh_spawn_ex(set_flag, &flag, &o), EINVAL);
  CHECK_EQ(gh_run(), 0);
  CHECKF(flag == 0, "a rejected spawn ran its function");
  gh_deadline_pop();
}

static int many_sleep_errno[5000];

static int many_body(void *arg) {
  int i = (int)(intptr_t)arg;
  if (gh_sleep(1) != 0) {
    many_sleep_errno[i] = errno;
    return -1;
  }
  if (i % 2) gh_exit(i % 1000 + 1);
  return i % 1000 + 1;
}

TEST(many_threads_5000) {
  enum { N = 5000 };
  static gh_thread t[N];
  double t0 = now_ms();
  for (int i = 0; i < N; i++) {
    t[i] = gh_spawn(many_body, (void *)(intptr_t)i);
    if (t[i] <= 0) {
      th_fail(__FILE__, __LINE__, errno, "gh_spawn #%d of %d failed", i, N);
      break;
    }
  }
  gh_deadline_push(30000);
  int bad = 0, joined = 0, first_bad = -1, first_st = 0;
  for (int i = 0; i < N && t[i] > 0; i++) {
    int st = -1;
    if (gh_join(t[i], &st) != 0) {
      th_fail(__FILE__, __LINE__, errno, "gh_join of thread #%d failed", i);
      break;
    }
    joined++;
    if (st != i % 1000 + 1) {
      if (bad++ == 0) {
        first_bad = i;
        first_st = st;
      }
    }
  }
  gh_deadline_pop();
  CHECK_EQ(joined, N);
  CHECKF(bad == 0, "%d wrong statuses (first: thread #%d reported %d, want %d; -1 = its "
         "gh_sleep(1) failed with errno %s)", bad, first_bad, first_st, first_bad % 1000 + 1,
         first_bad >= 0 ? th_errname(many_sleep_errno[first_bad]) : "-");
  th_note("5000 threads spawned, slept and joined in %.0f ms", now_ms() - t0);
  CHECK_EQ(gh_run(), 0);
}
