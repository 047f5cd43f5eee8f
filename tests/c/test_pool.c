/* greenhub C API tests: pools of green threads (gh_pool_*). The concurrency limit, spawn
 * blocking while full, wait, resize, stat, free, a pool thread's end freeing its slot. */
#include "harness.h"
#include "support.h"
#include "support_sync.h"

struct pool_ctx {
  int limit;      /* the most that may run at once (for the over-limit count) */
  int sleep_ms;   /* worker: sleep this long ... */
  gh_event go;    /* ... or, if set (> 0), wait for this event */
  int cur, max, over;
  int started, finished, errs;
};

static int pool_worker(void *arg) {
  struct pool_ctx *c = arg;
  c->started++;
  c->cur++;
  if (c->cur > c->max) c->max = c->cur;
  if (c->cur > c->limit) c->over++;
  int rc = c->go > 0 ? gh_event_wait(c->go, NULL, 5000) : gh_sleep(c->sleep_ms);
  if (rc != 0) c->errs++;
  c->cur--;
  c->finished++;
  return 0;
}

struct spawner {
  gh_pool p;
  gh_fn fn;
  void *arg;
  int n;         /* threads to spawn */
  int detached;  /* spawn them detached (else joinable, ids kept) */
  int pre_sleep; /* ms before the first spawn */
  int idx;       /* for the order logs */
  struct pool_ctx *ctx;
  volatile int spawned, done;
  int rc, err;
  gh_thread ids[8];
  double t_spawn[8];
  int finished_at_spawn[8];
};

static int spawner_body(void *arg) {
  struct spawner *s = arg;
  if (s->pre_sleep) gh_sleep(s->pre_sleep);
  gh_deadline_push(5000);
  enq_add(s->idx);
  gh_spawn_opts o;
  opts_init(&o);
  o.detached = s->detached != 0;
  o.name = "pool-worker";
  for (int i = 0; i < s->n && i < 8; i++) {
    errno = 0;
    s->ids[i] = gh_pool_spawn(s->p, s->fn, s->arg, &o);
    if (s->ids[i] <= 0) {
      s->rc = -1;
      s->err = errno;
      break;
    }
    if (i == 0) got_add(s->idx);
    s->t_spawn[i] = now_ms();
    s->finished_at_spawn[i] = s->ctx ? s->ctx->finished : 0;
    s->spawned++;
  }
  gh_deadline_pop();
  s->done = 1;
  return 0;
}

static void spawner_init(struct spawner *s, gh_pool p, struct pool_ctx *ctx, int n) {
  memset(s, 0, sizeof *s);
  s->p = p;
  s->fn = pool_worker;
  s->arg = ctx;
  s->ctx = ctx;
  s->n = n;
  s->detached = 1;
}

TEST(pool_limits_concurrency) {
  enum { N = 10 };
  gh_pool p = gh_pool_new(3);
  REQUIRE(p > 0);
  struct pool_ctx c;
  memset(&c, 0, sizeof c);
  c.limit = 3;
  c.sleep_ms = 10;
  gh_thread t[N];
  double ts[N];
  gh_deadline_push(ROOT_DEADLINE_MS);
  double t0 = now_ms();
  for (int i = 0; i < N; i++) {
    errno = 0;
    t[i] = gh_pool_spawn(p, pool_worker, &c, NULL); /* blocks the root while 3 run */
    ts[i] = now_ms() - t0;
    if (t[i] <= 0) {
      th_fail(__FILE__, __LINE__, errno, "gh_pool_spawn #%d", i);
      gh_deadline_pop();
      return;
    }
  }
  CHECK_EQ(gh_pool_wait(p), 0);
  double el = now_ms() - t0;
  gh_deadline_pop();
  CHECKF(c.finished == N, "gh_pool_wait returned with %d of %d threads finished", c.finished, N);
  CHECKF(c.max == 3 && c.over == 0, "pool of 3: at most %d ran at once (%d times over 3), want "
         "exactly 3", c.max, c.over);
  CHECK_EQ(c.errs, 0);
  CHECKF(ts[2] < 5, "the first 3 spawns took %.1f ms (the pool had room)", ts[2]);
  CHECKF(ts[3] >= 9, "the 4th spawn into a full pool returned after %.1f ms (want >= ~10: it "
         "waits for a slot)", ts[3]);
  CHECKF(el >= 35, "10 threads of 10 ms in a pool of 3 took %.1f ms (want >= ~40: 4 rounds)",
         el);
  for (int i = 0; i < N; i++) CHECK_EQ(JOIN(t[i]), 0); /* NULL opts: joinable */
  int64_t size = -1, running = -1, waiting = -1;
  CHECK_EQ(gh_pool_stat(p, &size, &running, &waiting), 0);
  CHECK(size == 3 && running == 0 && waiting == 0);
  th_note("10 x 10 ms in a pool of 3: %.1f ms", el);
  CHECK_EQ(gh_pool_free(p), 0);
}

