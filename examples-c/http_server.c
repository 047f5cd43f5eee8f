/* http_server: static files over HTTP/1.1, one green thread per connection.
 * GET and HEAD of regular files inside ROOT (confined as file_server does: percent-decoded
 * first, then opened beneath ROOT by the kernel, so "..", "%2e%2e", absolute paths and
 * symlinks leading out are refused), keep-alive and pipelining, sendfile, Content-Type by
 * extension; 404 for anything that cannot be served, 405 for other methods, 400 for a target
 * that does not decode. Opening a file never blocks the hub (gh_open_beneath), and neither
 * does sending it (gh_http_sendfile). A client has TIMEOUT seconds for each request head.
 * usage: http_server [-p PORT] [-r ROOT] [-t TIMEOUT]   (defaults: 8000, ., 10)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "greenhub.h"

static int root_fd;          /* the served directory: every path is resolved beneath it */
static int64_t timeout_ms;   /* per request head: the slowloris defence */

static const struct {
    const char *ext, *type;
} content_types[] = {
    {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"}, {"css", "text/css"},
    {"js", "text/javascript"},           {"json", "application/json"},
    {"xml", "application/xml"},          {"svg", "image/svg+xml"},
    {"png", "image/png"},                {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},              {"gif", "image/gif"},
    {"webp", "image/webp"},              {"ico", "image/x-icon"},
    {"pdf", "application/pdf"},          {"wasm", "application/wasm"},
    {"mp4", "video/mp4"},                {"woff2", "font/woff2"},
};

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof content_types / sizeof *content_types; i++)
            if (strcasecmp(dot + 1, content_types[i].ext) == 0)
                return content_types[i].type;
    return "application/octet-stream";
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The path of an origin-form target ("/a%20b?q" -> "/a b") into OUT (NUL-terminated);
 * -1 if it is not one, has a bad escape, decodes to a NUL, or does not fit. */
