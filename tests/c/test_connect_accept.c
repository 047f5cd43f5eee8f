/* greenhub C API tests: TCP connect and accept. Peer addresses, refused connections, names
 * (localhost, one that does not resolve, without stalling the hub), a server with 200 clients. */
#include "harness.h"
#include "support.h"

#include <sys/socket.h>

struct client_info {
  uint16_t port;
  gh_addr local;
  gh_addr peer;
  char reply[8];
  int rc;
};

static int client_body(void *arg) {
  struct client_info *ci = arg;
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_sock c = gh_connect("127.0.0.1", ci->port);
  if (c <= 0) {
    ci->rc = 1;
    return 1;
  }
  if (gh_local_addr(c, &ci->local) != 0) ci->rc = 2;
  if (gh_peer_addr(c, &ci->peer) != 0) ci->rc = 3;
  if (gh_sendall(c, "hello", 5) != 0) ci->rc = 4;
  if (recv_exact(c, ci->reply, 5) != 5) ci->rc = 5;
  gh_close(c);
  gh_deadline_pop();
  return ci->rc;
}

TEST(connect_accept_peer_addr) {
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  struct client_info ci;
  memset(&ci, 0, sizeof ci);
  ci.port = port;
  gh_thread t = gh_spawn(client_body, &ci);
  REQUIRE(t > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_addr peer;
  memset(&peer, 0, sizeof peer);
  gh_sock s = gh_accept(l, &peer);
  REQUIRE(s > 0);
  char buf[8];
  CHECK_EQ(recv_exact(s, buf, 5), 5);
  CHECK(memcmp(buf, "hello", 5) == 0);
  CHECK_EQ(gh_sendall(s, "world", 5), 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECKF(st == 0, "client thread failed at step %d", st);
  CHECK(memcmp(ci.reply, "world", 5) == 0);
  /* The accepted peer is the client's local address. */
  CHECK_EQ(peer.family, AF_INET);
  CHECK_EQ(peer.family, ci.local.family);
  CHECKF(peer.port == ci.local.port && strcmp(peer.host, ci.local.host) == 0,
         "accept peer %s:%u, client local %s:%u", peer.host, (unsigned)peer.port, ci.local.host,
         (unsigned)ci.local.port);
  gh_addr p2;
  memset(&p2, 0, sizeof p2);
  CHECK_EQ(gh_peer_addr(s, &p2), 0);
  CHECK(p2.port == peer.port && strcmp(p2.host, peer.host) == 0);
  CHECK_EQ(ci.peer.port, port);
  CHECKF(strcmp(ci.peer.host, "127.0.0.1") == 0, "client's peer host \"%s\"", ci.peer.host);
  /* The client closed: EOF. */
  CHECK_EQ(gh_recv(s, buf, sizeof buf), 0);
  gh_deadline_pop();
  CHECK_EQ(gh_close(s), 0);
  CHECK_EQ(gh_close(l), 0);
}

TEST(connect_refused) {
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  CHECK_EQ(gh_close(l), 0);
  gh_deadline_push(5000);
  double t0 = now_ms();
  CHECK_ERR(gh_connect("127.0.0.1", port), ECONNREFUSED);
  gh_deadline_pop();
  CHECKF(now_ms() - t0 < 2000, "refused connect took %.1f ms", now_ms() - t0);
}

TEST(connect_localhost) {
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  gh_deadline_push(5000);
  errno = 0;
  gh_sock c = gh_connect("localhost", port);
  int e = errno;
  CHECKF(c > 0, "gh_connect(\"localhost\", %u) failed: errno=%s (the listener is on 127.0.0.1; "
         "every resolved address should be tried)", (unsigned)port, th_errname(e));
  if (c > 0) {
    gh_sock s = gh_accept(l, NULL);
    CHECK(s > 0);
    char buf[4];
    CHECK_EQ(gh_sendall(c, "lh", 2), 0);
    CHECK_EQ(recv_exact(s, buf, 2), 2);
    gh_addr pa;
    memset(&pa, 0, sizeof pa);
    CHECK_EQ(gh_peer_addr(c, &pa), 0);
    CHECK_EQ(pa.port, port);
    gh_close(s);
    gh_close(c);
  }
  gh_deadline_pop();
  gh_close(l);

  /* gh_listen resolves names too. */
  gh_deadline_push(5000);
  errno = 0;
  gh_sock ll = gh_listen("localhost", 0, 4);
  int le = errno;
  gh_deadline_pop();
  CHECKF(ll > 0, "gh_listen(\"localhost\", 0) failed: errno=%s", th_errname(le));
  if (ll > 0) {
    gh_addr la;
    memset(&la, 0, sizeof la);
    CHECK_EQ(gh_local_addr(ll, &la), 0);
    CHECKF((la.family == AF_INET && strcmp(la.host, "127.0.0.1") == 0) ||
               (la.family == AF_INET6 && strcmp(la.host, "::1") == 0),
           "gh_listen(\"localhost\") bound %s (family %d)", la.host, la.family);
    gh_close(ll);
  }
}

TEST(connect_bad_host) {
  int ticks = 0;
  sleep_ticker_stop = 0;
  gh_thread tk = gh_spawn(sleep_ticker_body, &ticks);
  REQUIRE(tk > 0);
  CHECK_EQ(gh_deadline_push(5000), 0);
  double t0 = now_ms();
  errno = 0;
  gh_sock c = gh_connect("no-such-host.invalid", 1);
  int e = errno;
  double el = now_ms() - t0;
  CHECK_EQ(gh_deadline_pop(), 0);
  sleep_ticker_stop = 1;
  /* ENXIO: the name does not resolve (EAGAIN: the resolver could not ask a name server);
   * ETIMEDOUT: the resolver outlived the deadline. test_limits.c checks which one is right. */
  CHECKF(c == -1 && (e == ENXIO || e == EAGAIN || e == ETIMEDOUT),
         "gh_connect(\"no-such-host.invalid\"): got %lld errno=%s, want -1 ENXIO (or "
         "ETIMEDOUT at the deadline)", (long long)c, th_errname(e));
  CHECKF(el < 5500, "resolution failure took %.0f ms (deadline 5000)", el);
  th_note("no-such-host.invalid: errno=%s after %.0f ms; ticker ran %d times meanwhile",
          th_errname(e), el, ticks);
  if (el >= 200)
    CHECKF(ticks >= (int)(el / 5 / 4), "the hub stalled during name resolution: %d ticks of 5 ms "
           "in %.0f ms", ticks, el);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st;
  CHECK_EQ(gh_join(tk, &st), 0);
  gh_deadline_pop();
}

enum { N_CLIENTS = 200, N_ROUNDS = 10 };

static int echo_conn_body(void *arg) {
  gh_sock s = (gh_sock)(intptr_t)arg;
  char line[256];
  for (;;) {
    ssize_t n = gh_readline(s, line, sizeof line);
    if (n <= 0) break;
    if (gh_sendall(s, line, (size_t)n) != 0) break;
  }
  return 0; /* the socket is closed by the library (this thread owns it) */
}

struct server_state {
  gh_sock l;
  int accepted;
  int spawn_failures;
  int end_err;
};

static int server_body(void *arg) {
  struct server_state *ss = arg;
  for (;;) {
    gh_sock c = gh_accept(ss->l, NULL);
    if (c < 0) {
      ss->end_err = errno;
      break;
    }
    ss->accepted++;
    gh_spawn_opts o;
    opts_init(&o);
    o.sock = c;
    o.detached = true;
    if (gh_spawn_ex(echo_conn_body, (void *)(intptr_t)c, &o) <= 0) {
      ss->spawn_failures++;
      gh_close(c);
    }
  }
  return 0;
}

static uint16_t server_port;

static int echo_client(void *arg) {
  int id = (int)(intptr_t)arg;
  gh_deadline_push(20000);
  gh_sock c = gh_connect("127.0.0.1", server_port);
  if (c <= 0) {
    gh_deadline_pop();
    return 1;
  }
  int rc = 0;
  for (int j = 0; j < N_ROUNDS && rc == 0; j++) {
    char msg[64], back[64];
    int len = snprintf(msg, sizeof msg, "client %d message %d\n", id, j);
    if (gh_sendall(c, msg, (size_t)len) != 0) {
      rc = 2;
      break;
    }
    ssize_t n = gh_readline(c, back, sizeof back);
    if (n != len || memcmp(back, msg, (size_t)len) != 0) rc = 3;
  }
  gh_close(c);
  gh_deadline_pop();
  return rc;
}

TEST(server_200_clients) {
  struct server_state ss;
  memset(&ss, 0, sizeof ss);
  ss.l = gh_listen("127.0.0.1", 0, 256);
  REQUIRE(ss.l > 0);
  gh_addr a;
  memset(&a, 0, sizeof a);
  REQUIRE(gh_local_addr(ss.l, &a) == 0);
  server_port = a.port;
  double t0 = now_ms();
  gh_thread srv = gh_spawn(server_body, &ss);
  REQUIRE(srv > 0);
  static gh_thread cl[N_CLIENTS];
  for (int i = 0; i < N_CLIENTS; i++) {
    cl[i] = gh_spawn(echo_client, (void *)(intptr_t)i);
    REQUIRE(cl[i] > 0);
  }
  gh_deadline_push(30000);
  int bad = 0, first_bad = -1, first_st = 0;
  for (int i = 0; i < N_CLIENTS; i++) {
    int st = -1;
    if (gh_join(cl[i], &st) != 0) {
      th_fail(__FILE__, __LINE__, errno, "gh_join(client %d) failed", i);
      st = -1;
    }
    if (st != 0 && bad++ == 0) {
      first_bad = i;
      first_st = st;
    }
  }
  CHECKF(bad == 0, "%d of %d clients failed (first: client %d, status %d: 1 connect, 2 send, "
         "3 wrong echo)", bad, N_CLIENTS, first_bad, first_st);
  CHECK_EQ(gh_close(ss.l), 0); /* wakes the server's accept with EBADF */
  int st = -1;
  CHECK_EQ(gh_join(srv, &st), 0);
  CHECK_EQ(ss.accepted, N_CLIENTS);
  CHECK_EQ(ss.spawn_failures, 0);
  CHECKF(ss.end_err == EBADF, "server's accept ended with errno=%s, want EBADF",
         th_errname(ss.end_err));
  CHECK_EQ(gh_run(), 0); /* the detached handlers finish */
  gh_deadline_pop();
  th_note("%d clients x %d round trips in %.0f ms", N_CLIENTS, N_ROUNDS, now_ms() - t0);
}
