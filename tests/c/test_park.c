/* greenhub C API tests: gh_park and gh_unpark. The value handed over, an unpark kept for a
 * later park, deadlines, the root, kills, bad handles, and unpark never ending another wait. */
#include "harness.h"
#include "support.h"
#include "support_sync.h"

TEST(park_unpark_value) {
  struct op o;
  op_init(&o, 0, -1, 0);
  o.deadline = 5000;
  gh_thread t = gh_spawn(park_body, &o);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(30), 0);
  CHECKF(o.started && !o.done, "gh_park returned with nobody unparking (rc %d errno=%s)", o.rc,
         th_errname(o.err));
  CHECK_EQ(gh_unpark(t, &marker_a), 0);
  JOIN(t);
  CHECK_OP(o, 0, "park woken by unpark");
  CHECKF(o.val == &marker_a, "park returned value %p, want %p", o.val, (void *)&marker_a);
  CHECKF(o.el >= 29, "park returned after %.1f ms, before the unpark at ~30 ms", o.el);
}

static int park_null_body(void *arg) {
  struct op *o = arg;
  gh_deadline_push(5000);
  o->started = 1;
  errno = 0;
  o->rc = gh_park(NULL);
  o->err = errno;
  gh_deadline_pop();
  o->done = 1;
  return 0;
}

struct park2 {
  int pre_sleep;
  int rc1, err1, rc2, err2;
  double el1, el2;
  void *v1, *v2;
};

static int park_twice_body(void *arg) {
  struct park2 *p = arg;
  if (p->pre_sleep) gh_sleep(p->pre_sleep);
  gh_deadline_push(1000);
  double t0 = now_ms();
  errno = 0;
  p->rc1 = gh_park(&p->v1);
  p->err1 = errno;
  p->el1 = now_ms() - t0;
  gh_deadline_pop();
  gh_deadline_push(30);
  t0 = now_ms();
  errno = 0;
  p->rc2 = gh_park(&p->v2);
  p->err2 = errno;
  p->el2 = now_ms() - t0;
  gh_deadline_pop();
  return 0;
}

TEST(park_unpark_before_park) {
  /* Unparked before it even started: its first park returns at once with the value; the token
   * is used up, so the second park waits (until its deadline). */
  struct park2 p;
  memset(&p, 0, sizeof p);
  p.v1 = p.v2 = UNTOUCHED;
  gh_thread t = gh_spawn(park_twice_body, &p);
  REQUIRE(t > 0);
  CHECK_EQ(gh_unpark(t, &marker_a), 0);
  JOIN(t);
  CHECKF(p.rc1 == 0 && p.v1 == &marker_a, "first park after an early unpark: rc %d errno=%s "
         "value %p (want %p)", p.rc1, th_errname(p.err1), p.v1, (void *)&marker_a);
  CHECKF(p.el1 < 20, "first park after an early unpark took %.1f ms (want at once)", p.el1);
  CHECKF(p.rc2 == -1 && p.err2 == ETIMEDOUT, "second park (token used up): rc %d errno=%s, want "
         "ETIMEDOUT", p.rc2, th_errname(p.err2));
  CHECKF(p.v2 == UNTOUCHED, "a timed out park wrote the value");

  /* Two unparks while it sleeps: one token is kept, the later value replaces the earlier. */
  memset(&p, 0, sizeof p);
  p.v1 = p.v2 = UNTOUCHED;
  p.pre_sleep = 20;
  t = gh_spawn(park_twice_body, &p);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(5), 0); /* it is in gh_sleep(20) now */
  CHECK_EQ(gh_unpark(t, &marker_a), 0);
  CHECK_EQ(gh_unpark(t, &marker_b), 0);
  JOIN(t);
  CHECKF(p.rc1 == 0 && p.v1 == &marker_b, "park after two unparks: rc %d errno=%s value %p "
         "(want the later %p; the earlier was %p)", p.rc1, th_errname(p.err1), p.v1,
         (void *)&marker_b, (void *)&marker_a);
  CHECKF(p.el1 < 20, "park with a pending unpark took %.1f ms", p.el1);
  CHECKF(p.rc2 == -1 && p.err2 == ETIMEDOUT, "second park after two unparks: rc %d errno=%s, "
         "want ETIMEDOUT (only one token is kept)", p.rc2, th_errname(p.err2));

  /* gh_park(NULL) is allowed. */
  struct op o;
  op_init(&o, 0, -1, 0);
  t = gh_spawn(park_null_body, &o);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(5), 0);
  CHECK_EQ(gh_unpark(t, &marker_c), 0);
  JOIN(t);
  CHECK_OP(o, 0, "gh_park(NULL)");
}

