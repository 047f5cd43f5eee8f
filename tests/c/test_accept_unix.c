/* greenhub C API tests: accepting connections of a family other than AF_INET/AF_INET6. A Unix
 * stream listener taken over with gh_adopt accepts a connection (it used to be accepted and
 * dropped with EAFNOSUPPORT), and the peer comes back as its family with an empty host. */
#include "harness.h"
#include "support.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct unix_client {
  const char *path;
  int rc;
};

static int unix_client_body(void *arg) {
  struct unix_client *c = arg;
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  strncpy(sun.sun_path, c->path, sizeof sun.sun_path - 1);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
    c->rc = 1;
    return 1;
  }
  gh_sock s = gh_adopt(fd);
  c->rc = (s > 0 && gh_sendall(s, "unix", 4) == 0) ? 0 : 2;
  gh_close(s);
  return c->rc;
}

TEST(accept_unix_connection) {
  gh_deadline_push(ROOT_DEADLINE_MS);
  char dir[] = "/tmp/gh_unix_XXXXXX";
  REQUIRE(mkdtemp(dir) != NULL);
  char path[64];
  snprintf(path, sizeof path, "%s/s", dir);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  strncpy(sun.sun_path, path, sizeof sun.sun_path - 1);
  REQUIRE(fd >= 0 && bind(fd, (struct sockaddr *)&sun, sizeof sun) == 0 && listen(fd, 8) == 0);
  gh_sock l = gh_adopt(fd);
  REQUIRE(l > 0);
  struct unix_client c = {path, -2};
  gh_thread t = gh_spawn(unix_client_body, &c);
  REQUIRE(t > 0);
  gh_addr peer;
  memset(&peer, 0x55, sizeof peer);
  gh_sock s = gh_accept(l, &peer);
  CHECKF(s > 0, "accept of a Unix connection: %lld errno=%s", (long long)s, th_errname(errno));
  if (s > 0) {
    CHECK_EQ(peer.family, AF_UNIX);
    CHECK_EQ(peer.port, 0);
    CHECK_EQ(peer.host[0], 0);
    char buf[4];
    CHECK_EQ(recv_exact(s, buf, 4), 4);
    CHECK(memcmp(buf, "unix", 4) == 0);
    gh_close(s);
  }
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(c.rc, 0);
  gh_close(l);
  unlink(path);
  rmdir(dir);
  gh_deadline_pop();
}
