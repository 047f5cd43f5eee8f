/* greenhub C API tests: gh_serve. An echo server and its stop, the concurrency limit, a
 * stopped handler leaving the others running, the listener closed, handlers that exit,
 * deadlines, kills and bad arguments. */
#include "harness.h"
#include "support.h"
#include "support_sync.h"

struct client {
  uint16_t port;
  const char *line;
  int pre_ms;   /* before connecting */
  int delay_ms; /* before sending */
  int rc, err;
  char reply[128];
  ssize_t reply_n;
  ssize_t eof_n;
  int eof_err;
  double t_reply;
  volatile int done;
};

static int client_body(void *arg) {
  struct client *c = arg;
  gh_deadline_push(5000);
  c->rc = -1;
  c->reply_n = c->eof_n = -2;
  if (c->pre_ms) gh_sleep(c->pre_ms);
  errno = 0;
  gh_sock s = gh_connect("127.0.0.1", c->port);
  if (s <= 0) {
    c->err = errno;
    goto out;
  }
  if (c->delay_ms) gh_sleep(c->delay_ms);
  if (gh_sendall(s, c->line, strlen(c->line)) != 0) {
    c->err = errno;
    goto out;
  }
  errno = 0;
  c->reply_n = gh_readline(s, c->reply, sizeof c->reply - 1);
  c->err = errno;
  c->t_reply = now_ms();
  c->reply[c->reply_n > 0 ? c->reply_n : 0] = '\0';
  char more[16];
  errno = 0;
  c->eof_n = gh_recv(s, more, sizeof more); /* the handler's socket is closed after it returns */
  c->eof_err = errno;
  c->rc = 0;
out:
  gh_deadline_pop();
  c->done = 1;
  return 0; /* s (if any) is closed when the thread ends */
}

static void client_init(struct client *c, uint16_t port, const char *line) {
  memset(c, 0, sizeof *c);
  c->port = port;
  c->line = line;
}

#define CHECK_CLIENT(c, want)                                                               \
  CHECKF((c).done && (c).rc == 0 && strcmp((c).reply, (want)) == 0 && (c).eof_n == 0,       \
         "client sent \"%.*s\": done %d rc %d (%s), reply %zd \"%s\" (want \"%.*s\"), then "   \
         "recv %zd errno=%s (want 0: closed)", (int)strlen((c).line) - 1, (c).line, (c).done, \
         (c).rc, th_errname((c).err), (c).reply_n, (c).reply, (int)strlen(want) - 1, (want), \
         (c).eof_n, th_errname((c).eof_err))

/* Spawns the clients, joins them, then runs the stop client. */
struct controller {
  struct client *clients;
  int n;
  int gap_ms; /* between client spawns */
  struct client stop;
};

static int controller_body(void *arg) {
  struct controller *ct = arg;
  gh_thread t[16];
  for (int i = 0; i < ct->n && i < 16; i++) {
    if (i && ct->gap_ms) gh_sleep(ct->gap_ms);
    t[i] = gh_spawn(client_body, &ct->clients[i]);
  }
  gh_deadline_push(5000);
  for (int i = 0; i < ct->n && i < 16; i++)
    if (t[i] > 0) gh_join(t[i], NULL);
  gh_deadline_pop();
  client_body(&ct->stop);
  return 0;
}

