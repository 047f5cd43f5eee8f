/* greenhub C API tests: limits of handles and arguments. Lengths no buffer can have, option
 * lengths past GH_SOCKOPT_MAX, a handle slot freed 2^24 times, counters at their maximum, names
 * that do not resolve. Each must give a clear errno and leave everything else working. */
#include "harness.h"
#include "support.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/* Larger than any object can be (PTRDIFF_MAX + 1), with a real, small buffer behind it. */
#define PAST_ANY_BUFFER ((size_t)PTRDIFF_MAX + 1)

/* gh_getsockopt used to allocate *len bytes before looking at the handle: 1 << 40 aborted the
 * process, SIZE_MAX gave EIO from a caught panic. */
TEST(getsockopt_len_never_allocated) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  gh_deadline_pop();
  CHECK_EQ(gh_close(b), 0);
  int v = 999;
  size_t lens[] = {(size_t)1 << 40, SIZE_MAX, PAST_ANY_BUFFER, GH_SOCKOPT_MAX + 1};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    size_t len = lens[i];
    /* b is closed: EBADF or EINVAL, whichever is checked first; never an abort or EIO. */
    CHECK_ERR2(gh_getsockopt(b, SOL_SOCKET, SO_TYPE, &v, &len), EBADF, EINVAL);
    CHECK_EQ(len, lens[i]);
    /* a is live: the length alone is refused. */
    CHECK_ERR(gh_getsockopt(a, SOL_SOCKET, SO_TYPE, &v, &len), EINVAL);
    CHECK_EQ(len, lens[i]);
    CHECK_EQ(v, 999);
  }
  /* Up to GH_SOCKOPT_MAX works: TCP_INFO is the longest TCP option. */
  static unsigned char info[GH_SOCKOPT_MAX];
  size_t len = sizeof info;
  CHECK_EQ(gh_getsockopt(a, IPPROTO_TCP, TCP_INFO, info, &len), 0);
  CHECKF(len > 0 && len <= GH_SOCKOPT_MAX, "TCP_INFO length %zu", len);
  len = sizeof v;
  CHECK_EQ(gh_getsockopt(a, SOL_SOCKET, SO_TYPE, &v, &len), 0);
  CHECK_EQ(v, SOCK_STREAM);
  /* setsockopt takes the same bound. */
  static unsigned char big[GH_SOCKOPT_MAX + 1];
  CHECK_ERR(gh_setsockopt(a, SOL_SOCKET, SO_RCVBUF, big, sizeof big), EINVAL);
  CHECK_ERR(gh_setsockopt(a, SOL_SOCKET, SO_RCVBUF, big, SIZE_MAX), EINVAL);
  int one = 1;
  CHECK_EQ(gh_setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  CHECK_EQ(gh_close(a), 0);
}

/* A length past PTRDIFF_MAX cannot describe a buffer: EINVAL at once, nothing sent, received
 * or waited for (with the peer silent, a receive would otherwise wait for the deadline). */
TEST(buffer_lengths_past_any_object) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  gh_deadline_pop();
  char buf[16] = "untouched";
  gh_deadline_push(2000);
  double t0 = now_ms();
  CHECK_ERR(gh_recv(a, buf, PAST_ANY_BUFFER), EINVAL);
  CHECK_ERR(gh_readline(a, buf, PAST_ANY_BUFFER), EINVAL);
  CHECK_ERR(gh_read_until(a, "\n", PAST_ANY_BUFFER, buf, sizeof buf), EINVAL);
  CHECK_ERR(gh_send(a, buf, PAST_ANY_BUFFER), EINVAL);
  CHECK_ERR(gh_sendall(a, buf, SIZE_MAX), EINVAL);
  double el = now_ms() - t0;
  gh_deadline_pop();
  CHECKF(el < 1000, "the refused calls took %.0f ms", el);
  CHECK(strcmp(buf, "untouched") == 0);
  /* Nothing reached the peer, and the pair still works both ways. */
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_sendall(a, "x\n", 2), 0);
  CHECK_EQ(gh_readline(b, buf, sizeof buf), 2);
  CHECK(memcmp(buf, "x\n", 2) == 0);
  CHECK_EQ(gh_sendall(b, "y", 1), 0);
  CHECK_EQ(gh_recv(a, buf, sizeof buf), 1);
  CHECK_EQ(buf[0], 'y');
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}

