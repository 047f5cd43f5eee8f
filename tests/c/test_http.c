/* greenhub C API tests: HTTP/1.1 connections (gh_http_*). The client side of each test is a
 * plain green socket writing raw bytes, so every case (pipelining, smuggling attempts, limits)
 * is exactly the bytes a hostile client would send. The server side is a gh_http on the
 * accepted socket. Both run on one hub; where the server must wait for the client mid-request
 * (100-continue, slow heads), the client is a green thread.
 */
#include "harness.h"
#include "support.h"

#include <fcntl.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_DEADLINE_MS 10000

/* A request buffer with the alignment the index needs. */
static union {
  char bytes[GH_HTTP_REQUEST_BUF];
  uint64_t align;
} reqmem;
#define reqbuf reqmem.bytes

/* A connected pair; *conn is HTTP on the server side. 0 or -1 (failure recorded). */
static int http_pair(gh_sock *client, gh_sock *server, gh_http *conn) {
  if (make_pair(client, server) != 0) return -1;
  *conn = gh_http_new(*server, NULL);
  if (*conn <= 0) {
    th_fail(__FILE__, __LINE__, errno, "gh_http_new failed");
    return -1;
  }
  return 0;
}

static void send_str(gh_sock s, const char *text) { gh_sendall(s, text, strlen(text)); }