TEST(pool_spawn_blocks_while_full) {
  orders_reset();
  gh_pool p = gh_pool_new(2);
  REQUIRE(p > 0);
  struct pool_ctx c;
  memset(&c, 0, sizeof c);
  c.limit = 2;
  c.sleep_ms = 50;
  struct spawner s;
  spawner_init(&s, p, &c, 3);
  double t0 = now_ms();
  gh_thread st = gh_spawn(spawner_body, &s);
  REQUIRE(st > 0);
  CHECK_EQ(gh_sleep(20), 0);
  CHECKF(s.spawned == 2, "spawner into a pool of 2: %d spawn(s) returned after 20 ms, want 2 "
         "(the 3rd waits)", s.spawned);
  int64_t size = -1, running = -1, waiting = -1;
  CHECK_EQ(gh_pool_stat(p, &size, &running, &waiting), 0);
  CHECKF(size == 2 && running == 2 && waiting == 1, "stat: size %lld running %lld waiting %lld, "
         "want 2 2 1", (long long)size, (long long)running, (long long)waiting);
  JOIN(st);
  CHECKF(s.rc == 0 && s.spawned == 3, "spawner: %d spawned, rc %d errno=%s", s.spawned, s.rc,
         th_errname(s.err));
  CHECKF(s.t_spawn[2] - t0 >= 45, "the 3rd spawn returned %.1f ms after the start (want >= ~50, "
         "when a worker ended)", s.t_spawn[2] - t0);
  CHECKF(s.finished_at_spawn[2] >= 1, "the 3rd spawn returned before any worker finished");
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_pool_wait(p), 0);
  gh_deadline_pop();
  CHECK_EQ(c.finished, 3);
  CHECK(c.max == 2 && c.over == 0);
  CHECK_EQ(gh_pool_free(p), 0);

  /* Waiting spawners get in in FIFO order. */
  orders_reset();
  gh_pool q = gh_pool_new(1);
  REQUIRE(q > 0);
  struct pool_ctx g;
  memset(&g, 0, sizeof g);
  g.limit = 1;
  g.go = gh_event_new();
  REQUIRE(g.go > 0);
  gh_spawn_opts det;
  opts_init(&det);
  det.detached = true;
  CHECK(gh_pool_spawn(q, pool_worker, &g, &det) > 0); /* holds the only slot until go */
  enum { M = 3 };
  struct spawner sp[M];
  gh_thread spt[M];
  for (int i = 0; i < M; i++) {
    spawner_init(&sp[i], q, &g, 1);
    sp[i].idx = i;
    sp[i].pre_sleep = 2 + (M - 1 - i) * 8; /* queue in reverse: 2 1 0 */
    spt[i] = gh_spawn(spawner_body, &sp[i]);
    REQUIRE(spt[i] > 0);
  }
  WAIT_FOR(pool_waiting(q) == M, 2000);
  CHECK_EQ(pool_waiting(q), M);
  CHECK_EQ(got_n, 0);
  CHECK_EQ(gh_event_set(g.go, NULL), 0);
  for (int i = 0; i < M; i++) JOIN(spt[i]);
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_pool_wait(q), 0);
  gh_deadline_pop();
  char b1[64], b2[64];
  CHECKF(got_n == M && same_ints(got_order, enq_order, M), "waiting spawners got in as [%s], "
         "want their queueing order [%s]", fmt_ints(b1, sizeof b1, got_order, got_n),
         fmt_ints(b2, sizeof b2, enq_order, enq_n));
  CHECK(g.finished == M + 1 && g.over == 0);
  CHECK_EQ(gh_pool_free(q), 0);
  CHECK_EQ(gh_event_free(g.go), 0);
}

struct pool_waiter {
  gh_pool p;
  struct pool_ctx *ctx;
  int rc, err;
  int finished_at_return;
};