TEST(park_deadline) {
  struct op o;
  op_init(&o, 0, -1, 0);
  o.deadline = 20;
  gh_thread t = gh_spawn(park_body, &o);
  REQUIRE(t > 0);
  JOIN(t);
  CHECK_OP(o, ETIMEDOUT, "park under gh_deadline_push(20)");
  CHECKF(o.el >= 19 && o.el < 300, "the 20 ms deadline fired after %.1f ms", o.el);
  CHECKF(o.val == UNTOUCHED, "a timed out park wrote the value");
  /* The root parks under a deadline: it is a timer, so ETIMEDOUT. */
  void *v = UNTOUCHED;
  CHECK_EQ(gh_deadline_push(20), 0);
  double t0 = now_ms();
  errno = 0;
  int rc = gh_park(&v);
  int e = errno;
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECKF(rc == -1 && e == ETIMEDOUT, "root gh_park under a 20 ms deadline: %d errno=%s", rc,
         th_errname(e));
  CHECKF(now_ms() - t0 < 300, "root park under a 20 ms deadline took %.1f ms", now_ms() - t0);
  CHECK(v == UNTOUCHED);
  /* Root, no threads, no deadline: nothing can unpark it. */
  t0 = now_ms();
  CHECK_ERR(gh_park(&v), EDEADLK);
  CHECKF(now_ms() - t0 < 1000, "EDEADLK took %.1f ms", now_ms() - t0);
}

struct unparker {
  gh_thread target;
  int delay_ms;
  void *value;
  int rc, err;
};

static int unparker_body(void *arg) {
  struct unparker *u = arg;
  if (gh_sleep(u->delay_ms) != 0) return 1;
  errno = 0;
  u->rc = gh_unpark(u->target, u->value);
  u->err = errno;
  return 0;
}

TEST(park_root) {
  /* 0 names the root: a green thread unparks the parked root. */
  struct unparker u = {0, 20, &marker_c, -2, 0};
  gh_thread t = gh_spawn(unparker_body, &u);
  REQUIRE(t > 0);
  void *v = UNTOUCHED;
  gh_deadline_push(ROOT_DEADLINE_MS);
  double t0 = now_ms();
  errno = 0;
  int rc = gh_park(&v);
  int e = errno;
  double el = now_ms() - t0;
  gh_deadline_pop();
  CHECKF(rc == 0 && v == &marker_c, "root gh_park, unparked by a green thread with gh_unpark(0): "
         "rc %d errno=%s value %p (want %p)", rc, th_errname(e), v, (void *)&marker_c);
  CHECKF(el >= 19 && el < 500, "root park returned after %.1f ms (unpark at ~20 ms)", el);
  JOIN(t);
  CHECKF(u.rc == 0, "gh_unpark(0) from a green thread: %d errno=%s", u.rc, th_errname(u.err));
  /* A pending unpark for the root: its next park returns at once. */
  CHECK_EQ(gh_unpark(0, &marker_a), 0);
  v = UNTOUCHED;
  t0 = now_ms();
  CHECK_EQ(gh_park(&v), 0);
  CHECK(v == &marker_a);
  CHECKF(now_ms() - t0 < 20, "root park with a pending unpark took %.1f ms", now_ms() - t0);
  /* Token used up, nobody else: EDEADLK. */
  CHECK_ERR(gh_park(&v), EDEADLK);
}

