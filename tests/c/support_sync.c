/* Helpers the greenhub synchronization tests share: see support_sync.h. */
#include "support_sync.h"

#include <time.h>

char untouched_mark;

char marker_a, marker_b, marker_c;

int join_at(const char *file, int line, gh_thread t) {
  int st = -12345;
  gh_deadline_push(ROOT_DEADLINE_MS);
  errno = 0;
  int r = gh_join(t, &st);
  int e = errno;
  gh_deadline_pop();
  if (r != 0) th_fail(file, line, e, "gh_join(%lld) failed", (long long)t);
  return st;
}

void sleep_native_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void log_capture(void *ctx, const gh_report *report) {
  const char *line = report->text;
  struct logcap *c = ctx;
  if (c->calls == 0) snprintf(c->first, sizeof c->first, "%s", line ? line : "(null)");
  if (c->calls == 1) snprintf(c->second, sizeof c->second, "%s", line ? line : "(null)");
  c->calls++;
}

int enq_order[128], enq_n;

int got_order[128], got_n;

void orders_reset(void) {
  enq_n = got_n = 0;
  memset(enq_order, -1, sizeof enq_order);
  memset(got_order, -1, sizeof got_order);
}

void enq_add(int i) {
  if (enq_n < 128) enq_order[enq_n++] = i;
}

void got_add(int i) {
  if (got_n < 128) got_order[got_n++] = i;
}

const char *fmt_ints(char *out, size_t cap, const int *a, int n) {
  out[0] = '\0';
  for (int i = 0; i < n; i++) {
    size_t l = strlen(out);
    snprintf(out + l, cap - l, "%s%d", i ? " " : "", a[i]);
  }
  return out;
}

int same_ints(const int *a, const int *b, int n) {
  for (int i = 0; i < n; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

void op_init(struct op *o, int64_t h, int64_t timeout, int idx) {
  memset(o, 0, sizeof *o);
  o->h = h;
  o->timeout = timeout;
  o->idx = idx;
  o->rc = -2;
  o->val = UNTOUCHED;
}

void op_begin(struct op *o) {
  if (o->pre_sleep > 0) gh_sleep(o->pre_sleep);
  if (o->deadline > 0) gh_deadline_push(o->deadline);
  enq_add(o->idx);
  o->started = 1;
  errno = 0;
}

void op_end(struct op *o, int rc, double t0) {
  o->rc = rc;
  o->err = errno;
  o->el = now_ms() - t0;
  if (o->deadline > 0) gh_deadline_pop();
  if (rc == 0) got_add(o->idx);
  o->done = 1;
}

int sem_acquire_body(void *arg) {
  struct op *o = arg;
  op_begin(o);
  double t0 = now_ms();
  int rc = gh_sem_acquire(o->h, o->timeout);
  op_end(o, rc, t0);
  if (rc == 0 && o->release_after) gh_sem_release(o->h);
  return 0;
}

int event_wait_body(void *arg) {
  struct op *o = arg;
  op_begin(o);
  double t0 = now_ms();
  int rc = gh_event_wait(o->h, &o->val, o->timeout);
  op_end(o, rc, t0);
  return 0;
}

int chan_send_body(void *arg) {
  struct op *o = arg;
  op_begin(o);
  double t0 = now_ms();
  int rc = gh_chan_send(o->h, o->item, o->timeout);
  op_end(o, rc, t0);
  return 0;
}

int chan_recv_body(void *arg) {
  struct op *o = arg;
  op_begin(o);
  double t0 = now_ms();
  int rc = gh_chan_recv(o->h, &o->val, o->timeout);
  op_end(o, rc, t0);
  return 0;
}

int park_body(void *arg) {
  struct op *o = arg;
  op_begin(o);
  double t0 = now_ms();
  int rc = gh_park(&o->val);
  op_end(o, rc, t0);
  return 0;
}

int64_t sem_value(gh_sem s) {
  int64_t v = -99;
  if (gh_sem_stat(s, &v, NULL) != 0) return -99;
  return v;
}

int64_t sem_waiting(gh_sem s) {
  int64_t w = -99;
  if (gh_sem_stat(s, NULL, &w) != 0) return -99;
  return w;
}

int64_t chan_len(gh_chan c) {
  int64_t v = -99;
  if (gh_chan_stat(c, &v, NULL, NULL) != 0) return -99;
  return v;
}

int64_t chan_senders(gh_chan c) {
  int64_t v = -99;
  if (gh_chan_stat(c, NULL, &v, NULL) != 0) return -99;
  return v;
}

int64_t chan_receivers(gh_chan c) {
  int64_t v = -99;
  if (gh_chan_stat(c, NULL, NULL, &v) != 0) return -99;
  return v;
}

int64_t pool_running(gh_pool p) {
  int64_t v = -99;
  if (gh_pool_stat(p, NULL, &v, NULL) != 0) return -99;
  return v;
}

int64_t pool_waiting(gh_pool p) {
  int64_t v = -99;
  if (gh_pool_stat(p, NULL, NULL, &v) != 0) return -99;
  return v;
}

int sleep_ms_body(void *arg) { return gh_sleep((int64_t)(intptr_t)arg) == 0 ? 0 : 1; }

int event_block_body(void *arg) {
  errno = 0;
  if (gh_event_wait((gh_event)(intptr_t)arg, NULL, 5000) != 0) return errno;
  return 0;
}

int echo_handler(gh_sock s, void *arg) {
  struct srv *sv = arg;
  if (sv->calls < 16) sv->ids[sv->calls] = gh_self();
  sv->calls++;
  sv->cur++;
  if (sv->cur > sv->max) sv->max = sv->cur;
  int ret = 0;
  char line[256];
  gh_deadline_push(5000);
  ssize_t n = gh_readline(s, line, sizeof line);
  if (n > 0 && sv->hold_ms > 0) gh_sleep(sv->hold_ms);
  if (n == 5 && memcmp(line, "stop\n", 5) == 0) {
    if (gh_sendall(s, "bye\n", 4) != 0) sv->errs++;
    sv->stops++;
    ret = GH_SERVE_STOP;
  } else if (n == 5 && memcmp(line, "slow\n", 5) == 0) {
    gh_sleep(150);
    if (gh_sendall(s, "late\n", 5) != 0) sv->errs++;
  } else if (n > 0) {
    if (gh_sendall(s, line, (size_t)n) != 0) sv->errs++;
  } else {
    sv->errs++;
  }
  gh_deadline_pop();
  sv->cur--;
  return ret;
}
