/* greenhub C API tests: limits of handles and arguments. Lengths no buffer can have, option
 * lengths past GH_SOCKOPT_MAX, a handle slot freed 2^24 times, counters at their maximum, names
 * that do not resolve. Each must give a clear errno and leave everything else working. */
#include "harness.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>

#define ROOT_DEADLINE_MS 10000

/* A slot is reused with a new generation each time; after its 2^24 - 1 generations it is
 * retired. Before, the generation wrapped and the first handle named the 2^24-th semaphore. */
static void test_freed_handle_never_names_another_object(void) {
  gh_sem first = gh_sem_new(7);
  REQUIRE(first > 0);
  CHECK_EQ(gh_sem_free(first), 0);
  long same = 0, reused_slot = 0;
  const long rounds = (1L << 24) + 16;
  double t0 = now_ms();
  for (long i = 0; i < rounds; i++) {
    gh_sem s = gh_sem_new(1);
    if (s <= 0) {
      th_fail(__FILE__, __LINE__, errno, "gh_sem_new failed after %ld rounds", i);
      return;
    }
    if (s == first) same++;
    if ((s & 0xffffff) == (first & 0xffffff)) reused_slot++;
    gh_sem_free(s);
  }
  th_note("%ld new/free rounds in %.0f ms; the first slot served %ld of them", rounds,
          now_ms() - t0, reused_slot);
  CHECKF(same == 0, "the first handle was handed out again %ld times", same);
  gh_sem live = gh_sem_new(3);
  REQUIRE(live > 0);
  int64_t value = -1;
  CHECK_ERR(gh_sem_stat(first, &value, NULL), EBADF);
  CHECK_EQ(value, -1);
  CHECK_EQ(gh_sem_stat(live, &value, NULL), 0);
  CHECK_EQ(value, 3);
  gh_sem_free(live);
}

const test_case limit_tests[] = {
    {"freed_handle_never_names_another_object", test_freed_handle_never_names_another_object},
    {NULL, NULL},
};