/* A slot is reused with a new generation each time; after its 2^24 - 1 generations it is
 * retired. Before, the generation wrapped and the first handle named the 2^24-th semaphore. */
TEST(freed_handle_never_names_another_object) {
  gh_sem first = gh_sem_new(7);
  REQUIRE(first > 0);
  CHECK_EQ(gh_sem_free(first), 0);
  long same = 0, reused_slot = 0;
  const long rounds = (1L << 24) + 16;
  double t0 = now_ms();
  for (long i = 0; i < rounds; i++) {
    gh_sem s = gh_sem_new(1);
    if (s <= 0) {
      th_fail(__FILE__, __LINE__, errno, "gh_sem_new failed after %ld rounds", i);
      return;
    }
    if (s == first) same++;
    if ((s & 0xffffff) == (first & 0xffffff)) reused_slot++;
    gh_sem_free(s);
  }
  th_note("%ld new/free rounds in %.0f ms; the first slot served %ld of them", rounds,
          now_ms() - t0, reused_slot);
  CHECKF(same == 0, "the first handle was handed out again %ld times", same);
  gh_sem live = gh_sem_new(3);
  REQUIRE(live > 0);
  int64_t value = -1;
  CHECK_ERR(gh_sem_stat(first, &value, NULL), EBADF);
  CHECK_EQ(value, -1);
  CHECK_EQ(gh_sem_stat(live, &value, NULL), 0);
  CHECK_EQ(value, 3);
  gh_sem_free(live);
}

/* A counting semaphore's count is an int64_t: releasing at INT64_MAX used to wrap it to
 * INT64_MIN (and the semaphore then never gave a permit again). */
TEST(sem_release_at_int64_max) {
  gh_sem s = gh_sem_new(INT64_MAX - 1);
  REQUIRE(s > 0);
  CHECK_EQ(gh_sem_release(s), 0);
  CHECK_ERR(gh_sem_release(s), EOVERFLOW);
  int64_t value = 0, waiting = -1;
  CHECK_EQ(gh_sem_stat(s, &value, &waiting), 0);
  CHECKF(value == INT64_MAX, "count %lld after a refused release", (long long)value);
  CHECK_EQ(waiting, 0);
  CHECK_EQ(gh_sem_try_acquire(s), 0);
  CHECK_EQ(gh_sem_release(s), 0);
  CHECK_EQ(gh_sem_free(s), 0);
}

/* What getaddrinfo itself says about `name`, as the errno greenhub gives for it (0: resolves). */
static int resolver_errno(const char *name) {
  struct addrinfo hints, *list = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(name, NULL, &hints, &list);
  if (rc == 0) freeaddrinfo(list);
  switch (rc) {
    case 0: return 0;
    case EAI_AGAIN: return EAGAIN;
    case EAI_MEMORY: return ENOMEM;
    default: return ENXIO;
  }
}

/* A name that does not resolve used to give EADDRNOTAVAIL, which is also what a local address
 * the machine lacks gives: the two could not be told apart. */
TEST(unresolvable_name_has_its_own_errno) {
  const char *name = "no-such-host.invalid"; /* RFC 2606: never resolves */
  int want = resolver_errno(name);
  REQUIRE(want != 0);
  th_note("getaddrinfo(\"%s\") says %s", name, th_errname(want));
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_ERR(gh_connect(name, 1), want);
  CHECK_ERR(gh_listen(name, 0, 4), want);
  /* Not a name: an address this machine does not have, or that refuses. */
  CHECK_ERR(gh_listen("192.0.2.1", 0, 4), EADDRNOTAVAIL);
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  CHECK_EQ(gh_close(l), 0);
  CHECK_ERR(gh_connect("127.0.0.1", port), ECONNREFUSED);
  gh_deadline_pop();
}
