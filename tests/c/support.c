/* Helpers the greenhub C tests share: see support.h. */
#include "support.h"

#include "harness.h"

#include <dirent.h>
#include <time.h>

/* ---- time ---- */

double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- sockets ---- */

gh_sock listen_local_at(const char *file, int line, uint16_t *port) {
  errno = 0;
  gh_sock l = gh_listen("127.0.0.1", 0, 64);
  if (l <= 0) {
    th_fail(file, line, errno, "gh_listen(\"127.0.0.1\", 0) returned %lld", (long long)l);
    return -1;
  }
  gh_addr a;
  memset(&a, 0, sizeof a);
  if (gh_local_addr(l, &a) != 0 || a.port == 0) {
    th_fail(file, line, errno, "gh_local_addr on a new listener failed (port %u)",
            (unsigned)a.port);
    gh_close(l);
    return -1;
  }
  *port = a.port;
  return l;
}

int make_pair_at(const char *file, int line, gh_sock *a, gh_sock *b) {
  uint16_t port = 0;
  gh_sock l = listen_local_at(file, line, &port);
  if (l < 0) return -1;
  errno = 0;
  gh_sock c = gh_connect("127.0.0.1", port);
  if (c <= 0) {
    th_fail(file, line, errno, "make_pair: gh_connect returned %lld", (long long)c);
    gh_close(l);
    return -1;
  }
  errno = 0;
  gh_sock s = gh_accept(l, NULL);
  if (s <= 0) {
    th_fail(file, line, errno, "make_pair: gh_accept returned %lld", (long long)s);
    gh_close(c);
    gh_close(l);
    return -1;
  }
  gh_close(l);
  *a = c;
  *b = s;
  return 0;
}

size_t recv_exact(gh_sock s, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = gh_recv(s, (char *)buf + got, len - got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  return got;
}

void expect_read_at(const char *file, int line, ssize_t got, const char *buf,
                    const char *want) {
  size_t wl = strlen(want);
  if (got < 0) {
    th_fail(file, line, errno, "read failed (want \"%s\")", want);
  } else if ((size_t)got != wl || memcmp(buf, want, wl) != 0) {
    char shown[128];
    size_t n = got > 0 ? (size_t)got : 0;
    if (n > sizeof shown - 1) n = sizeof shown - 1;
    for (size_t i = 0; i < n; i++) shown[i] = (buf[i] >= 32 && buf[i] < 127) ? buf[i] : '.';
    shown[n] = '\0';
    th_fail(file, line, -1, "read returned %zd \"%s\", want %zu \"%s\" ('.' = control char)", got,
            shown, wl, want);
  }
}

long long fill_until_full(gh_sock s, int *last_err) {
  static char chunk[65536];
  memset(chunk, 'q', sizeof chunk);
  gh_settimeout(s, 0);
  long long total = 0;
  *last_err = 0;
  for (int round = 0; round < 200; round++) {
    long long this_round = 0;
    for (int i = 0; i < 20000; i++) {
      errno = 0;
      ssize_t r = gh_send(s, chunk, sizeof chunk);
      if (r < 0) {
        *last_err = errno;
        break;
      }
      this_round += r;
    }
    total += this_round;
    if (*last_err != EAGAIN || (round > 0 && this_round == 0)) break;
    gh_sleep(30);
  }
  return total;
}

int bulk_sender_body(void *arg) {
  struct bulk_sender *bs = arg;
  gh_deadline_push(ROOT_DEADLINE_MS);
  errno = 0;
  bs->rc = gh_sendall(bs->s, bs->data, bs->len);
  bs->err = errno;
  gh_deadline_pop();
  return 0;
}

/* ---- small thread bodies ---- */

void opts_init(gh_spawn_opts *opts) { memset(opts, 0, sizeof *opts); }

int set_flag(void *arg) {
  *(int *)arg = 1;
  return 0;
}

int return_arg(void *arg) { return (int)(intptr_t)arg; }

int return_zero(void *arg) {
  (void)arg;
  return 0;
}

int sleep_then_return(void *arg) {
  /* arg: milliseconds; returns 0 if the sleep succeeded, errno otherwise */
  if (gh_sleep((int64_t)(intptr_t)arg) != 0) return errno;
  return 0;
}

volatile int sleep_ticker_stop;

int sleep_ticker_body(void *arg) {
  int *ticks = arg;
  while (!sleep_ticker_stop && gh_sleep(5) == 0) (*ticks)++;
  return 0;
}

int ticker_body(void *arg) {
  struct ticker *t = arg;
  t->last = now_ms();
  while (!t->stop) {
    if (t->sleep_ms ? gh_sleep(t->sleep_ms) != 0 : gh_yield() != 0) break;
    double now = now_ms();
    if (now - t->last > t->max_gap) t->max_gap = now - t->last;
    t->last = now;
    t->ticks++;
  }
  return 0;
}

/* ---- the process ---- */

int fd_count(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

int text_has_number(const char *text, long long n) {
  char num[32];
  snprintf(num, sizeof num, "%lld", n);
  size_t k = strlen(num);
  for (const char *p = text; (p = strstr(p, num)) != NULL; p++) {
    int digit_before = p > text && p[-1] >= '0' && p[-1] <= '9';
    if (n >= 0 && p > text && p[-1] == '-') digit_before = 1; /* "-42" is not 42 */
    int digit_after = p[k] >= '0' && p[k] <= '9';
    if (!digit_before && !digit_after) return 1;
  }
  return 0;
}
