/* greenhub C API tests: gh_readline, gh_read_until, gh_read_until_any, gh_peek and gh_unread. Lines split
 * across sends, the max length, CRLF, what stays buffered, a timeout keeping the partial line,
 * long lines, a text reader's line ends, looking ahead without consuming. */
#include "harness.h"
#include "support.h"

/* A sender thread: sends each chunk (gh_sendall) with a pause in between, then closes. */
struct script {
  gh_sock s;
  const char *chunks[8];
  int delay_ms;
  int rc;
  int err;
};

static int script_sender(void *arg) {
  struct script *sc = arg;
  for (int i = 0; i < 8 && sc->chunks[i]; i++) {
    if (i > 0) gh_sleep(sc->delay_ms);
    if (gh_sendall(sc->s, sc->chunks[i], strlen(sc->chunks[i])) != 0) {
      sc->rc = -1;
      sc->err = errno;
      return 1;
    }
  }
  gh_close(sc->s);
  return 0;
}

TEST(readline_split_sends) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  struct script sc = {b, {"hel", "lo\nwor", "ld\nlast", NULL}, 10, 0, 0};
  gh_thread t = gh_spawn(script_sender, &sc);
  REQUIRE(t > 0);
  char buf[64];
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "hello\n");
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "world\n");
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "last");
  CHECK_EQ(gh_readline(a, buf, sizeof buf), 0);
  CHECK_EQ(gh_readline(a, buf, sizeof buf), 0);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(sc.rc, 0);
  gh_deadline_pop();
  gh_close(a);
}

TEST(readline_max_pieces) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  struct script sc = {b, {"abcdefghij\nabc\nab", "cd\nXY", NULL}, 10, 0, 0};
  gh_thread t = gh_spawn(script_sender, &sc);
  REQUIRE(t > 0);
  char buf[16];
  memset(buf, 0, sizeof buf);
  const char *want[] = {"abcd", "efgh", "ij\n", "abc\n", "abcd", "\n", "XY"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    memset(buf, '#', sizeof buf);
    ssize_t n = gh_readline(a, buf, 4);
    EXPECT_READ(n, buf, want[i]);
    CHECKF(buf[4] == '#', "gh_readline(max 4) wrote a 5th byte");
  }
  CHECK_EQ(gh_readline(a, buf, 4), 0);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  gh_close(a);
}

TEST(read_until_crlf) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  struct script sc = {
      b, {"GET / HTTP/1.1\r", "\nHost: x\r\n\r\nx\r\r\ny\r\n0123456789\r\nEND", NULL}, 10, 0, 0};
  gh_thread t = gh_spawn(script_sender, &sc);
  REQUIRE(t > 0);
  char buf[64];
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), buf, "GET / HTTP/1.1\r\n");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), buf, "Host: x\r\n");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), buf, "\r\n");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), buf, "x\r\r\n");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), buf, "y\r\n");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, 4), buf, "0123");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, 4), buf, "4567");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, 4), buf, "89\r\n");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), buf, "END");
  CHECK_EQ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), 0);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_close(a);

  /* A delimiter whose prefix repeats: "aab" in "xaaabyy". */
  if (make_pair(&a, &b) == 0) {
    struct script sc2 = {b, {"xaa", "abyy", NULL}, 5, 0, 0};
    t = gh_spawn(script_sender, &sc2);
    REQUIRE(t > 0);
    EXPECT_READ(gh_read_until(a, "aab", 3, buf, sizeof buf), buf, "xaaab");
    EXPECT_READ(gh_read_until(a, "aab", 3, buf, sizeof buf), buf, "yy");
    CHECK_EQ(gh_read_until(a, "aab", 3, buf, sizeof buf), 0);
    CHECK_EQ(gh_join(t, &st), 0);
    gh_close(a);
  }
  gh_deadline_pop();
}

TEST(recv_after_readline_buffered) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  struct script sc = {b, {"line1\nAB", "CD\nline3\nZ", NULL}, 30, 0, 0};
  gh_thread t = gh_spawn(script_sender, &sc);
  REQUIRE(t > 0);
  char buf[64];
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "line1\n");
  /* "AB" is already buffered: recv returns it now, without waiting for more. */
  double t0 = now_ms();
  ssize_t n = gh_recv(a, buf, sizeof buf);
  EXPECT_READ(n, buf, "AB");
  CHECKF(now_ms() - t0 < 25, "recv of buffered data waited %.1f ms", now_ms() - t0);
  EXPECT_READ(gh_read_until(a, "\n", 1, buf, sizeof buf), buf, "CD\n");
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "line3\n");
  n = gh_recv(a, buf, sizeof buf);
  EXPECT_READ(n, buf, "Z");
  CHECK_EQ(gh_recv(a, buf, sizeof buf), 0);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  gh_close(a);
}

