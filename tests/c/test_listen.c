/* greenhub C API tests: gh_listen and the addresses it binds (127.0.0.1, every IPv4
 * address, ::1; port 0 only), EADDRINUSE. */
#include "harness.h"
#include "support.h"

#include <netinet/in.h>
#include <sys/socket.h>

TEST(listen_local_addr) {
  gh_sock l = gh_listen("127.0.0.1", 0, 16);
  REQUIRE(l > 0);
  gh_addr a;
  memset(&a, 0x5a, sizeof a);
  CHECK_EQ(gh_local_addr(l, &a), 0);
  CHECK_EQ(a.family, AF_INET);
  CHECK(a.port > 0);
  CHECKF(memchr(a.host, '\0', sizeof a.host) != NULL, "gh_addr.host is not NUL-terminated");
  a.host[sizeof a.host - 1] = '\0';
  CHECKF(strcmp(a.host, "127.0.0.1") == 0, "host \"%s\", want \"127.0.0.1\"", a.host);
  /* The port agrees with the kernel's view of the descriptor. */
  int fd = gh_fileno(l);
  CHECK(fd >= 0);
  struct sockaddr_in sin;
  socklen_t sl = sizeof sin;
  if (fd >= 0 && getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
    CHECK_EQ(ntohs(sin.sin_port), a.port);
  /* A listener has no peer. */
  gh_addr p;
  memset(&p, 0x33, sizeof p);
  gh_addr p0 = p;
  CHECK_ERR(gh_peer_addr(l, &p), ENOTCONN);
  CHECKF(memcmp(&p, &p0, sizeof p) == 0, "gh_peer_addr wrote its output while failing");
  CHECK_EQ(gh_close(l), 0);
}

TEST(listen_all_ipv4) {
  const char *hosts[] = {NULL, ""};
  for (int i = 0; i < 2; i++) {
    gh_sock l = gh_listen(hosts[i], 0, 16);
    CHECKF(l > 0, "gh_listen(%s, 0) failed", hosts[i] ? "\"\"" : "NULL");
    if (l <= 0) continue;
    gh_addr a;
    memset(&a, 0, sizeof a);
    CHECK_EQ(gh_local_addr(l, &a), 0);
    CHECK_EQ(a.family, AF_INET);
    CHECKF(strcmp(a.host, "0.0.0.0") == 0, "gh_listen(%s): host \"%s\", want \"0.0.0.0\"",
           hosts[i] ? "\"\"" : "NULL", a.host);
    gh_deadline_push(ROOT_DEADLINE_MS);
    gh_sock c = gh_connect("127.0.0.1", a.port);
    CHECK(c > 0);
    gh_sock s = gh_accept(l, NULL);
    CHECK(s > 0);
    gh_deadline_pop();
    gh_close(c);
    gh_close(s);
    gh_close(l);
  }
}

TEST(listen_ipv6) {
  errno = 0;
  gh_sock l = gh_listen("::1", 0, 16);
  if (l < 0 && (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)) {
    th_note("IPv6 loopback unavailable (%s); IPv6 not tested", th_errname(errno));
    return;
  }
  REQUIRE(l > 0);
  gh_addr a;
  memset(&a, 0, sizeof a);
  CHECK_EQ(gh_local_addr(l, &a), 0);
  CHECK_EQ(a.family, AF_INET6);
  CHECK(a.port > 0);
  CHECKF(strcmp(a.host, "::1") == 0, "host \"%s\", want \"::1\"", a.host);
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_sock c = gh_connect("::1", a.port);
  CHECK(c > 0);
  gh_addr peer;
  memset(&peer, 0, sizeof peer);
  gh_sock s = gh_accept(l, &peer);
  CHECK(s > 0);
  CHECK_EQ(peer.family, AF_INET6);
  CHECKF(strcmp(peer.host, "::1") == 0, "peer host \"%s\"", peer.host);
  if (c > 0 && s > 0) {
    char buf[8];
    CHECK_EQ(gh_sendall(c, "six", 3), 0);
    CHECK_EQ(recv_exact(s, buf, 3), 3);
    CHECK(memcmp(buf, "six", 3) == 0);
  }
  gh_deadline_pop();
  gh_close(c);
  gh_close(s);
  gh_close(l);

  /* "::" = all IPv6 addresses. */
  gh_sock any = gh_listen("::", 0, 4);
  CHECK(any > 0);
  if (any > 0) {
    memset(&a, 0, sizeof a);
    CHECK_EQ(gh_local_addr(any, &a), 0);
    CHECK_EQ(a.family, AF_INET6);
    CHECKF(strcmp(a.host, "::") == 0, "gh_listen(\"::\"): host \"%s\"", a.host);
    gh_close(any);
  }
}

TEST(listen_addrinuse) {
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  CHECK_ERR(gh_listen("127.0.0.1", port, 16), EADDRINUSE);
  /* The first listener is unaffected. */
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_sock c = gh_connect("127.0.0.1", port);
  CHECK(c > 0);
  gh_sock s = gh_accept(l, NULL);
  CHECK(s > 0);
  gh_deadline_pop();
  gh_close(c);
  gh_close(s);
  gh_close(l);
  /* An address that is not local (TEST-NET-1). */
  CHECK_ERR(gh_listen("192.0.2.1", 0, 4), EADDRNOTAVAIL);
}
