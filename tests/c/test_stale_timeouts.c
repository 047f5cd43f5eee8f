/* greenhub C API tests: a wait satisfied before its timeout or deadline leaves nothing behind
 * (semaphores, events, channels, pools, the thread pool): no later spurious wake-up. */
#include "harness.h"
#include "support.h"
#include "support_sync.h"

enum { ST_SEM, ST_EVENT, ST_CHAN_RECV, ST_CHAN_SEND, ST_SEM_DEADLINE, ST_POOL_DEADLINE,
       ST_TPOOL_DEADLINE, ST_COUNT };

static const char *const st_names[ST_COUNT] = {
    "gh_sem_acquire(timeout 50)", "gh_event_wait(timeout 50)", "gh_chan_recv(timeout 50)",
    "gh_chan_send(timeout 50)", "gh_sem_acquire under a 50 ms deadline",
    "gh_pool_spawn under a 50 ms deadline", "gh_tpool_execute under a 50 ms deadline"};

struct stale {
  int kind;
  int64_t h;
  gh_event later; /* set by the root at ~120 ms */
  struct tp_job job;
  int rc1, err1;
  double el1;
  int rc2, err2;
  double el2;
  int rc3, err3;
  double el3;
};

static void *tp_quick_fn(void *arg) {
  sleep_native_ms(10);
  return arg;
}

static int stale_body(void *arg) {
  struct stale *x = arg;
  double t0 = now_ms();
  errno = 0;
  void *it = NULL;
  switch (x->kind) {
    case ST_SEM: x->rc1 = gh_sem_acquire(x->h, 50); break;
    case ST_EVENT: x->rc1 = gh_event_wait(x->h, NULL, 50); break;
    case ST_CHAN_RECV: x->rc1 = gh_chan_recv(x->h, &it, 50); break;
    case ST_CHAN_SEND: x->rc1 = gh_chan_send(x->h, ITEM(2), 50); break;
    case ST_SEM_DEADLINE:
      gh_deadline_push(50);
      x->rc1 = gh_sem_acquire(x->h, -1);
      x->err1 = errno;
      gh_deadline_pop();
      errno = x->err1;
      break;
    case ST_POOL_DEADLINE: {
      gh_deadline_push(50);
      gh_spawn_opts o;
      opts_init(&o);
      o.detached = true;
      gh_thread t = gh_pool_spawn(x->h, sleep_ms_body, (void *)(intptr_t)1, &o);
      x->rc1 = t > 0 ? 0 : -1;
      x->err1 = errno;
      gh_deadline_pop();
      errno = x->err1;
      break;
    }
    case ST_TPOOL_DEADLINE:
      gh_deadline_push(50);
      x->rc1 = gh_tpool_execute(tp_quick_fn, NULL, NULL);
      x->err1 = errno;
      gh_deadline_pop();
      errno = x->err1;
      break;
  }
  x->err1 = errno;
  x->el1 = now_ms() - t0;
  /* Wait for something else past the first wait's timeout (50 ms): a stale timer must not end
   * it. A sleep first, then an event the root sets at ~120 ms. */
  t0 = now_ms();
  errno = 0;
  x->rc2 = gh_sleep(60);
  x->err2 = errno;
  x->el2 = now_ms() - t0;
  t0 = now_ms();
  errno = 0;
  x->rc3 = gh_event_wait(x->later, NULL, 2000);
  x->err3 = errno;
  x->el3 = now_ms() - t0;
  return 0;
}

TEST(sem_chan_event_pool_tpool_stale_timeouts) {
  for (int kind = 0; kind < ST_COUNT; kind++) {
    struct stale x;
    memset(&x, 0, sizeof x);
    x.kind = kind;
    x.rc1 = x.rc2 = x.rc3 = -2;
    x.later = gh_event_new();
    REQUIRE(x.later > 0);
    gh_thread blocker = 0;
    gh_event go = 0;
    switch (kind) {
      case ST_SEM:
      case ST_SEM_DEADLINE: x.h = gh_sem_new(0); break;
      case ST_EVENT: x.h = gh_event_new(); break;
      case ST_CHAN_RECV: x.h = gh_chan_new(1); break;
      case ST_CHAN_SEND:
        x.h = gh_chan_new(1);
        if (x.h > 0) CHECK_EQ(gh_chan_try_send(x.h, ITEM(1)), 0);
        break;
      case ST_POOL_DEADLINE:
        x.h = gh_pool_new(1);
        go = gh_event_new();
        if (x.h > 0 && go > 0)
          blocker = gh_pool_spawn(x.h, event_block_body, (void *)(intptr_t)go, NULL);
        CHECK(blocker > 0);
        break;
      default: x.h = 1; break;
    }
    REQUIRE(x.h > 0);
    gh_thread t = gh_spawn(stale_body, &x);
    REQUIRE(t > 0);
    CHECK_EQ(gh_sleep(10), 0);
    switch (kind) { /* satisfy the first wait at ~10 ms */
      case ST_SEM:
      case ST_SEM_DEADLINE: CHECK_EQ(gh_sem_release(x.h), 0); break;
      case ST_EVENT: CHECK_EQ(gh_event_set(x.h, NULL), 0); break;
      case ST_CHAN_RECV: CHECK_EQ(gh_chan_try_send(x.h, ITEM(1)), 0); break;
      case ST_CHAN_SEND: CHECK_EQ(gh_chan_try_recv(x.h, NULL), 0); break;
      case ST_POOL_DEADLINE: CHECK_EQ(gh_event_set(go, NULL), 0); break;
      default: break; /* the tpool call takes 10 ms by itself */
    }
    CHECK_EQ(gh_sleep(110), 0);
    CHECK_EQ(gh_event_set(x.later, NULL), 0);
    JOIN(t);
    const char *name = st_names[kind];
    CHECKF(x.rc1 == 0 && x.el1 < 45, "%s satisfied at ~10 ms: rc %d errno=%s after %.1f ms", name,
           x.rc1, th_errname(x.err1), x.el1);
    CHECKF(x.rc2 == 0 && x.el2 >= 59, "after %s: gh_sleep(60) returned %d errno=%s after %.1f ms "
           "(a stale timer?)", name, x.rc2, th_errname(x.err2), x.el2);
    CHECKF(x.rc3 == 0, "after %s: an event wait ended with %d errno=%s after %.1f ms (want 0 at "
           "the set, ~50 ms later)", name, x.rc3, th_errname(x.err3), x.el3);
    switch (kind) {
      case ST_SEM:
      case ST_SEM_DEADLINE: gh_sem_free(x.h); break;
      case ST_EVENT: gh_event_free(x.h); break;
      case ST_CHAN_RECV:
      case ST_CHAN_SEND: gh_chan_free(x.h); break;
      case ST_POOL_DEADLINE:
        if (blocker > 0) JOIN(blocker);
        gh_deadline_push(ROOT_DEADLINE_MS);
        gh_pool_wait(x.h);
        gh_deadline_pop();
        gh_pool_free(x.h);
        gh_event_free(go);
        break;
      default: break;
    }
    gh_event_free(x.later);
  }
}