TEST(readline_timeout_keeps_partial) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  char buf[64];
  CHECK_EQ(gh_sendall(b, "abc", 3), 0);
  CHECK_EQ(gh_settimeout(a, 30), 0);
  CHECK_ERR(gh_readline(a, buf, sizeof buf), ETIMEDOUT);
  CHECK_EQ(gh_sendall(b, "def\nxy\r", 7), 0);
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "abcdef\n");
  CHECK_ERR(gh_read_until(a, "\r\n", 2, buf, sizeof buf), ETIMEDOUT);
  CHECK_EQ(gh_deadline_push(20), 0);
  CHECK_ERR(gh_read_until(a, "\r\n", 2, buf, sizeof buf), ETIMEDOUT);
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECK_EQ(gh_sendall(b, "\nz\r\n", 4), 0);
  /* The "\r" received before the timeouts and the "\n" after them form one delimiter. */
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), buf, "xy\r\n");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), buf, "z\r\n");
  /* A small recv takes from the buffered data without losing the rest. */
  CHECK_EQ(gh_sendall(b, "L\nABCDEFGH", 10), 0);
  CHECK_EQ(gh_settimeout(a, 1000), 0);
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "L\n");
  EXPECT_READ(gh_recv(a, buf, 3), buf, "ABC");
  EXPECT_READ(gh_recv(a, buf, sizeof buf), buf, "DEFGH");
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}

TEST(readline_long_line) {
  enum { LINE = 200 * 1024 };
  static char line[LINE + 16], got[LINE + 64 * 1024];
  for (int i = 0; i < LINE; i++) line[i] = (char)('a' + i % 26);
  line[LINE] = '\n';
  memcpy(line + LINE + 1, "tail\n", 5);
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  struct bulk_sender bs = {b, line, LINE + 6, -2, 0};
  gh_thread t = gh_spawn(bulk_sender_body, &bs);
  REQUIRE(t > 0);
  /* max larger than the line (and than 64 KiB): the whole line comes back at once. */
  ssize_t n = gh_readline(a, got, sizeof got);
  CHECKF(n == LINE + 1, "200 KiB line with max %zu: readline returned %zd", sizeof got, n);
  if (n == LINE + 1) CHECK(memcmp(got, line, LINE + 1) == 0);
  n = gh_readline(a, got, sizeof got);
  EXPECT_READ(n, got, "tail\n");
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(bs.rc, 0);
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}

TEST(read_until_any_stops_at_either_byte) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  /* A text reader's line ends: '\n', '\r' (also as the last byte of a send) and a "\r\n"
   * split across sends, then the unterminated rest at end of stream. */
  struct script sc = {b, {"ab\ncd\r", "\nef\rgh\r\nij\nk", NULL}, 10, 0, 0};
  gh_thread t = gh_spawn(script_sender, &sc);
  REQUIRE(t > 0);
  char buf[64];
  const char *want[] = {"ab\n", "cd\r", "\n", "ef\r", "gh\r", "\n", "ij\n", "k"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    EXPECT_READ(gh_read_until_any(a, "\r\n", 2, buf, sizeof buf), buf, want[i]);
  CHECK_EQ(gh_read_until_any(a, "\r\n", 2, buf, sizeof buf), 0);
  CHECK_ERR(gh_read_until_any(a, "\r\n", 0, buf, sizeof buf), EINVAL);
  CHECK_ERR(gh_read_until_any(a, "\r\n", 2, buf, 0), EINVAL);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  gh_close(a);
  CHECK_ERR(gh_read_until_any(a, "\n", 1, buf, sizeof buf), EBADF);
}

TEST(peek_waits_and_consumes_nothing_unread_comes_first) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  struct script sc = {b, {"hello\nworld", "!\n", NULL}, 30, 0, 0};
  gh_thread t = gh_spawn(script_sender, &sc);
  REQUIRE(t > 0);
  char buf[64];
  EXPECT_READ(gh_peek(a, buf, 3), buf, "hel"); /* waits for the first send */
  EXPECT_READ(gh_peek(a, buf, 3), buf, "hel");
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "hello\n");
  EXPECT_READ(gh_peek(a, buf, sizeof buf), buf, "world"); /* what readline left buffered */
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "world!\n");
  CHECK_EQ(gh_peek(a, buf, sizeof buf), 0); /* end of stream */
  CHECK_EQ(gh_recv(a, buf, sizeof buf), 0);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_close(a);

  /* A peek times out as a read does, and what arrives next is all still there. */
  if (make_pair(&a, &b) == 0) {
    CHECK_EQ(gh_settimeout(a, 30), 0);
    CHECK_ERR(gh_peek(a, buf, sizeof buf), ETIMEDOUT);
    CHECK_EQ(gh_sendall(b, "xyz", 3), 0);
    EXPECT_READ(gh_peek(a, buf, 1), buf, "x");
    EXPECT_READ(gh_recv(a, buf, sizeof buf), buf, "xyz");
    CHECK_EQ(gh_peek(a, buf, 0), 0);
    /* What a reader puts back comes first, before what arrives after it. */
    CHECK_EQ(gh_sendall(b, "tail\n", 5), 0);
    CHECK_EQ(gh_unread(a, "ab\ncd", 5), 0);
    CHECK_EQ(gh_unread(a, NULL, 0), 0);
    EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "ab\n");
    EXPECT_READ(gh_peek(a, buf, 2), buf, "cd");
    EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "cdtail\n");
    gh_close(a);
    gh_close(b);
    CHECK_ERR(gh_peek(a, buf, sizeof buf), EBADF);
    CHECK_ERR(gh_unread(a, "x", 1), EBADF);
  }
  gh_deadline_pop();
}