TEST(park_kill) {
  struct op o;
  op_init(&o, 0, -1, 0);
  o.deadline = 5000;
  gh_thread t = gh_spawn(park_body, &o);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(10), 0);
  CHECK(o.started && !o.done);
  double t0 = now_ms();
  CHECK_EQ(gh_kill(t), 0);
  WAIT_FOR(o.done, 1000);
  CHECK_OP(o, ECANCELED, "killed park");
  CHECKF(now_ms() - t0 < 200, "killed park returned %.1f ms after the kill", now_ms() - t0);
  CHECK(o.val == UNTOUCHED);
  CHECK_EQ(gh_sleep(5), 0); /* it has ended (not joined yet) */
  CHECK_ERR(gh_unpark(t, NULL), EBADF);
  JOIN(t);
}

TEST(park_unpark_ebadf) {
  gh_thread t = gh_spawn(sleep_ms_body, (void *)(intptr_t)5);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(40), 0); /* ended, not joined */
  CHECK_ERR(gh_unpark(t, NULL), EBADF);
  int st = JOIN(t);
  (void)st;
  CHECK_ERR(gh_unpark(t, NULL), EBADF); /* joined: stale */
  const gh_thread bad[] = {-1, -3, 0x7fffffff, INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK_ERR(gh_unpark(bad[i], NULL), EBADF);
  /* Handles of other kinds are not threads. */
  gh_sem s = gh_sem_new(0);
  REQUIRE(s > 0);
  CHECK_ERR(gh_unpark((gh_thread)s, NULL), EBADF);
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  CHECK_ERR(gh_unpark((gh_thread)l, NULL), EBADF);
  gh_close(l);
  CHECK_EQ(gh_sem_free(s), 0);
}

/* A thread blocked in some other wait; unpark must not end that wait. Afterwards the thread's
 * next gh_park returns at once with the value. */
enum { W_SLEEP, W_RECV, W_SEM, W_EVENT, W_CHAN, W_JOIN, W_COUNT };

static const char *const w_names[W_COUNT] = {"gh_sleep(60)", "gh_recv", "gh_sem_acquire",
                                             "gh_event_wait", "gh_chan_recv", "gh_join"};

struct unp {
  int kind;
  int64_t h; /* socket / sem / event / chan / thread */
  volatile int in_wait, wait_done;
  ssize_t wait_rc;
  int wait_err;
  double wait_el;
  char buf[16];
  void *got;
  int park_rc, park_err;
  double park_el;
  void *park_val;
};

static int unp_body(void *arg) {
  struct unp *u = arg;
  gh_deadline_push(5000);
  u->in_wait = 1;
  double t0 = now_ms();
  errno = 0;
  switch (u->kind) {
    case W_SLEEP: u->wait_rc = gh_sleep(60); break;
    case W_RECV: u->wait_rc = gh_recv(u->h, u->buf, sizeof u->buf); break;
    case W_SEM: u->wait_rc = gh_sem_acquire(u->h, -1); break;
    case W_EVENT: u->wait_rc = gh_event_wait(u->h, &u->got, -1); break;
    case W_CHAN: u->wait_rc = gh_chan_recv(u->h, &u->got, -1); break;
    case W_JOIN: u->wait_rc = gh_join(u->h, NULL); break;
  }
  u->wait_err = errno;
  u->wait_el = now_ms() - t0;
  u->wait_done = 1;
  t0 = now_ms();
  errno = 0;
  u->park_val = UNTOUCHED;
  u->park_rc = gh_park(&u->park_val);
  u->park_err = errno;
  u->park_el = now_ms() - t0;
  gh_deadline_pop();
  return 0;
}

/* early: unpark before the thread even starts its wait (a pending token), else while it
 * waits. */