static int pool_wait_body(void *arg) {
  struct pool_waiter *w = arg;
  gh_deadline_push(5000);
  errno = 0;
  w->rc = gh_pool_wait(w->p);
  w->err = errno;
  w->finished_at_return = w->ctx->finished;
  gh_deadline_pop();
  return 0;
}

TEST(pool_wait) {
  /* An empty pool: returns at once, even in the root with no threads. */
  gh_pool e = gh_pool_new(2);
  REQUIRE(e > 0);
  double t0 = now_ms();
  CHECK_EQ(gh_pool_wait(e), 0);
  CHECKF(now_ms() - t0 < 20, "gh_pool_wait on an empty pool took %.1f ms", now_ms() - t0);
  CHECK_EQ(gh_pool_free(e), 0);

  gh_pool p = gh_pool_new(4);
  REQUIRE(p > 0);
  struct pool_ctx c;
  memset(&c, 0, sizeof c);
  c.limit = 4;
  c.sleep_ms = 20;
  gh_spawn_opts det;
  opts_init(&det);
  det.detached = true;
  struct pool_waiter w = {p, &c, -2, 0, -1};
  gh_thread wt = gh_spawn(pool_wait_body, &w); /* a green thread waits too */
  REQUIRE(wt > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  for (int i = 0; i < 6; i++) CHECK(gh_pool_spawn(p, pool_worker, &c, &det) > 0);
  CHECK_EQ(gh_pool_wait(p), 0);
  gh_deadline_pop();
  CHECKF(c.finished == 6, "gh_pool_wait returned with %d of 6 (detached) threads finished",
         c.finished);
  CHECK_EQ(pool_running(p), 0);
  JOIN(wt);
  CHECKF(w.rc == 0 && w.finished_at_return == 6, "gh_pool_wait in a green thread: rc %d "
         "errno=%s with %d of 6 finished", w.rc, th_errname(w.err), w.finished_at_return);
  t0 = now_ms();
  CHECK_EQ(gh_pool_wait(p), 0);
  CHECKF(now_ms() - t0 < 20, "a second gh_pool_wait took %.1f ms", now_ms() - t0);

  /* The deadline applies to gh_pool_wait. */
  c.sleep_ms = 200;
  CHECK(gh_pool_spawn(p, pool_worker, &c, &det) > 0);
  CHECK_EQ(gh_deadline_push(20), 0);
  t0 = now_ms();
  CHECK_ERR(gh_pool_wait(p), ETIMEDOUT);
  double el = now_ms() - t0;
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECKF(el >= 19 && el < 150, "gh_pool_wait under a 20 ms deadline failed after %.1f ms", el);
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_pool_wait(p), 0);
  gh_deadline_pop();
  CHECK_EQ(c.finished, 7);
  CHECK_EQ(gh_pool_free(p), 0);
}