/* Everything the peer sends within `ms` of quiet (or until it closes), NUL-terminated. */
static size_t recv_all(gh_sock s, char *buf, size_t cap, int64_t ms) {
  size_t got = 0;
  gh_settimeout(s, ms);
  while (got + 1 < cap) {
    ssize_t n = gh_recv(s, buf + got, cap - 1 - got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  buf[got] = '\0';
  gh_settimeout(s, -1);
  return got;
}

/* Occurrences of `needle` in `hay`. */
static int count_of(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
  return n;
}

static int span_is(const gh_http_span *s, const char *text) {
  return s->len == strlen(text) && memcmp(reqbuf + s->off, text, s->len) == 0;
}

/* The value of header `name` (case-insensitive) through the index, or NULL. */
static const char *header_value(const gh_http_request *r, const char *name, char *out, size_t cap) {
  const gh_http_header *idx = (const gh_http_header *)(void *)reqbuf;
  for (uint32_t i = 0; i < r->nheaders; i++) {
    if (idx[i].name_len == strlen(name) && strncasecmp(reqbuf + idx[i].name, name, idx[i].name_len) == 0 &&
        idx[i].value_len < cap) {
      memcpy(out, reqbuf + idx[i].value, idx[i].value_len);
      out[idx[i].value_len] = '\0';
      return out;
    }
  }
  return NULL;
}

static ssize_t read_req(gh_http conn, gh_http_request *r) {
  return gh_http_read_request(conn, reqbuf, sizeof reqbuf, r, HTTP_DEADLINE_MS);
}

static int respond_str(gh_http conn, int status, const char *fields, const char *body) {
  return gh_http_respond(conn, status, NULL, fields, strlen(fields), body, strlen(body), 0, HTTP_DEADLINE_MS);
}

/* ------------------------------------------------------------------------------------------ */

TEST(http_pipelined_keep_alive) {
  gh_sock c, s;
  gh_http conn;
  REQUIRE(http_pair(&c, &s, &conn) == 0);
  send_str(c,
           "GET /one?x=1 HTTP/1.1\r\nHost: example\r\nX-Pad:   spaced value  \r\n\r\n"
           "HEAD /two HTTP/1.1\r\nHost: example\r\n\r\n"
           "GET /three HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n");
  gh_http_request r;
  char v[64];
  ssize_t n = read_req(conn, &r);
  REQUIRE(n > 0);
  CHECK(span_is(&r.method, "GET"));
  CHECK(span_is(&r.target, "/one?x=1"));
  CHECK(span_is(&r.fields, "Host: example\r\nX-Pad: spaced value\r\n"));
  CHECK_EQ(r.nheaders, 2);
  CHECK_EQ(r.version, 11);
  CHECK_EQ(r.flags, GH_HTTP_KEEP_ALIVE);
  CHECK_EQ(r.content_length, 0);
  CHECK(header_value(&r, "x-pad", v, sizeof v) && strcmp(v, "spaced value") == 0);
  CHECK_EQ(respond_str(conn, 200, "Content-Type: text/plain\r\n", "first"), 0);

  REQUIRE(read_req(conn, &r) > 0);
  CHECK(span_is(&r.target, "/two"));
  CHECK_EQ(r.flags, GH_HTTP_KEEP_ALIVE | GH_HTTP_HEAD);
  CHECK_EQ(respond_str(conn, 200, "", "not sent for HEAD"), 0);

  REQUIRE(read_req(conn, &r) > 0);
  CHECK(span_is(&r.target, "/three"));
  CHECK_EQ(r.flags & GH_HTTP_KEEP_ALIVE, 0);
  CHECK_EQ(respond_str(conn, 404, "", "third"), 0);
  CHECK_EQ(read_req(conn, &r), 0); /* Connection: close: no more requests */

  char out[4096];
  recv_all(c, out, sizeof out, 300);
  CHECK_EQ(count_of(out, "HTTP/1.1 "), 3);
  const char *second = strstr(out, "HTTP/1.1 200 OK\r\n");
  CHECK(second && strstr(second, "first"));
  CHECK(strstr(out, "Content-Length: 5\r\n\r\nfirst"));
  CHECK(strstr(out, "Content-Length: 17\r\n\r\nHTTP/1.1 404 Not Found")); /* HEAD: length only */
  CHECK(strstr(out, "Connection: close\r\n\r\nthird"));
  CHECK(strstr(out, "\r\nDate: ") != NULL);
  CHECK(strstr(out, "not sent") == NULL);
  gh_http_free(conn);
  gh_close(c);
  gh_close(s);
}

TEST(http_content_length_body) {
  gh_sock c, s;
  gh_http conn;
  REQUIRE(http_pair(&c, &s, &conn) == 0);
  send_str(c, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello");
  gh_http_request r;
  REQUIRE(read_req(conn, &r) > 0);
  CHECK_EQ(r.content_length, 11);
  char body[64];
  ssize_t n = gh_http_read_body(conn, body, sizeof body, HTTP_DEADLINE_MS);
  CHECK_EQ(n, 5);
  /* the rest of the body, and a request right behind it that must stay a request */
  send_str(c, " worldGET /next HTTP/1.1\r\nHost: h\r\n\r\n");
  size_t got = (size_t)(n > 0 ? n : 0);
  while ((n = gh_http_read_body(conn, body + got, sizeof body - got, HTTP_DEADLINE_MS)) > 0) got += (size_t)n;
  CHECK_EQ(n, 0);
  CHECK_EQ(got, 11);
  CHECK(memcmp(body, "hello world", 11) == 0);
  CHECK_EQ(respond_str(conn, 200, "", "ok"), 0);
  REQUIRE(read_req(conn, &r) > 0);
  CHECK(span_is(&r.target, "/next"));
  gh_http_free(conn);
  gh_close(c);
  gh_close(s);
}

TEST(http_chunked_body_and_unread_body) {
  gh_sock c, s;
  gh_http conn;
  REQUIRE(http_pair(&c, &s, &conn) == 0);
  send_str(c,
           "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
           "POST /unread HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789"
           "POST /unread-chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
           "3\r\nabc\r\n0\r\n\r\n"
           "GET /last HTTP/1.1\r\nHost: h\r\n\r\n");
  gh_http_request r;
  REQUIRE(read_req(conn, &r) > 0);
  CHECK_EQ(r.content_length, -1);
  CHECK_EQ(r.flags & GH_HTTP_CHUNKED, GH_HTTP_CHUNKED);
  char body[64];
  size_t got = 0;
  ssize_t n;
  while ((n = gh_http_read_body(conn, body + got, sizeof body - got, HTTP_DEADLINE_MS)) > 0) got += (size_t)n;
  CHECK_EQ(n, 0);
  CHECK_EQ(got, 11);
  CHECK(memcmp(body, "hello world", 11) == 0);
  CHECK_EQ(respond_str(conn, 200, "", ""), 0);
  /* bodies nobody reads are skipped, never taken for requests */
  REQUIRE(read_req(conn, &r) > 0);
  CHECK(span_is(&r.target, "/unread"));
  CHECK_EQ(respond_str(conn, 200, "", ""), 0);
  REQUIRE(read_req(conn, &r) > 0);
  CHECK(span_is(&r.target, "/unread-chunked"));
  CHECK_EQ(respond_str(conn, 200, "", ""), 0);
  REQUIRE(read_req(conn, &r) > 0);
  CHECK(span_is(&r.target, "/last"));
  gh_http_free(conn);
  gh_close(c);
  gh_close(s);
}

/* Each smuggling attempt is answered 400 and the bytes after it are never a request. */
TEST(http_smuggling_refused) {
  static const char *attempts[] = {
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\n"
      "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n"
      "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n" /* obs-fold */
      "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 4\r\n\r\n"
      "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
      "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof attempts / sizeof *attempts; i++) {
    gh_sock c, s;
    gh_http conn;
    REQUIRE(http_pair(&c, &s, &conn) == 0);
    send_str(c, attempts[i]);
    gh_http_request r;
    CHECK_ERR(read_req(conn, &r), EPROTO);
    CHECK_EQ(gh_http_error_status(EPROTO), 400);
    CHECK_EQ(read_req(conn, &r), 0);
    char out[1024];
    recv_all(c, out, sizeof out, 300);
    CHECKF(strncmp(out, "HTTP/1.1 400 Bad Request\r\n", 26) == 0 && count_of(out, "HTTP/1.1") == 1,
           "attempt %zu answered: %s", i, out);
    CHECK(strstr(out, "Connection: close\r\n"));
    gh_http_free(conn);
    gh_close(c);
    gh_close(s);
  }
}

/* A bad chunk size (or data longer than its size) fails the body read; nothing after it is
 * read as a request. */
TEST(http_invalid_chunks) {
  static const char *bodies[] = {
      "zz\r\nhello\r\n0\r\n\r\n", "\r\nhello\r\n0\r\n\r\n", "-5\r\nhello\r\n0\r\n\r\n",
      "5\r\nhelloXX0\r\n\r\n", "fffffffffffffffff\r\n", "5\nhello\r\n0\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
    gh_sock c, s;
    gh_http conn;
    REQUIRE(http_pair(&c, &s, &conn) == 0);
    send_str(c, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    send_str(c, bodies[i]);
    send_str(c, "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n");
    gh_http_request r;
    REQUIRE(read_req(conn, &r) > 0);
    char body[64];
    ssize_t n;
    while ((n = gh_http_read_body(conn, body, sizeof body, HTTP_DEADLINE_MS)) > 0) {
    }
    CHECKF(n == -1 && errno == EPROTO, "body %zu: read gave %zd (%s)", i, n, th_errname(errno));
    CHECK_EQ(respond_str(conn, 400, "", "bad body"), 0);
    CHECK_EQ(read_req(conn, &r), 0);
    char out[1024];
    recv_all(c, out, sizeof out, 200);
    CHECK(strstr(out, "Connection: close\r\n"));
    gh_http_free(conn);
    gh_close(c);
    gh_close(s);
  }
}

static void check_limit(const char *prefix, size_t repeat_len, const char *unit, int want_errno,
                        const char *want_status) {
  gh_sock c, s;
  gh_http conn;
  REQUIRE(http_pair(&c, &s, &conn) == 0);
  send_str(c, prefix);
  for (size_t i = 0; i < repeat_len; i++) send_str(c, unit);
  send_str(c, "\r\n\r\n");
  gh_http_request r;
  CHECK_ERR(read_req(conn, &r), want_errno);
  char out[1024];
  recv_all(c, out, sizeof out, 300);
  CHECKF(strncmp(out, want_status, strlen(want_status)) == 0, "answered: %.60s", out);
  CHECK_EQ(read_req(conn, &r), 0);
  gh_http_free(conn);
  gh_close(c);
  gh_close(s);
}

TEST(http_limits) {
  /* request line of 8193 bytes: 414; one of 8192 is fine */
  check_limit("GET /", 8200, "a", ENAMETOOLONG, "HTTP/1.1 414 URI Too Long\r\n");
  /* head over 64 KiB in 70 fields: 431 */
  static char big[1024];
  memcpy(big, "X-Big: ", 7);
  memset(big + 7, 'v', sizeof big - 10);
  memcpy(big + sizeof big - 3, "\r\n", 3);
  check_limit("GET / HTTP/1.1\r\nHost: h\r\n", 70, big, EMSGSIZE,
              "HTTP/1.1 431 Request Header Fields Too Large\r\n");
  /* 101 fields: 431 */
  check_limit("GET / HTTP/1.1\r\nHost: h\r\n", 100, "X: y\r\n", EMSGSIZE,
              "HTTP/1.1 431 Request Header Fields Too Large\r\n");
  CHECK_EQ(gh_http_error_status(ENAMETOOLONG), 414);
  CHECK_EQ(gh_http_error_status(EMSGSIZE), 431);
  CHECK_EQ(gh_http_error_status(ETIMEDOUT), 0);

  /* exactly at the limits: accepted */
  gh_sock c, s;
  gh_http conn;
  REQUIRE(http_pair(&c, &s, &conn) == 0);
  char line[8300];
  int n = snprintf(line, sizeof line, "GET /%0*d HTTP/1.1\r\nHost: h\r\n\r\n", 8192 - 14, 0);
  REQUIRE(n > 0);
  send_str(c, line);
  gh_http_request r;
  CHECK(read_req(conn, &r) > 0);
  CHECK_EQ(r.target.len, 8192 - 13);
  gh_http_free(conn);
  gh_close(c);
  gh_close(s);
}

struct continue_client {
  gh_sock c;
  char got[1024];
};

static int continue_client(void *arg) {
  struct continue_client *cc = arg;
  send_str(cc->c, "PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  char interim[64];
  ssize_t n = gh_read_until(cc->c, "\r\n\r\n", 4, interim, sizeof interim - 1);
  if (n <= 0) return 1;
  interim[n] = '\0';
  if (strcmp(interim, "HTTP/1.1 100 Continue\r\n\r\n") != 0) return 2;
  send_str(cc->c, "data");
  recv_all(cc->c, cc->got, sizeof cc->got, 300);
  return 0;
}

TEST(http_expect_continue) {
  gh_sock c, s;
  gh_http conn;
  REQUIRE(http_pair(&c, &s, &conn) == 0);
  struct continue_client cc = {.c = c};
  gh_deadline_push(HTTP_DEADLINE_MS);
  gh_thread t = gh_spawn(continue_client, &cc);
  gh_http_request r;
  REQUIRE(read_req(conn, &r) > 0);
  CHECK_EQ(r.flags & GH_HTTP_EXPECT_CONTINUE, GH_HTTP_EXPECT_CONTINUE);
  char body[16];
  ssize_t n = gh_http_read_body(conn, body, sizeof body, HTTP_DEADLINE_MS); /* sends 100 Continue */
  CHECK_EQ(n, 4);
  CHECK(n == 4 && memcmp(body, "data", 4) == 0);
  CHECK_EQ(respond_str(conn, 201, "", "stored"), 0);
  int status = -1;
  CHECK_EQ(gh_join(t, &status), 0);
  CHECK_EQ(status, 0);
  CHECK(strncmp(cc.got, "HTTP/1.1 201 Created\r\n", 22) == 0);
  gh_deadline_pop();

  /* answered without reading the body: no 100 Continue, and the connection ends */
  gh_sock c2, s2;
  gh_http conn2;
  REQUIRE(http_pair(&c2, &s2, &conn2) == 0);
  send_str(c2, "PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  REQUIRE(read_req(conn2, &r) > 0);
  CHECK_EQ(respond_str(conn2, 413, "", ""), 0);
  CHECK_EQ(read_req(conn2, &r), 0);
  char out[512];
  recv_all(c2, out, sizeof out, 200);
  CHECK(strstr(out, "100 Continue") == NULL);
  CHECK(strstr(out, "HTTP/1.1 413 Content Too Large\r\n") == out);
  CHECK(strstr(out, "Connection: close\r\n"));
  gh_http_free(conn);
  gh_http_free(conn2);
  gh_close(c);
  gh_close(s);
  gh_close(c2);
  gh_close(s2);
}

TEST(http_10_and_streamed_responses) {
  gh_sock c, s;
  gh_http conn;
  REQUIRE(http_pair(&c, &s, &conn) == 0);
  send_str(c, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n");
  gh_http_request r;
  REQUIRE(read_req(conn, &r) > 0);
  CHECK_EQ(r.version, 10);
  CHECK_EQ(r.flags, GH_HTTP_KEEP_ALIVE);
  CHECK_EQ(respond_str(conn, 200, "", "a"), 0);
  REQUIRE(read_req(conn, &r) > 0);
  CHECK_EQ(r.flags, 0);
  /* a streamed body for HTTP/1.0: no chunks, ended by the close */
  CHECK_EQ(gh_http_respond(conn, 200, "Fine", "X: 1\r\n", 6, NULL, 0, GH_HTTP_MORE, HTTP_DEADLINE_MS), 0);
  CHECK_EQ(gh_http_write(conn, "par", 3, GH_HTTP_MORE, HTTP_DEADLINE_MS), 0);
  CHECK_EQ(gh_http_write(conn, "t", 1, 0, HTTP_DEADLINE_MS), 0);
  CHECK_EQ(read_req(conn, &r), 0);
  char out[1024];
  recv_all(c, out, sizeof out, 300);
  CHECK(strstr(out, "Connection: keep-alive\r\n\r\na"));
  CHECK(strstr(out, "HTTP/1.1 200 Fine\r\n"));
  CHECK(strstr(out, "Connection: close\r\n\r\npart"));
  CHECK(strstr(out, "Transfer-Encoding") == NULL);
  gh_http_free(conn);
  gh_close(c);
  gh_close(s);

  /* HTTP/1.1: chunked, and the head leaves with the first chunk */
  REQUIRE(http_pair(&c, &s, &conn) == 0);
  send_str(c, "GET /s HTTP/1.1\r\nHost: h\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(read_req(conn, &r) > 0);
  CHECK_EQ(gh_http_respond(conn, 200, NULL, "", 0, NULL, 0, GH_HTTP_MORE, HTTP_DEADLINE_MS), 0);
  CHECK_EQ(gh_http_write(conn, "hello", 5, GH_HTTP_MORE, HTTP_DEADLINE_MS), 0);
  CHECK_EQ(gh_http_write(conn, " chunked world", 14, GH_HTTP_MORE, HTTP_DEADLINE_MS), 0);
  CHECK_EQ(gh_http_write(conn, NULL, 0, 0, HTTP_DEADLINE_MS), 0);
  REQUIRE(read_req(conn, &r) > 0);
  CHECK(span_is(&r.target, "/after"));
  recv_all(c, out, sizeof out, 200);
  CHECK(strstr(out, "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\ne\r\n chunked world\r\n0\r\n\r\n"));
  /* a given Content-Length is kept to */
  CHECK_EQ(gh_http_respond(conn, 200, NULL, "Content-Length: 4\r\n", 19, NULL, 0, GH_HTTP_MORE, HTTP_DEADLINE_MS), 0);
  CHECK_ERR(gh_http_write(conn, "12345", 5, 0, HTTP_DEADLINE_MS), EINVAL);
  CHECK_EQ(gh_http_write(conn, "1234", 4, 0, HTTP_DEADLINE_MS), 0);
  recv_all(c, out, sizeof out, 200);
  CHECK(strstr(out, "Content-Length: 4\r\n\r\n1234"));
  CHECK(strstr(out, "Transfer-Encoding") == NULL);
  gh_http_free(conn);
  gh_close(c);
  gh_close(s);
}

TEST(http_sendfile_bodies) {
  char path[] = "/tmp/gh-test-http-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  unlink(path);
  char data[3000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (char)('a' + i % 26);
  REQUIRE(write(fd, data, sizeof data) == (ssize_t)sizeof data);
  gh_sock c, s;
  gh_http conn;
  REQUIRE(http_pair(&c, &s, &conn) == 0);
  send_str(c, "GET /f HTTP/1.1\r\nHost: h\r\n\r\nGET /g HTTP/1.1\r\nHost: h\r\n\r\nGET /h HTTP/1.1\r\nHost: h\r\n\r\n");
  gh_http_request r;
  REQUIRE(read_req(conn, &r) > 0);
  CHECK_EQ(gh_http_respond(conn, 200, NULL, "Content-Length: 3000\r\n", 22, NULL, 0, GH_HTTP_MORE, HTTP_DEADLINE_MS), 0);
  CHECK_ERR(gh_http_sendfile(conn, fd, 0, 3001, 0, HTTP_DEADLINE_MS), EINVAL); /* past the length */
  CHECK_EQ(gh_http_sendfile(conn, fd, 0, 3000, 0, HTTP_DEADLINE_MS), 3000);
  REQUIRE(read_req(conn, &r) > 0);
  CHECK_EQ(gh_http_respond(conn, 200, NULL, "", 0, NULL, 0, GH_HTTP_MORE, HTTP_DEADLINE_MS), 0);
  CHECK_EQ(gh_http_sendfile(conn, fd, 10, 16, GH_HTTP_MORE, HTTP_DEADLINE_MS), 16);
  CHECK_EQ(gh_http_sendfile(conn, fd, 0, 3, 0, HTTP_DEADLINE_MS), 3);
  /* a file shorter than its Content-Length: what exists is sent, then the connection ends */
  REQUIRE(read_req(conn, &r) > 0);
  CHECK_EQ(gh_http_respond(conn, 200, NULL, "Content-Length: 100\r\n", 21, NULL, 0, GH_HTTP_MORE, HTTP_DEADLINE_MS), 0);
  CHECK_EQ(gh_http_sendfile(conn, fd, 2950, 100, 0, HTTP_DEADLINE_MS), 50);
  CHECK_EQ(read_req(conn, &r), 0);
  static char out[16384];
  recv_all(c, out, sizeof out, 300);
  const char *body = strstr(out, "Content-Length: 3000\r\n\r\n");
  CHECK(body && memcmp(body + 24, data, 3000) == 0);
  CHECK(strstr(out, "Transfer-Encoding: chunked\r\n\r\n10\r\nklmnopqrstuvwxyz\r\n3\r\nabc\r\n0\r\n\r\n"));
  close(fd);
  gh_http_free(conn);
  gh_close(c);
  gh_close(s);
}

static int slow_client(void *arg) {
  gh_sock c = (gh_sock)(intptr_t)arg;
  const char *head = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (const char *p = head; *p; p++) { /* a byte every 120 ms: 3 s for the whole head */
    if (gh_sendall(c, p, 1) != 0 || gh_sleep(120) != 0) return 0;
  }
  return 0;
}

TEST(http_head_timeout_against_slow_clients) {
  gh_sock c, s;
  gh_http conn;
  REQUIRE(http_pair(&c, &s, &conn) == 0);
  gh_thread t = gh_spawn(slow_client, (void *)(intptr_t)c);
  gh_http_request r;
  double t0 = now_ms();
  CHECK_ERR(gh_http_read_request(conn, reqbuf, sizeof reqbuf, &r, 300), ETIMEDOUT);
  double took = now_ms() - t0;
  CHECKF(took >= 250 && took < 1500, "the head read took %.0f ms against a 300 ms limit", took);
  CHECK_EQ(read_req(conn, &r), 0); /* half a head cannot be resumed */
  gh_kill(t);
  gh_join(t, NULL);
  /* an idle connection times out too, and can be waited on again */
  gh_sock c2, s2;
  gh_http conn2;
  REQUIRE(http_pair(&c2, &s2, &conn2) == 0);
  CHECK_ERR(gh_http_read_request(conn2, reqbuf, sizeof reqbuf, &r, 50), ETIMEDOUT);
  send_str(c2, "GET /late HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(read_req(conn2, &r) > 0);
  gh_http_free(conn);
  gh_http_free(conn2);
}

TEST(http_bad_arguments) {
  gh_sock c, s;
  gh_http conn;
  REQUIRE(http_pair(&c, &s, &conn) == 0);
  gh_http_request r;
  /* nothing to respond to yet */
  CHECK_ERR(respond_str(conn, 200, "", ""), EINVAL);
  CHECK_ERR(gh_http_write(conn, "x", 1, 0, 0), EINVAL);
  CHECK_ERR(gh_http_read_body(conn, reqbuf, 16, 0), EINVAL);
  send_str(c, "GET /x HTTP/1.1\r\nHost: h\r\nA: b\r\n\r\n");
  CHECK_ERR(gh_http_read_request(conn, reqbuf, 16, &r, HTTP_DEADLINE_MS), ERANGE); /* too small */
  CHECK_ERR(gh_http_read_request(conn, reqbuf + 1, 4096, &r, HTTP_DEADLINE_MS), EINVAL); /* misaligned */
  CHECK_ERR(gh_http_read_request(conn, reqbuf, 4096, NULL, HTTP_DEADLINE_MS), EINVAL);
  REQUIRE(read_req(conn, &r) > 0); /* nothing was consumed by the failures */
  CHECK(span_is(&r.target, "/x"));
  /* fields that would inject a line, bad statuses and flags: EINVAL, nothing sent */
  CHECK_ERR(respond_str(conn, 200, "X: a\r\nInjected: yes", ""), EINVAL);
  CHECK_ERR(respond_str(conn, 200, "X: a\nY: b\r\n", ""), EINVAL);
  CHECK_ERR(respond_str(conn, 200, "Bad Name: a\r\n", ""), EINVAL);
  CHECK_ERR(respond_str(conn, 200, "Transfer-Encoding: gzip\r\n", ""), EINVAL);
  CHECK_ERR(respond_str(conn, 99, "", ""), EINVAL);
  CHECK_ERR(respond_str(conn, 100, "", ""), EINVAL);
  CHECK_ERR(respond_str(conn, 200, "Content-Length: 3\r\n", "four"), EINVAL);
  CHECK_ERR(gh_http_respond(conn, 200, "a\r\nb", "", 0, "", 0, 0, 0), EINVAL);
  CHECK_ERR(gh_http_respond(conn, 200, NULL, "", 0, "", 0, 2, 0), EINVAL);
  CHECK_ERR(gh_http_respond(conn, 200, NULL, NULL, 5, "", 0, 0, 0), EINVAL);
  CHECK_EQ(respond_str(conn, 200, "", "ok"), 0);
  CHECK_ERR(respond_str(conn, 200, "", "twice"), EINVAL);
  char out[512];
  recv_all(c, out, sizeof out, 200);
  CHECK_EQ(count_of(out, "HTTP/1.1"), 1);
  CHECK(strstr(out, "Injected") == NULL);
  /* stale, made-up and other-kind handles */
  CHECK_EQ(gh_http_free(conn), 0);
  CHECK_ERR(gh_http_free(conn), EBADF);
  CHECK_ERR(read_req(conn, &r), EBADF);
  CHECK_ERR(read_req(s, &r), EBADF); /* a socket is not an HTTP connection */
  CHECK_ERR(read_req(-5, &r), EBADF);
  CHECK_ERR(gh_http_new(-1, NULL), EBADF);
  gh_http_limits bad = {.request_line_max = 100000, .head_max = 0, .headers_max = 0};
  CHECK_ERR(gh_http_new(s, &bad), EINVAL);
  gh_http_limits tight = {.request_line_max = 16, .head_max = 0, .headers_max = 2};
  gh_http conn2 = gh_http_new(s, &tight);
  REQUIRE(conn2 > 0);
  send_str(c, "GET /a HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n");
  CHECK_ERR(read_req(conn2, &r), EMSGSIZE);
  gh_http_free(conn2);
  gh_close(c);
  gh_close(s);
}

/* After 101 Switching Protocols the socket carries the new protocol, starting right after the
 * request head: nothing HTTP read ahead is lost. */
TEST(http_upgrade_hands_the_socket_back) {
  gh_sock c, s;
  gh_http conn;
  REQUIRE(http_pair(&c, &s, &conn) == 0);
  send_str(c, "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nFRAME-BYTES");
  gh_http_request r;
  REQUIRE(read_req(conn, &r) > 0);
  CHECK_EQ(r.flags & GH_HTTP_UPGRADE, GH_HTTP_UPGRADE);
  const char *fields = "Connection: Upgrade\r\nUpgrade: websocket\r\n";
  CHECK_EQ(gh_http_respond(conn, 101, NULL, fields, strlen(fields), NULL, 0, 0, HTTP_DEADLINE_MS), 0);
  CHECK_EQ(read_req(conn, &r), 0);
  CHECK_EQ(gh_http_free(conn), 0);
  char got[32] = {0};
  CHECK_EQ(recv_exact(s, got, 11), 11);
  CHECK(memcmp(got, "FRAME-BYTES", 11) == 0);
  char out[512];
  recv_all(c, out, sizeof out, 200);
  CHECK(strncmp(out, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0);
  CHECK(strstr(out, "Content-Length") == NULL && strstr(out, "Connection: close") == NULL);
  gh_close(c);
  gh_close(s);
}
