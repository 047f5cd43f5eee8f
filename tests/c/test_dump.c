/* greenhub C API tests: seeing inside a hub: short ids (gh_thread_id), the thread dump
 * (gh_dump) naming what each thread waits on, the counters (gh_stats), and the block
 * detector (gh_set_block_warn) reporting a hog once per episode. */
#include "harness.h"
#include "support.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* The dump of this hub, as a NUL-terminated string (static buffer). */
static const char *dump_text(void) {
  static char text[65536];
  int fd = memfd_create("gh-dump", 0);
  if (fd < 0) return "";
  ssize_t n = -1;
  if (gh_dump(fd) == 0) n = pread(fd, text, sizeof text - 1, 0);
  close(fd);
  text[n > 0 ? n : 0] = '\0';
  return text;
}

/* The dump line of the thread named `name` (up to its newline), or "" if there is none. */
static const char *line_of(const char *dump, const char *name, char *out, size_t len) {
  char key[64];
  snprintf(key, sizeof key, "(%s)", name);
  const char *at = strstr(dump, key);
  out[0] = '\0';
  if (!at) return out;
  while (at > dump && at[-1] != '\n') at--;
  const char *end = strchr(at, '\n');
  size_t n = end ? (size_t)(end - at) : strlen(at);
  if (n >= len) n = len - 1;
  memcpy(out, at, n);
  out[n] = '\0';
  return out;
}

static gh_thread spawn_named(gh_fn fn, void *arg, const char *name) {
  gh_spawn_opts o;
  opts_init(&o);
  o.name = name;
  return gh_spawn_ex(fn, arg, &o);
}

static int sleep_long(void *arg) { (void)arg; return gh_sleep(5000) == 0 ? 0 : errno; }
static int sem_wait_body(void *arg) { return gh_sem_acquire((gh_sem)(intptr_t)arg, -1) == 0 ? 0 : errno; }
static int event_wait_body(void *arg) {
  return gh_event_wait((gh_event)(intptr_t)arg, NULL, -1) == 0 ? 0 : errno;
}
static int chan_recv_body(void *arg) {
  void *item;
  return gh_chan_recv((gh_chan)(intptr_t)arg, &item, -1) == 0 ? 0 : errno;
}
static int join_body(void *arg) {
  int st;
  return gh_join((gh_thread)(intptr_t)arg, &st) == 0 ? 0 : errno;
}
static int park_body(void *arg) { (void)arg; return gh_park(NULL) == 0 ? 0 : errno; }
static int recv_body(void *arg) {
  char c;
  return gh_recv((gh_sock)(intptr_t)arg, &c, 1) >= 0 ? 0 : errno;
}
static void *slow_job(void *arg) {
  (void)arg;
  struct timespec ts = {0, 300 * 1000 * 1000};
  nanosleep(&ts, NULL);
  return NULL;
}
static int tpool_body(void *arg) { (void)arg; return gh_tpool_execute(slow_job, NULL, NULL) == 0 ? 0 : errno; }

TEST(dump_names_each_wait_kind) {
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_sem sem = gh_sem_new(0);
  gh_event ev = gh_event_new();
  gh_chan ch = gh_chan_new(0);
  gh_sock a, b;
  REQUIRE(sem > 0 && ev > 0 && ch > 0 && make_pair(&a, &b) == 0);
  gh_thread sleeper = spawn_named(sleep_long, NULL, "sleeper");
  gh_thread t[8] = {
      sleeper,
      spawn_named(sem_wait_body, (void *)(intptr_t)sem, "sem-waiter"),
      spawn_named(event_wait_body, (void *)(intptr_t)ev, "event-waiter"),
      spawn_named(chan_recv_body, (void *)(intptr_t)ch, "chan-receiver"),
      spawn_named(join_body, (void *)(intptr_t)sleeper, "joiner"),
      spawn_named(park_body, NULL, "parker"),
      spawn_named(recv_body, (void *)(intptr_t)a, "reader"),
      spawn_named(tpool_body, NULL, "tpool-caller"),
  };
  for (int i = 0; i < 8; i++) REQUIRE(t[i] > 0);
  CHECK_EQ(gh_sleep(50), 0); /* every thread reaches its wait */
  const char *d = dump_text();
  th_note("dump:\n%s", d);
  char line[512], want[64];
  snprintf(want, sizeof want, "on socket fd %d", gh_fileno(a));
  struct { const char *name, *want; } kinds[] = {
      {"sleeper", "waiting: sleep"},         {"sleeper", "deadline in 4."},
      {"sem-waiter", "waiting: semaphore"},  {"event-waiter", "waiting: event"},
      {"chan-receiver", "waiting: channel recv"}, {"parker", "waiting: park"},
      {"reader", "waiting: read"},           {"reader", want},
      {"tpool-caller", "waiting: tpool"},
  };
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    line_of(d, kinds[i].name, line, sizeof line);
    CHECKF(strstr(line, kinds[i].want), "%s's entry \"%s\" lacks \"%s\"", kinds[i].name, line,
           kinds[i].want);
  }
  char joined[64];
  snprintf(joined, sizeof joined, "waiting: join thread %lld", (long long)gh_thread_id(sleeper));
  CHECKF(strstr(line_of(d, "joiner", line, sizeof line), joined), "joiner's entry \"%s\" lacks "
         "\"%s\"", line, joined);
  for (int i = 0; i < 8; i++) {
    char id[32];
    snprintf(id, sizeof id, "green thread %lld (", (long long)gh_thread_id(t[i]));
    CHECKF(strstr(d, id), "no entry starts with \"%s\"", id);
  }
  CHECKF(strstr(d, "the root (thread 0): running"), "the root's entry is not \"running\"");
  CHECKF(strstr(d, "counters: threads 8,"), "counters line: %s", strstr(d, "counters") ?: "none");

  gh_hub_stats st = {.size = sizeof st};
  CHECK_EQ(gh_stats(&st), 0);
  CHECK_EQ(st.threads, 8);
  CHECK_EQ(st.sockets, 2);
  CHECK(st.objects >= 5); /* the sockets, the semaphore, the event, the channel */
  CHECK(st.switches >= 8);
  gh_hub_stats small = {.size = sizeof small - 1};
  CHECK_ERR(gh_stats(&small), EINVAL);
  CHECK_ERR(gh_stats(NULL), EINVAL);
  CHECK_ERR(gh_dump(-1), EBADF);
  CHECK_ERR(gh_thread_id(12345), EBADF);
  CHECK_EQ(gh_thread_id(0), 0);

  for (int i = 0; i < 8; i++)
    if (i != 4) gh_kill(t[i]); /* the joiner ends when the sleeper does */
  for (int i = 1; i < 8; i++) {
    int status;
    CHECK_EQ(gh_join(t[i], &status), 0); /* the sleeper is the joiner's to join */
  }
  gh_close(a);
  gh_close(b);
  gh_sem_free(sem);
  gh_event_free(ev);
  gh_chan_free(ch);
  gh_deadline_pop();
}