TEST(serve_echo_and_stop) {
  uint16_t port = 0;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  static struct logcap cap;
  memset(&cap, 0, sizeof cap);
  gh_set_log(log_capture, &cap);
  struct srv sv;
  memset(&sv, 0, sizeof sv);
  struct client cl[3];
  client_init(&cl[0], port, "hello 0\n");
  client_init(&cl[1], port, "hello 1\n");
  client_init(&cl[2], port, "a somewhat longer line number 2\n");
  struct controller ct;
  memset(&ct, 0, sizeof ct);
  ct.clients = cl;
  ct.n = 3;
  client_init(&ct.stop, port, "stop\n");
  gh_thread t = gh_spawn(controller_body, &ct);
  REQUIRE(t > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  double t0 = now_ms();
  errno = 0;
  int rc = gh_serve(l, echo_handler, &sv, 10);
  int e = errno;
  double el = now_ms() - t0;
  gh_deadline_pop();
  CHECKF(rc == 0, "gh_serve after a handler returned GH_SERVE_STOP: %d errno=%s, want 0", rc,
         th_errname(e));
  CHECKF(el < 3000, "gh_serve ran %.1f ms", el);
  JOIN(t);
  gh_set_log(NULL, NULL);
  for (int i = 0; i < 3; i++) CHECK_CLIENT(cl[i], cl[i].line);
  CHECK_CLIENT(ct.stop, "bye\n");
  CHECK_EQ(sv.calls, 4);
  CHECK_EQ(sv.stops, 1);
  CHECK_EQ(sv.errs, 0);
  for (int i = 0; i < sv.calls && i < 16; i++) {
    CHECKF(sv.ids[i] > 0, "handler %d ran in the root (gh_self() = %lld)", i,
           (long long)sv.ids[i]);
    for (int j = 0; j < i; j++)
      CHECKF(sv.ids[i] != sv.ids[j], "handlers %d and %d ran in the same green thread", j, i);
  }
  CHECKF(cap.calls == 0, "GH_SERVE_STOP (or an echo handler) was reported as a failure: \"%s\"",
         cap.first);
  /* The listener is still ours and still works. */
  gh_addr a;
  CHECK_EQ(gh_local_addr(l, &a), 0);
  CHECK_EQ(gh_close(l), 0);
}

TEST(serve_concurrency_limit) {
  enum { N = 5 };
  uint16_t port = 0;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  struct srv sv;
  memset(&sv, 0, sizeof sv);
  sv.hold_ms = 30; /* every handler holds its connection 30 ms */
  struct client cl[N];
  static const char *const lines[N] = {"c0\n", "c1\n", "c2\n", "c3\n", "c4\n"};
  for (int i = 0; i < N; i++) client_init(&cl[i], port, lines[i]);
  struct controller ct;
  memset(&ct, 0, sizeof ct);
  ct.clients = cl;
  ct.n = N;
  client_init(&ct.stop, port, "stop\n");
  gh_thread t = gh_spawn(controller_body, &ct);
  REQUIRE(t > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  double t0 = now_ms();
  errno = 0;
  int rc = gh_serve(l, echo_handler, &sv, 2);
  int e = errno;
  double el = now_ms() - t0;
  gh_deadline_pop();
  CHECKF(rc == 0, "gh_serve: %d errno=%s, want 0", rc, th_errname(e));
  JOIN(t);
  for (int i = 0; i < N; i++) CHECK_CLIENT(cl[i], lines[i]);
  CHECK_CLIENT(ct.stop, "bye\n");
  CHECKF(sv.max == 2, "concurrency 2 with 5 clients holding their connection: at most %d "
         "handlers ran at once, want exactly 2", sv.max);
  CHECK_EQ(sv.calls, N + 1);
  double last = 0;
  for (int i = 0; i < N; i++)
    if (cl[i].t_reply - t0 > last) last = cl[i].t_reply - t0;
  CHECKF(last >= 85, "5 handlers of 30 ms, 2 at a time, were all done after %.1f ms (want >= "
         "~90: 3 rounds)", last);
  th_note("5 x 30 ms handlers at concurrency 2: last reply after %.1f ms; serve ran %.1f ms",
          last, el);
  CHECK_EQ(gh_close(l), 0);
}

TEST(serve_stop_others_go_on) {
  uint16_t port = 0;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  struct srv sv;
  memset(&sv, 0, sizeof sv);
  struct client slow, stop;
  client_init(&slow, port, "slow\n");
  client_init(&stop, port, "stop\n");
  stop.pre_ms = 20; /* connects once the slow handler is running */
  gh_thread ts = gh_spawn(client_body, &slow);
  gh_thread tc = gh_spawn(client_body, &stop);
  REQUIRE(ts > 0 && tc > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  errno = 0;
  int rc = gh_serve(l, echo_handler, &sv, 10);
  int e = errno;
  int running_at_return = sv.cur;
  int slow_done_at_return = slow.done;
  gh_deadline_pop();
  CHECKF(rc == 0, "gh_serve: %d errno=%s, want 0", rc, th_errname(e));
  CHECKF(running_at_return == 1 && !slow_done_at_return, "when gh_serve returned, %d handler(s) "
         "ran (want 1: the slow one), slow client done = %d", running_at_return,
         slow_done_at_return);
  JOIN(ts);
  JOIN(tc);
  CHECK_CLIENT(slow, "late\n");
  CHECK_CLIENT(stop, "bye\n");
  CHECK_EQ(sv.cur, 0);
  CHECK_EQ(gh_close(l), 0);
}

struct serve_in_thread {
  gh_sock l;
  struct srv *sv;
  int rc, err;
  double el;
};

static int serve_thread_body(void *arg) {
  struct serve_in_thread *s = arg;
  gh_deadline_push(5000);
  double t0 = now_ms();
  errno = 0;
  s->rc = gh_serve(s->l, echo_handler, s->sv, 4);
  s->err = errno;
  s->el = now_ms() - t0;
  gh_deadline_pop();
  return 0;
}

static int close_later_body(void *arg) {
  if (gh_sleep(30) != 0) return 1;
  return gh_close((gh_sock)(intptr_t)arg) == 0 ? 0 : 2;
}

TEST(serve_listener_closed) {
  /* gh_serve in a green thread; the root closes the listener. */
  uint16_t port = 0;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  struct srv sv;
  memset(&sv, 0, sizeof sv);
  struct serve_in_thread s = {l, &sv, -2, 0, 0};
  gh_thread t = gh_spawn(serve_thread_body, &s);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(30), 0);
  CHECK_EQ(gh_close(l), 0);
  JOIN(t);
  CHECKF(s.rc == -1 && s.err == EBADF, "gh_serve whose listener was closed: %d errno=%s, want "
         "-1 EBADF", s.rc, th_errname(s.err));
  CHECKF(s.el >= 29 && s.el < 300, "gh_serve returned after %.1f ms (close at ~30 ms)", s.el);

  /* gh_serve in the root; a green thread closes the listener. */
  l = listen_local(&port);
  REQUIRE(l > 0);
  gh_thread c = gh_spawn(close_later_body, (void *)(intptr_t)l);
  REQUIRE(c > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  double t0 = now_ms();
  errno = 0;
  int rc = gh_serve(l, echo_handler, &sv, 4);
  int e = errno;
  double el = now_ms() - t0;
  gh_deadline_pop();
  CHECKF(rc == -1 && e == EBADF, "root gh_serve whose listener a thread closed: %d errno=%s, "
         "want -1 EBADF", rc, th_errname(e));
  CHECKF(el < 300, "root gh_serve returned after %.1f ms (close at ~30 ms)", el);
  CHECK_EQ(JOIN(c), 0);
  CHECK_EQ(sv.calls, 0);

  /* A stale listener fails at once. */
  CHECK_ERR(gh_serve(l, echo_handler, &sv, 4), EBADF);
  CHECK_ERR(gh_serve(0x7fffffff, echo_handler, &sv, 4), EBADF);
}

static int exit_handler(gh_sock s, void *arg) {
  struct srv *sv = arg;
  sv->calls++;
  char line[64];
  gh_deadline_push(5000);
  ssize_t n = gh_readline(s, line, sizeof line);
  if (n == 5 && memcmp(line, "stop\n", 5) == 0) {
    gh_sendall(s, "bye\n", 4);
    gh_deadline_pop();
    return GH_SERVE_STOP;
  }
  if (n > 0) gh_sendall(s, line, (size_t)n);
  gh_exit(0); /* ends the handler thread without returning to gh_serve's wrapper */
  return 1;
}

TEST(serve_handler_exit) {
  uint16_t port = 0;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  struct srv sv;
  memset(&sv, 0, sizeof sv);
  struct client cl[3];
  client_init(&cl[0], port, "e0\n");
  client_init(&cl[1], port, "e1\n");
  client_init(&cl[2], port, "e2\n");
  struct controller ct;
  memset(&ct, 0, sizeof ct);
  ct.clients = cl;
  ct.n = 3;
  client_init(&ct.stop, port, "stop\n");
  gh_thread t = gh_spawn(controller_body, &ct);
  REQUIRE(t > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  errno = 0;
  int rc = gh_serve(l, exit_handler, &sv, 1); /* one at a time: each gh_exit must free the slot */
  int e = errno;
  gh_deadline_pop();
  CHECKF(rc == 0, "gh_serve with handlers ending by gh_exit: %d errno=%s, want 0 (the stop "
         "handler must get a slot)", rc, th_errname(e));
  JOIN(t);
  for (int i = 0; i < 3; i++) CHECK_CLIENT(cl[i], cl[i].line); /* EOF: closed at gh_exit too */
  CHECK_CLIENT(ct.stop, "bye\n");
  CHECK_EQ(sv.calls, 4);
  CHECK_EQ(gh_close(l), 0);
}

TEST(serve_deadline_kill_invalid) {
  uint16_t port = 0;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  struct srv sv;
  memset(&sv, 0, sizeof sv);
  CHECK_ERR(gh_serve(l, echo_handler, &sv, 0), EINVAL);
  CHECK_ERR(gh_serve(l, echo_handler, &sv, -1), EINVAL);
  /* The caller's deadline applies. */
  CHECK_EQ(gh_deadline_push(30), 0);
  double t0 = now_ms();
  CHECK_ERR(gh_serve(l, echo_handler, &sv, 2), ETIMEDOUT);
  double el = now_ms() - t0;
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECKF(el >= 29 && el < 300, "gh_serve under a 30 ms deadline returned after %.1f ms", el);
  /* Killing the serving thread ends gh_serve with ECANCELED. */
  struct serve_in_thread s = {l, &sv, -2, 0, 0};
  gh_thread t = gh_spawn(serve_thread_body, &s);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(20), 0);
  CHECK_EQ(gh_kill(t), 0);
  JOIN(t);
  CHECKF(s.rc == -1 && s.err == ECANCELED, "killed gh_serve: %d errno=%s, want ECANCELED", s.rc,
         th_errname(s.err));
  CHECKF(s.el < 300, "killed gh_serve returned after %.1f ms", s.el);
  /* The listener still works: a later gh_serve serves and stops. */
  struct client st;
  client_init(&st, port, "stop\n");
  gh_thread ct = gh_spawn(client_body, &st);
  REQUIRE(ct > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_serve(l, echo_handler, &sv, 2), 0);
  gh_deadline_pop();
  JOIN(ct);
  CHECK_CLIENT(st, "bye\n");
  CHECK_EQ(sv.calls, 1);
  CHECK_EQ(gh_close(l), 0);
}
