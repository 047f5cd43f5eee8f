/* greenhub C API tests: gh_shutdown, socket options (TCP_NODELAY), gh_fileno. */
#include "harness.h"
#include "support.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

TEST(shutdown_wr) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  CHECK_EQ(gh_send(a, "last", 4), 4);
  CHECK_EQ(gh_shutdown(a, SHUT_WR), 0);
  char buf[16];
  CHECK_EQ(recv_exact(b, buf, 4), 4);
  CHECKF(gh_recv(b, buf, sizeof buf) == 0, "peer did not see EOF after gh_shutdown(SHUT_WR)");
  /* The other direction still works. */
  CHECK_EQ(gh_sendall(b, "back", 4), 0);
  CHECK_EQ(recv_exact(a, buf, 4), 4);
  CHECK(memcmp(buf, "back", 4) == 0);
  CHECK_ERR(gh_send(a, "x", 1), EPIPE);
  CHECK_ERR(gh_shutdown(a, 99), EINVAL);
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}

TEST(sockopt_nodelay) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  gh_deadline_pop();
  int one = 1, zero = 0, v = -1;
  size_t len = sizeof v;
  CHECK_EQ(gh_setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  CHECK_EQ(gh_getsockopt(a, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
  CHECKF(v != 0, "TCP_NODELAY reads back %d after setting 1", v);
  CHECK_EQ(len, sizeof(int));
  CHECK_EQ(gh_setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &zero, sizeof zero), 0);
  v = -1;
  len = 16; /* larger than needed: shrinks to the option's size */
  CHECK_EQ(gh_getsockopt(a, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
  CHECK_EQ(v, 0);
  CHECK_EQ(len, sizeof(int));
  /* A failing getsockopt leaves its outputs alone. */
  v = 4242;
  len = sizeof v;
  errno = 0;
  CHECKF(gh_getsockopt(a, SOL_SOCKET, 12345, &v, &len) == -1, "unknown option did not fail");
  CHECKF(errno == ENOPROTOOPT, "unknown option: errno=%s, want ENOPROTOOPT", th_errname(errno));
  CHECK_EQ(v, 4242);
  CHECK_EQ(len, sizeof v);
  CHECK_ERR(gh_setsockopt(a, SOL_SOCKET, 12345, &one, sizeof one), ENOPROTOOPT);
  /* And through the descriptor, the kernel agrees. */
  CHECK_EQ(gh_setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  int fd = gh_fileno(a);
  int kv = 0;
  socklen_t kl = sizeof kv;
  if (fd >= 0 && getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &kv, &kl) == 0) CHECK(kv != 0);
  gh_close(a);
  gh_close(b);
}

TEST(fileno_valid) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  gh_deadline_pop();
  int fa = gh_fileno(a), fb = gh_fileno(b);
  CHECK(fa >= 0);
  CHECK(fb >= 0);
  CHECK(fa != fb);
  CHECK_EQ(gh_fileno(a), fa);
  struct stat stt;
  if (fa >= 0) {
    CHECK(fstat(fa, &stt) == 0 && S_ISSOCK(stt.st_mode));
    gh_addr la;
    memset(&la, 0, sizeof la);
    CHECK_EQ(gh_local_addr(a, &la), 0);
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    CHECK(getsockname(fa, (struct sockaddr *)&sin, &sl) == 0);
    CHECK_EQ(ntohs(sin.sin_port), la.port);
    int fl = fcntl(fa, F_GETFL);
    th_note("fd flags: O_NONBLOCK %s", (fl >= 0 && (fl & O_NONBLOCK)) ? "set" : "clear");
  }
  gh_close(a);
  gh_close(b);
}