TEST(thread_ids_are_short_and_unique) {
  gh_thread a = gh_spawn(return_zero, NULL), b = gh_spawn(return_zero, NULL);
  REQUIRE(a > 0 && b > 0);
  int64_t ia = gh_thread_id(a), ib = gh_thread_id(b);
  CHECKF(ia > 0 && ib == ia + 1, "ids %lld, %lld", (long long)ia, (long long)ib);
  CHECK_EQ(gh_thread_id(gh_self()), 0);
  int st;
  CHECK_EQ(gh_join(a, &st), 0);
  CHECK_EQ(gh_join(b, &st), 0);
  CHECK_ERR(gh_thread_id(a), EBADF); /* joined: its record is gone */
}

struct blockcap {
  int blocked;
  int64_t thread;
  int status;
  char text[512];
};

static void block_cb(void *ctx, const gh_report *r) {
  struct blockcap *c = ctx;
  if (r->kind != GH_REPORT_BLOCKED) return;
  if (c->blocked++ == 0) {
    c->thread = r->thread;
    c->status = r->status;
    snprintf(c->text, sizeof c->text, "%s", r->text);
  }
}

/* Holds the hub: a busy loop of `arg` ms without switching. */
static int hog_body(void *arg) {
  double end = now_ms() + (double)(intptr_t)arg;
  while (now_ms() < end) {
  }
  return 0;
}

TEST(block_detector_reports_a_hog_once_per_episode) {
  static struct blockcap cap;
  memset(&cap, 0, sizeof cap);
  gh_set_log(block_cb, &cap);
  CHECK_EQ(gh_set_block_warn(100), 0);
  CHECK_ERR(gh_set_block_warn(-1), EINVAL);
  gh_thread hog = spawn_named(hog_body, (void *)(intptr_t)600, "hog");
  REQUIRE(hog > 0);
  int64_t hog_id = gh_thread_id(hog);
  int st;
  CHECK_EQ(gh_join(hog, &st), 0);
  CHECK_EQ(cap.blocked, 1); /* 600 ms held: one episode, one report */
  CHECK_EQ(cap.thread, hog);
  CHECKF(cap.status >= 100 && cap.status < 600, "held for %d ms", cap.status);
  char want[64];
  snprintf(want, sizeof want, "green thread %lld (hog) has held the hub for", (long long)hog_id);
  CHECKF(strstr(cap.text, want), "report \"%s\" lacks \"%s\"", cap.text, want);

  /* A thread that switches often holds nobody up: no report. */
  struct ticker tk = {.sleep_ms = 0};
  gh_thread yielder = gh_spawn(ticker_body, &tk);
  REQUIRE(yielder > 0);
  CHECK_EQ(gh_sleep(400), 0);
  tk.stop = 1;
  CHECK_EQ(gh_join(yielder, &st), 0);
  CHECK_EQ(cap.blocked, 1);

  /* A second episode is a second report. */
  hog = spawn_named(hog_body, (void *)(intptr_t)300, "hog");
  REQUIRE(hog > 0);
  CHECK_EQ(gh_join(hog, &st), 0);
  CHECK_EQ(cap.blocked, 2);

  /* Off: no report. */
  CHECK_EQ(gh_set_block_warn(0), 0);
  hog = spawn_named(hog_body, (void *)(intptr_t)300, "hog");
  REQUIRE(hog > 0);
  CHECK_EQ(gh_join(hog, &st), 0);
  CHECK_EQ(cap.blocked, 2);
  gh_set_log(NULL, NULL);
}