TEST(pool_resize) {
  gh_pool p = gh_pool_new(1);
  REQUIRE(p > 0);
  struct pool_ctx c;
  memset(&c, 0, sizeof c);
  c.limit = 100;
  c.go = gh_event_new();
  REQUIRE(c.go > 0);
  struct spawner s;
  spawner_init(&s, p, &c, 4);
  gh_thread st = gh_spawn(spawner_body, &s);
  REQUIRE(st > 0);
  WAIT_FOR(pool_waiting(p) == 1, 1000);
  CHECK_EQ(s.spawned, 1);
  CHECK_EQ(pool_running(p), 1);
  CHECK_ERR(gh_pool_resize(p, 0), EINVAL);
  CHECK_ERR(gh_pool_resize(p, -1), EINVAL);
  CHECK_EQ(gh_pool_resize(p, 3), 0);
  WAIT_FOR(s.spawned == 3 && c.started == 3, 1000);
  CHECKF(s.spawned == 3, "after resize 1 -> 3: %d spawned, want 3", s.spawned);
  int64_t size = -1, running = -1, waiting = -1;
  CHECK_EQ(gh_pool_stat(p, &size, &running, &waiting), 0);
  CHECKF(size == 3 && running == 3 && waiting == 1, "after resize to 3: size %lld running %lld "
         "waiting %lld, want 3 3 1", (long long)size, (long long)running, (long long)waiting);
  CHECK_EQ(gh_pool_resize(p, 5), 0);
  WAIT_FOR(s.done, 1000);
  CHECKF(s.spawned == 4 && s.rc == 0, "after resize to 5: %d spawned (rc %d errno=%s), want 4",
         s.spawned, s.rc, th_errname(s.err));
  CHECK_EQ(gh_pool_stat(p, &size, &running, &waiting), 0);
  CHECKF(size == 5 && running == 4 && waiting == 0, "after resize to 5: size %lld running %lld "
         "waiting %lld, want 5 4 0", (long long)size, (long long)running, (long long)waiting);
  JOIN(st);

  /* Shrinking: the running threads go on; new spawns wait until fewer than the new size run. */
  CHECK_EQ(gh_pool_resize(p, 1), 0);
  CHECK_EQ(pool_running(p), 4);
  struct spawner s2;
  spawner_init(&s2, p, &c, 1);
  gh_thread st2 = gh_spawn(spawner_body, &s2);
  REQUIRE(st2 > 0);
  CHECK_EQ(gh_sleep(20), 0);
  CHECKF(s2.spawned == 0, "a spawn got in while 4 threads run in a pool shrunk to 1");
  CHECK_EQ(pool_waiting(p), 1);
  CHECK_EQ(gh_event_set(c.go, NULL), 0);
  JOIN(st2);
  CHECKF(s2.spawned == 1 && s2.finished_at_spawn[0] == 4, "spawn into the shrunk pool: spawned "
         "%d with %d of the 4 running threads finished (want all 4)", s2.spawned,
         s2.finished_at_spawn[0]);
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_pool_wait(p), 0);
  gh_deadline_pop();
  CHECK_EQ(c.finished, 5);
  CHECK_EQ(c.errs, 0);
  CHECK_EQ(gh_pool_stat(p, &size, NULL, NULL), 0);
  CHECK_EQ(size, 1);
  CHECK_EQ(gh_pool_free(p), 0);
  CHECK_EQ(gh_event_free(c.go), 0);
}

TEST(pool_stat_free_invalid) {
  CHECK_ERR(gh_pool_new(0), EINVAL);
  CHECK_ERR(gh_pool_new(-1), EINVAL);
  gh_pool p = gh_pool_new(2);
  REQUIRE(p > 0);
  CHECK_EQ(gh_pool_stat(p, NULL, NULL, NULL), 0);
  int64_t size = -1, running = -1, waiting = -1;
  CHECK_EQ(gh_pool_stat(p, &size, &running, &waiting), 0);
  CHECK(size == 2 && running == 0 && waiting == 0);
  struct pool_ctx c;
  memset(&c, 0, sizeof c);
  c.limit = 2;
  c.go = gh_event_new();
  REQUIRE(c.go > 0);
  /* Failed spawns take no slot. */
  CHECK_ERR(gh_pool_spawn(p, NULL, &c, NULL), EINVAL);
  gh_spawn_opts small;
  opts_init(&small);
  small.stack_size = 100;
  CHECK_ERR(gh_pool_spawn(p, pool_worker, &c, &small), EINVAL);
  CHECK_EQ(pool_running(p), 0);
  gh_thread w1 = gh_pool_spawn(p, pool_worker, &c, NULL);
  gh_thread w2 = gh_pool_spawn(p, pool_worker, &c, NULL);
  REQUIRE(w1 > 0 && w2 > 0);
  CHECK_EQ(pool_running(p), 2);
  struct spawner s;
  spawner_init(&s, p, &c, 1);
  gh_thread st = gh_spawn(spawner_body, &s);
  REQUIRE(st > 0);
  WAIT_FOR(pool_waiting(p) == 1, 1000);
  CHECK_EQ(pool_waiting(p), 1);
  double t0 = now_ms();
  CHECK_EQ(gh_pool_free(p), 0);
  WAIT_FOR(s.done, 1000);
  CHECKF(s.done && s.rc == -1 && s.err == EBADF, "spawner waiting while the pool is freed: done "
         "%d rc %d errno=%s, want EBADF", s.done, s.rc, th_errname(s.err));
  CHECKF(now_ms() - t0 < 200, "the waiting spawner woke %.1f ms after gh_pool_free",
         now_ms() - t0);
  /* The running threads go on. */
  CHECK_EQ(c.finished, 0);
  CHECK_EQ(gh_event_set(c.go, NULL), 0);
  CHECK_EQ(JOIN(w1), 0);
  CHECK_EQ(JOIN(w2), 0);
  CHECK_EQ(c.finished, 2);
  JOIN(st);
  size = 42;
  CHECK_ERR(gh_pool_stat(p, &size, NULL, NULL), EBADF);
  CHECK_EQ(size, 42);
  CHECK_ERR(gh_pool_spawn(p, pool_worker, &c, NULL), EBADF);
  CHECK_ERR(gh_pool_wait(p), EBADF);
  CHECK_ERR(gh_pool_resize(p, 3), EBADF);
  CHECK_ERR(gh_pool_free(p), EBADF);
  const gh_pool bad[] = {0, -1, 0x7fffffff, INT64_MAX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_ERR(gh_pool_stat(bad[i], NULL, NULL, NULL), EBADF);
    CHECK_ERR(gh_pool_spawn(bad[i], pool_worker, &c, NULL), EBADF);
    CHECK_ERR(gh_pool_free(bad[i]), EBADF);
  }
  CHECK_EQ(gh_event_free(c.go), 0);
}

