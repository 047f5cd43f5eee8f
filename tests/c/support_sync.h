/* Helpers the greenhub synchronization tests share (support_sync.c): semaphores, events,
 * channels, park, pools, gh_serve and the thread pool.
 *
 * Every wait that a bug could make endless is bounded: green threads use a timeout argument or a
 * deadline, the root pushes ROOT_DEADLINE_MS around joins, and WAIT_FOR polls with a time limit.
 * Root waits that must fail with EDEADLK run without any deadline (a deadline is a timer that
 * could legitimately wake the root); the runner's alarm bounds those.
 */
#ifndef GH_TEST_SUPPORT_SYNC_H
#define GH_TEST_SUPPORT_SYNC_H

#include "harness.h"
#include "support.h"

/* A value that no call should ever write: outputs are written only on success. */
extern char untouched_mark;
#define UNTOUCHED ((void *)&untouched_mark)

/* Markers passed as values / items. */
extern char marker_a, marker_b, marker_c;
#define ITEM(n) ((void *)(intptr_t)(n))

/* Polls `cond` (sleeping 1 ms between checks, which runs the hub) for at most `ms` ms. */
#define WAIT_FOR(cond, ms)                                                      \
  do {                                                                          \
    double wf_end_ = now_ms() + (ms);                                           \
    while (!(cond) && now_ms() < wf_end_) gh_sleep(1);                          \
  } while (0)

/* Joins t under a root deadline; checks it succeeded; returns the status (or -12345). */
int join_at(const char *file, int line, gh_thread t);
#define JOIN(t) join_at(__FILE__, __LINE__, (t))

/* Sleeps the OS thread (not a green sleep: the hub does not run). */
void sleep_native_ms(int ms);

/* Captures report lines (gh_set_log): the count, the first two lines. */
struct logcap {
  int calls;
  char first[256];
  char second[256];
};
void log_capture(void *ctx, const gh_report *report);

/* ---- order logs ---- */

extern int enq_order[128], enq_n; /* who started waiting, in order */
extern int got_order[128], got_n; /* who got through, in order */
void orders_reset(void);
void enq_add(int i);
void got_add(int i);
/* The first n ints as "1 2 3", written into out. */
const char *fmt_ints(char *out, size_t cap, const int *a, int n);
int same_ints(const int *a, const int *b, int n);

/* ---- one blocking operation run by a green thread ---- */

struct op {
  int64_t h;        /* the handle waited on */
  int64_t timeout;  /* timeout_ms argument */
  int idx;          /* index recorded in the order logs */
  int pre_sleep;    /* ms to sleep before the call */
  int deadline;     /* > 0: gh_deadline_push(deadline) around the call */
  void *item;       /* item to send / value to set */
  int release_after; /* semaphore: release right after a successful acquire */
  volatile int started, done;
  int rc, err;
  double el;        /* duration of the call, ms */
  void *val;        /* value / item received */
};

void op_init(struct op *o, int64_t h, int64_t timeout, int idx);
/* What every op body does around its call: the pre-sleep, the deadline, the order logs. */
void op_begin(struct op *o);
void op_end(struct op *o, int rc, double t0);

/* Thread bodies (arg: struct op) making one call each: gh_sem_acquire, gh_event_wait,
 * gh_chan_send, gh_chan_recv, gh_park. */
int sem_acquire_body(void *arg);
int event_wait_body(void *arg);
int chan_send_body(void *arg);
int chan_recv_body(void *arg);
int park_body(void *arg);

/* Checks a finished op: rc 0, or -1 with errno `want_err`. */
#define CHECK_OP(o, want_err, what)                                                       \
  do {                                                                                    \
    if (!(o).done)                                                                        \
      th_fail(__FILE__, __LINE__, -1, "%s: the call has not returned", what);             \
    else if ((want_err) == 0 && (o).rc != 0)                                              \
      th_fail(__FILE__, __LINE__, -1, "%s: got %d errno=%s, want 0", what, (o).rc,        \
              th_errname((o).err));                                                       \
    else if ((want_err) != 0 && ((o).rc != -1 || (o).err != (want_err)))                  \
      th_fail(__FILE__, __LINE__, -1, "%s: got %d errno=%s, want -1 errno=%s", what,      \
              (o).rc, th_errname((o).err), th_errname(want_err));                         \
  } while (0)

/* ---- what the stat calls say (-99 if the call failed) ---- */

int64_t sem_value(gh_sem s);
int64_t sem_waiting(gh_sem s);
int64_t chan_len(gh_chan c);
int64_t chan_senders(gh_chan c);
int64_t chan_receivers(gh_chan c);
int64_t pool_running(gh_pool p);
int64_t pool_waiting(gh_pool p);

/* ---- other thread bodies ---- */

/* arg: milliseconds; returns 0 if the sleep succeeded, 1 otherwise. */
int sleep_ms_body(void *arg);
/* arg: an event; waits for it (5 s at most); returns 0, or the errno of the wait. */
int event_block_body(void *arg);

/* ---- gh_serve ---- */

/* What echo_handler counts and does (its arg). */
struct srv {
  int hold_ms;     /* after reading a line, hold the connection this long */
  int cur, max, calls;
  int errs;
  gh_thread ids[16];
  int stops;
};

/* Echoes one line; "stop\n" answers "bye\n" and returns GH_SERVE_STOP; "slow\n" answers
 * "late\n" after 150 ms. Does not close its socket: gh_serve does, after it returns. */
int echo_handler(gh_sock s, void *arg);

/* ---- the native thread pool ---- */

/* One function call on the thread pool: what it does and what it saw. */
struct tp_job {
  int ms;          /* native sleep */
  void *ret;       /* what the function returns */
  long tid;        /* OS thread it ran on */
  int finished;    /* set (atomically) when the function is done */
  double t_end;
  gh_event foreign_ev; /* if > 0: the function tries to use this hub handle */
  int foreign_rc, foreign_err;
};

#endif /* GH_TEST_SUPPORT_SYNC_H */
