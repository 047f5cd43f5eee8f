/* greenhub C API tests: handles of semaphores, events, channels and pools. Never mixed up
 * across kinds; refused on another OS thread. */
#include "harness.h"
#include "support.h"
#include "support_sync.h"

#include <pthread.h>

struct foreign_sync {
  gh_sem s;
  gh_event e;
  gh_chan c;
  gh_pool p;
  int rc[6], err[6];
};

static void *foreign_sync_main(void *arg) {
  struct foreign_sync *f = arg;
  errno = 0;
  f->rc[0] = gh_sem_release(f->s);
  f->err[0] = errno;
  errno = 0;
  f->rc[1] = gh_event_set(f->e, NULL);
  f->err[1] = errno;
  errno = 0;
  f->rc[2] = gh_chan_try_send(f->c, NULL);
  f->err[2] = errno;
  errno = 0;
  f->rc[3] = gh_pool_stat(f->p, NULL, NULL, NULL);
  f->err[3] = errno;
  errno = 0;
  f->rc[4] = gh_sem_free(f->s);
  f->err[4] = errno;
  errno = 0;
  f->rc[5] = gh_chan_close(f->c);
  f->err[5] = errno;
  return NULL;
}

TEST(sem_event_chan_pool_handle_kinds) {
  gh_sem s = gh_sem_new(0);
  gh_event e = gh_event_new();
  gh_chan c = gh_chan_new(4);
  gh_pool p = gh_pool_new(1);
  REQUIRE(s > 0 && e > 0 && c > 0 && p > 0);
  /* A handle of one kind is not a handle of another. */
  CHECK_ERR(gh_sem_release(e), EBADF);
  CHECK_ERR(gh_sem_release(c), EBADF);
  CHECK_ERR(gh_sem_release(p), EBADF);
  CHECK_ERR(gh_event_set(s, NULL), EBADF);
  CHECK_ERR(gh_event_set(c, NULL), EBADF);
  CHECK_ERR(gh_event_is_set(p), EBADF);
  CHECK_ERR(gh_chan_try_send(s, NULL), EBADF);
  CHECK_ERR(gh_chan_try_send(e, NULL), EBADF);
  CHECK_ERR(gh_chan_try_send(p, NULL), EBADF);
  CHECK_ERR(gh_pool_stat(s, NULL, NULL, NULL), EBADF);
  CHECK_ERR(gh_pool_stat(c, NULL, NULL, NULL), EBADF);
  CHECK_ERR(gh_sem_free(c), EBADF);
  CHECK_ERR(gh_chan_free(s), EBADF);
  CHECK_ERR(gh_event_free(p), EBADF);
  CHECK_ERR(gh_pool_free(e), EBADF);
  gh_thread t = gh_spawn(sleep_ms_body, (void *)(intptr_t)1);
  REQUIRE(t > 0);
  CHECK_ERR(gh_sem_release(t), EBADF);
  CHECK_ERR(gh_chan_try_send(t, NULL), EBADF);
  CHECK_EQ(JOIN(t), 0);
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  CHECK_ERR(gh_sem_release(l), EBADF);
  CHECK_ERR(gh_event_set(l, NULL), EBADF);
  CHECK_ERR(gh_chan_try_send(l, NULL), EBADF);
  CHECK_ERR(gh_pool_stat(l, NULL, NULL, NULL), EBADF);
  CHECK_ERR(gh_serve(s, echo_handler, NULL, 1), EBADF); /* a semaphore is not a listener */
  gh_close(l);
  /* Nothing above changed anything. */
  CHECK_EQ(sem_value(s), 0);
  CHECK_EQ(gh_event_is_set(e), 0);
  CHECK_EQ(chan_len(c), 0);
  CHECK_EQ(pool_running(p), 0);

  /* Another OS thread gets EBADF for this hub's handles. */
  struct foreign_sync f;
  memset(&f, 0, sizeof f);
  f.s = s;
  f.e = e;
  f.c = c;
  f.p = p;
  pthread_t pt;
  REQUIRE(pthread_create(&pt, NULL, foreign_sync_main, &f) == 0);
  pthread_join(pt, NULL);
  static const char *const what[6] = {"gh_sem_release", "gh_event_set", "gh_chan_try_send",
                                      "gh_pool_stat", "gh_sem_free", "gh_chan_close"};
  for (int i = 0; i < 6; i++)
    CHECKF(f.rc[i] == -1 && f.err[i] == EBADF, "%s from another OS thread: %d errno=%s, want "
           "EBADF", what[i], f.rc[i], th_errname(f.err[i]));
  CHECK_EQ(sem_value(s), 0);
  CHECK_EQ(gh_event_is_set(e), 0);
  CHECK_EQ(chan_len(c), 0);
  CHECK_EQ(gh_chan_try_send(c, NULL), 0); /* not closed */
  CHECK_EQ(gh_sem_free(s), 0);
  CHECK_EQ(gh_event_free(e), 0);
  CHECK_EQ(gh_chan_free(c), 0);
  CHECK_EQ(gh_pool_free(p), 0);
}