/* Gets a socket through opts.sock and returns at once. */
static int own_sock_body(void *arg) {
  (void)arg;
  return 0; /* returns at once: the pool thread's socket must be closed as it ends */
}

static int event_wait_forever_body(void *arg) {
  errno = 0;
  return gh_event_wait((gh_event)(intptr_t)arg, NULL, -1) == 0 ? 0 : errno;
}

TEST(pool_wait_root_edeadlk) {
  gh_pool p = gh_pool_new(2);
  gh_event ev = gh_event_new();
  REQUIRE(p > 0 && ev > 0);
  gh_spawn_opts det;
  opts_init(&det);
  det.detached = true;
  REQUIRE(gh_pool_spawn(p, event_wait_forever_body, (void *)(intptr_t)ev, &det) > 0);
  /* The pool's only thread waits for an event nothing can set: no deadline here. */
  double t0 = now_ms();
  CHECK_ERR(gh_pool_wait(p), EDEADLK);
  CHECKF(now_ms() - t0 < 1000, "EDEADLK took %.1f ms", now_ms() - t0);
  CHECK_EQ(pool_running(p), 1);
  CHECK_EQ(gh_event_set(ev, NULL), 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_pool_wait(p), 0);
  gh_deadline_pop();
  CHECK_EQ(pool_running(p), 0);
  CHECK_EQ(gh_pool_free(p), 0);
  CHECK_EQ(gh_event_free(ev), 0);
}

TEST(pool_spawner_kill_deadline_sock) {
  gh_pool p = gh_pool_new(1);
  REQUIRE(p > 0);
  struct pool_ctx c;
  memset(&c, 0, sizeof c);
  c.limit = 1;
  c.go = gh_event_new();
  REQUIRE(c.go > 0);
  gh_thread w = gh_pool_spawn(p, pool_worker, &c, NULL); /* holds the slot until go */
  REQUIRE(w > 0);
  /* A waiting spawner that is killed leaves the queue with ECANCELED... */
  struct spawner k, after;
  spawner_init(&k, p, &c, 1);
  spawner_init(&after, p, &c, 1);
  after.pre_sleep = 5;
  gh_thread tk = gh_spawn(spawner_body, &k);
  gh_thread ta = gh_spawn(spawner_body, &after);
  REQUIRE(tk > 0 && ta > 0);
  WAIT_FOR(pool_waiting(p) == 2, 1000);
  CHECK_EQ(pool_waiting(p), 2);
  CHECK_EQ(gh_kill(tk), 0);
  WAIT_FOR(k.done, 1000);
  CHECKF(k.done && k.rc == -1 && k.err == ECANCELED, "killed waiting spawner: done %d rc %d "
         "errno=%s, want ECANCELED", k.done, k.rc, th_errname(k.err));
  CHECK_EQ(pool_waiting(p), 1);
  JOIN(tk);
  /* ... and the deadline applies to that wait. */
  CHECK_EQ(gh_deadline_push(20), 0);
  double t0 = now_ms();
  CHECK_ERR(gh_pool_spawn(p, pool_worker, &c, NULL), ETIMEDOUT);
  double el = now_ms() - t0;
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECKF(el >= 19 && el < 300, "gh_pool_spawn into a full pool under a 20 ms deadline failed "
         "after %.1f ms", el);
  CHECK_EQ(pool_waiting(p), 1);
  CHECK_EQ(pool_running(p), 1);
  /* The remaining spawner gets the slot once the worker ends; nobody else took it. */
  CHECK_EQ(gh_event_set(c.go, NULL), 0);
  JOIN(ta);
  CHECKF(after.spawned == 1, "the spawner queued behind a killed one did not get in (rc %d "
         "errno=%s)", after.rc, th_errname(after.err));
  CHECK_EQ(JOIN(w), 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_pool_wait(p), 0);
  gh_deadline_pop();
  CHECK_EQ(c.finished, 2);

  /* opts.sock as in gh_spawn_ex: the pool thread owns it and it is closed when it ends. */
  gh_sock a, b;
  REQUIRE(make_pair(&a, &b) == 0);
  gh_spawn_opts o;
  opts_init(&o);
  o.sock = b;
  gh_thread t = gh_pool_spawn(p, own_sock_body, NULL, &o);
  REQUIRE(t > 0);
  CHECK_EQ(JOIN(t), 0);
  CHECK_ERR(gh_close(b), EBADF); /* closed with its owner */
  char buf[4];
  gh_settimeout(a, 2000);
  CHECK_EQ(gh_recv(a, buf, sizeof buf), 0); /* the peer sees EOF */
  gh_close(a);
  CHECK_EQ(gh_pool_free(p), 0);
  CHECK_EQ(gh_event_free(c.go), 0);
}