static void unpark_other_waits(int early) {
  for (int kind = 0; kind < W_COUNT; kind++) {
    char name[64];
    snprintf(name, sizeof name, "%s%s", w_names[kind], early ? " (unparked before it)" : "");
    struct unp u;
    memset(&u, 0, sizeof u);
    u.kind = kind;
    u.wait_rc = -2;
    u.got = UNTOUCHED;
    gh_sock a = 0, b = 0;
    gh_thread other = 0;
    switch (kind) {
      case W_RECV:
        if (make_pair(&a, &b) != 0) return;
        u.h = b;
        break;
      case W_SEM: u.h = gh_sem_new(0); break;
      case W_EVENT: u.h = gh_event_new(); break;
      case W_CHAN: u.h = gh_chan_new(1); break;
      case W_JOIN:
        other = gh_spawn(sleep_ms_body, (void *)(intptr_t)60);
        u.h = other;
        break;
      default: break;
    }
    if (kind != W_SLEEP) REQUIRE(u.h > 0);
    gh_thread t = gh_spawn(unp_body, &u);
    REQUIRE(t > 0);
    if (early) CHECK_EQ(gh_unpark(t, &marker_a), 0); /* before it ran */
    CHECK_EQ(gh_sleep(10), 0);
    CHECKF(u.in_wait && !u.wait_done, "%s: not blocked (rc %zd errno=%s)", name, u.wait_rc,
           th_errname(u.wait_err));
    if (!early) CHECK_EQ(gh_unpark(t, &marker_a), 0);
    CHECK_EQ(gh_sleep(30), 0);
    CHECKF(!u.wait_done, "%s was ended by gh_unpark (rc %zd errno=%s after %.1f ms)", name,
           u.wait_rc, th_errname(u.wait_err), u.wait_el);
    /* Now its own event. */
    switch (kind) {
      case W_RECV: CHECK_EQ(gh_sendall(a, "xyz", 3), 0); break;
      case W_SEM: CHECK_EQ(gh_sem_release(u.h), 0); break;
      case W_EVENT: CHECK_EQ(gh_event_set(u.h, &marker_b), 0); break;
      case W_CHAN: CHECK_EQ(gh_chan_try_send(u.h, &marker_b), 0); break;
      default: break; /* sleep and join end by themselves (~60 ms) */
    }
    JOIN(t);
    switch (kind) {
      case W_SLEEP:
        CHECKF(u.wait_rc == 0 && u.wait_el >= 59, "gh_sleep(60) with an unpark in between: rc "
               "%zd errno=%s after %.1f ms", u.wait_rc, th_errname(u.wait_err), u.wait_el);
        break;
      case W_RECV:
        CHECKF(u.wait_rc == 3 && memcmp(u.buf, "xyz", 3) == 0, "gh_recv with an unpark in "
               "between: rc %zd errno=%s", u.wait_rc, th_errname(u.wait_err));
        break;
      case W_EVENT:
      case W_CHAN:
        CHECKF(u.wait_rc == 0 && u.got == &marker_b, "%s with an unpark in between: rc %zd "
               "errno=%s value %p (want %p)", name, u.wait_rc, th_errname(u.wait_err), u.got,
               (void *)&marker_b);
        break;
      default:
        CHECKF(u.wait_rc == 0, "%s with an unpark in between: rc %zd errno=%s", name, u.wait_rc,
               th_errname(u.wait_err));
        break;
    }
    CHECKF(u.park_rc == 0 && u.park_val == &marker_a && u.park_el < 20, "%s: the park after it "
           "should return at once with the pending value: rc %d errno=%s value %p (want %p) "
           "after %.1f ms", name, u.park_rc, th_errname(u.park_err), u.park_val,
           (void *)&marker_a, u.park_el);
    switch (kind) {
      case W_RECV:
        gh_close(a);
        gh_close(b);
        break;
      case W_SEM: gh_sem_free(u.h); break;
      case W_EVENT: gh_event_free(u.h); break;
      case W_CHAN: gh_chan_free(u.h); break;
      default: break;
    }
  }
}

TEST(park_unpark_does_not_wake_other_waits) { unpark_other_waits(0); }

TEST(park_unpark_pending_other_waits) { unpark_other_waits(1); }