static int decode_path(const char *target, size_t len, char *out, size_t cap)
{
    if (len == 0 || target[0] != '/')
        return -1;  /* absolute-form and asterisk-form are for proxies and OPTIONS */
    size_t o = 0;
    for (size_t i = 0; i < len && target[i] != '?' && target[i] != '#'; i++) {
        char c = target[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_digit(target[i + 1]) : -1;
            int lo = hi >= 0 ? hex_digit(target[i + 2]) : -1;
            if (lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* Opens the regular file PATH inside ROOT; -1 with errno set if it cannot be served. Only this
 * green thread waits for the open, however slow the filesystem. */
static int open_served_file(const char *path, gh_file_info *info)
{
    while (*path == '/')
        path++;
    if (*path == '\0')
        path = ".";  /* ROOT itself: a directory, refused below */
    /* Beneath ROOT only: "..", absolute symlinks and symlinks leading out fail with EXDEV,
     * magic links with ELOOP. O_NONBLOCK: a FIFO must not make the open wait. */
    int fd = gh_open_beneath(root_fd, path, O_RDONLY | O_NONBLOCK, info);
    if (fd == -1)
        return -1;
    if (S_ISREG(info->mode))
        return fd;
    close(fd);
    errno = S_ISDIR(info->mode) ? EISDIR : EINVAL;
    return -1;
}

/* A short response with a text body; returns what gh_http_respond() does. */
static int respond_text(gh_http conn, int status, const char *extra, const char *text)
{
    char fields[256];
    int n = snprintf(fields, sizeof fields, "Content-Type: text/plain; charset=utf-8\r\n%s",
                     extra ? extra : "");
    return gh_http_respond(conn, status, NULL, fields, (size_t)n, text, strlen(text), 0,
                           timeout_ms);
}

/* Answers one request; -1 when the connection cannot go on. */
static int serve_request(gh_http conn, const char *buf, const gh_http_request *req)
{
    const char *method = buf + req->method.off;
    int get = req->method.len == 3 && memcmp(method, "GET", 3) == 0;
    if (!get && !(req->flags & GH_HTTP_HEAD))
        return respond_text(conn, 405, "Allow: GET, HEAD\r\n", "method not allowed\n");

    char path[4096];
    if (decode_path(buf + req->target.off, req->target.len, path, sizeof path) == -1)
        return respond_text(conn, 400, NULL, "bad request target\n");

    gh_file_info info;
    int fd = open_served_file(path, &info);
    if (fd == -1)  /* missing, outside ROOT, a directory, unreadable: all look the same */
        return respond_text(conn, 404, NULL, "not found\n");

    char fields[256];
    int n = snprintf(fields, sizeof fields, "Content-Type: %s\r\nContent-Length: %lld\r\n",
                     content_type(path), (long long)info.size);
    /* The head waits for the file's first bytes, and both leave in one segment. For HEAD
     * the connection sends the head alone. */
    int rc = gh_http_respond(conn, 200, NULL, fields, (size_t)n, NULL, 0, GH_HTTP_MORE,
                             timeout_ms);
    if (rc == 0) {
        ssize_t sent = gh_http_sendfile(conn, fd, 0, (size_t)info.size, 0, timeout_ms);
        rc = sent < 0 ? -1 : 0;  /* a file that shrank meanwhile ends the connection */
    }
    close(fd);
    return rc;
}

/* Runs in its own green thread, which owns the client socket. */
static int connection_handler(void *arg)
{
    gh_sock sock = (gh_sock)(intptr_t)arg;
    gh_http conn = gh_http_new(sock, NULL);
    char *buf = malloc(GH_HTTP_REQUEST_BUF);  /* malloc's alignment suits the index */
    if (conn != -1 && buf) {
        gh_http_request req;
        for (;;) {
            ssize_t n = gh_http_read_request(conn, buf, GH_HTTP_REQUEST_BUF, &req, timeout_ms);
            if (n <= 0)
                break;  /* no more requests, a refused one (already answered), or a timeout */
            if (serve_request(conn, buf, &req) == -1)
                break;
        }
        gh_http_free(conn);
    }
    free(buf);
    gh_close(sock);
    return 0;
}

int main(int argc, char **argv)
{
    long port = 8000, timeout_s = 10;
    const char *root = ".";
    char *end = NULL;
    int opt, bad = 0;

    while ((opt = getopt(argc, argv, "p:r:t:")) != -1) {
        if (opt == 'p') {
            port = strtol(optarg, &end, 10);
            bad |= end == optarg || *end || port < 0 || port > 65535;
        } else if (opt == 't') {
            timeout_s = strtol(optarg, &end, 10);
            bad |= end == optarg || *end || timeout_s <= 0 || timeout_s > 86400;
        } else if (opt == 'r') {
            root = optarg;
        } else {
            bad = 1;
        }
    }
    if (bad || optind != argc) {
        fprintf(stderr, "usage: %s [-p PORT] [-r ROOT] [-t TIMEOUT]\n", argv[0]);
        return 2;
    }
    timeout_ms = timeout_s * 1000;
    /* A client that leaves mid-file is an error return, never a signal; with SIGPIPE
     * ignored the library needs no signal-mask calls around each sendfile(2). */
    signal(SIGPIPE, SIG_IGN);

    root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd == -1) {
        perror(root);
        return 1;
    }
    gh_sock server = gh_listen(NULL, (uint16_t)port, SOMAXCONN);
    if (server == -1) {
        perror("gh_listen");
        return 1;
    }
    gh_addr local;
    if (gh_local_addr(server, &local) == 0)
        port = local.port;  /* with -p 0, report the port we actually got */
    printf("http server listening on port %ld, serving %s\n", port, root);
    fflush(stdout);

    for (;;) {
        gh_sock sock = gh_accept(server, NULL);  /* blocking in main runs the hub */
        if (sock == -1) {
            int err = errno;  /* EMFILE/ENFILE never get here: the library retries them */
            if (err == ECANCELED || err == EINTR || err == EBADF || err == EDEADLK)
                break;
            continue;  /* one lost client: keep serving */
        }
        gh_spawn_opts opts = {.sock = sock, .detached = true};
        if (gh_spawn_ex(connection_handler, (void *)(intptr_t)sock, &opts) == -1)
            gh_close(sock);  /* no stack left: turn this client away, keep the others */
    }
    gh_close(server);
    return 0;
}