static int exit3_body(void *arg) {
  (void)arg;
  gh_exit(3);
  return 99;
}

TEST(pool_slot_freed_on_kill_and_exit) {
  static struct logcap cap;
  memset(&cap, 0, sizeof cap);
  gh_set_log(log_capture, &cap); /* two threads end with a non-zero status here */
  gh_pool p = gh_pool_new(1);
  REQUIRE(p > 0);
  gh_event never = gh_event_new();
  REQUIRE(never > 0);
  gh_thread a = gh_pool_spawn(p, event_block_body, (void *)(intptr_t)never, NULL);
  REQUIRE(a > 0);
  int64_t a_id = gh_thread_id(a); /* reports name threads by their short id */
  struct spawner s1, s2;
  spawner_init(&s1, p, NULL, 1);
  s1.fn = exit3_body;
  s1.detached = 0;
  spawner_init(&s2, p, NULL, 1);
  s2.fn = sleep_ms_body;
  s2.arg = (void *)(intptr_t)1;
  s2.detached = 0;
  s2.pre_sleep = 5;
  gh_thread t1 = gh_spawn(spawner_body, &s1);
  gh_thread t2 = gh_spawn(spawner_body, &s2);
  REQUIRE(t1 > 0 && t2 > 0);
  WAIT_FOR(pool_waiting(p) == 2, 1000);
  CHECK_EQ(pool_waiting(p), 2);
  CHECK_EQ(gh_kill(a), 0); /* a killed pool thread gives its slot back ... */
  JOIN(t1);
  CHECKF(s1.spawned == 1, "after killing the pool's only thread, the waiting spawner did not get "
         "in (rc %d errno=%s)", s1.rc, th_errname(s1.err));
  JOIN(t2); /* ... and so does one that called gh_exit */
  CHECKF(s2.spawned == 1, "after a pool thread called gh_exit, the waiting spawner did not get in "
         "(rc %d errno=%s)", s2.rc, th_errname(s2.err));
  CHECK_EQ(JOIN(a), ECANCELED);
  if (s1.spawned == 1) CHECK_EQ(JOIN(s1.ids[0]), 3);
  if (s2.spawned == 1) CHECK_EQ(JOIN(s2.ids[0]), 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_pool_wait(p), 0);
  gh_deadline_pop();
  CHECK_EQ(pool_running(p), 0);
  CHECK_EQ(gh_pool_free(p), 0);
  CHECK_EQ(gh_event_free(never), 0);
  gh_set_log(NULL, NULL);
  /* Pool threads are reported like any other: status 125 (ECANCELED) and 3 (gh_exit). */
  CHECKF(cap.calls == 2 && text_has_number(cap.first, a_id) && text_has_number(cap.first, ECANCELED)
         && text_has_number(cap.second, 3), "reports of the killed (status %d) and exited "
         "(status 3) pool threads: %d line(s): \"%s\" / \"%s\"", ECANCELED, cap.calls,
         cap.first, cap.second);
}
