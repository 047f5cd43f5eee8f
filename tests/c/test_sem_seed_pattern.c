/* greenhub C API tests: the seed's pattern. No locks between blocking calls; a semaphore
 * around a read-modify-write that blocks. */
#include "harness.h"
#include "support.h"
#include "support_sync.h"

#include <unistd.h>

enum { SEED_THREADS = 50, SEED_APPENDS = 20 };

static int seed_arr[SEED_THREADS * SEED_APPENDS + 16];

static int seed_n;

static int seed_append_body(void *arg) {
  int id = (int)(intptr_t)arg;
  for (int j = 0; j < SEED_APPENDS; j++) {
    seed_arr[seed_n++] = id * SEED_APPENDS + j + 1; /* no lock: no preemption */
    if (gh_yield() != 0) return 1;
  }
  return 0;
}

struct counter_ctx {
  gh_sem sem; /* 0: no semaphore */
  int counter;
  int inside, max_inside;
  int errors;
};

static int counter_body(void *arg) {
  struct counter_ctx *c = arg;
  for (int k = 0; k < 5; k++) {
    if (c->sem && gh_sem_acquire(c->sem, 5000) != 0) {
      c->errors++;
      return 1;
    }
    c->inside++;
    if (c->inside > c->max_inside) c->max_inside = c->inside;
    int v = c->counter; /* read */
    gh_sleep(1);        /* I/O in the middle: other threads run */
    c->counter = v + 1; /* modify-write */
    c->inside--;
    if (c->sem && gh_sem_release(c->sem) != 0) c->errors++;
  }
  return 0;
}

static void run_counter(struct counter_ctx *c, int nthreads) {
  gh_thread t[20];
  for (int i = 0; i < nthreads; i++) {
    t[i] = gh_spawn(counter_body, c);
    if (t[i] <= 0) {
      th_fail(__FILE__, __LINE__, errno, "spawn");
      return;
    }
  }
  for (int i = 0; i < nthreads; i++) CHECK_EQ(JOIN(t[i]), 0);
}

TEST(sem_seed_pattern) {
  seed_n = 0;
  memset(seed_arr, 0, sizeof seed_arr);
  gh_thread t[SEED_THREADS];
  for (int i = 0; i < SEED_THREADS; i++) {
    t[i] = gh_spawn(seed_append_body, (void *)(intptr_t)i);
    REQUIRE(t[i] > 0);
  }
  for (int i = 0; i < SEED_THREADS; i++) CHECK_EQ(JOIN(t[i]), 0);
  const int total = SEED_THREADS * SEED_APPENDS;
  CHECK_EQ(seed_n, total);
  long long sum = 0;
  static unsigned char seen[SEED_THREADS * SEED_APPENDS + 1];
  memset(seen, 0, sizeof seen);
  int dup = 0, out = 0;
  for (int i = 0; i < seed_n && i < total; i++) {
    sum += seed_arr[i];
    if (seed_arr[i] < 1 || seed_arr[i] > total) out++;
    else if (seen[seed_arr[i]]++) dup++;
  }
  CHECKF(sum == (long long)total * (total + 1) / 2 && dup == 0 && out == 0,
         "shared array: sum %lld (want %lld), %d duplicates, %d out of range", sum,
         (long long)total * (total + 1) / 2, dup, out);
  /* Interleaving really happened (each append was followed by a yield). */
  CHECKF(seed_arr[1] != seed_arr[0] + 1, "no interleaving: the first thread appended twice in a "
         "row although it yielded in between");

  /* With a semaphore(1) around read-modify-write that blocks in the middle: exact. */
  struct counter_ctx with;
  memset(&with, 0, sizeof with);
  with.sem = gh_sem_new(1);
  REQUIRE(with.sem > 0);
  run_counter(&with, 20);
  CHECK_EQ(with.errors, 0);
  CHECKF(with.counter == 100, "with a semaphore(1): counter = %d, want 100", with.counter);
  CHECKF(with.max_inside == 1, "with a semaphore(1): %d threads were inside at once",
         with.max_inside);
  CHECK_EQ(sem_value(with.sem), 1);
  CHECK_EQ(gh_sem_free(with.sem), 0);

  /* Without it: updates are lost (shown, not checked). */
  struct counter_ctx without;
  memset(&without, 0, sizeof without);
  run_counter(&without, 20);
  th_note("without the semaphore: counter = %d of 100 (%d updates lost), up to %d threads "
          "inside the read-modify-write at once", without.counter, 100 - without.counter,
          without.max_inside);
}
