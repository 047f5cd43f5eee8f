// Proves that greenhub.h compiles as C++ (extern "C" linkage, no C-only constructs):
//   g++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only -Iinclude tests/c/compile_cxx.cpp
// It is also linkable: every referenced function must have C linkage in the library.
#include "greenhub.h"

#include <cstdio>
#include <cstring>

// Redeclaring with explicit C linkage is an error ("conflicting declaration ... with 'C'
// linkage") if the header declared these with C++ linkage, i.e. without extern "C": this makes
// -fsyntax-only check the linkage too.
extern "C" const char *gh_version(void);
extern "C" gh_thread gh_spawn(gh_fn fn, void *arg);
extern "C" int gh_join(gh_thread t, int *status);
extern "C" gh_sock gh_connect(const char *host, uint16_t port);
extern "C" ssize_t gh_recv(gh_sock s, void *buf, size_t len);

namespace {

int worker(void *arg) {
  int *counter = static_cast<int *>(arg);
  ++*counter;
  return gh_sleep(1);
}

void on_log(void *ctx, const gh_report *report) {
  (void)ctx;
  std::fprintf(stderr, "log: %s\n", report->text);
}

}  // namespace

int main() {
  static_assert(sizeof(gh_sock) == 8, "gh_sock is 64-bit");
  static_assert(sizeof(gh_thread) == 8, "gh_thread is 64-bit");
  const char *v = gh_version();
  if (std::strcmp(v, GREENHUB_VERSION) != 0) return 1;

  gh_set_log(on_log, nullptr);
  int counter = 0;
  gh_spawn_opts opts;
  std::memset(&opts, 0, sizeof opts);
  opts.name = "cxx";
  opts.detached = false;
  gh_thread t = gh_spawn_ex(worker, &counter, &opts);
  int status = 0;
  if (t > 0 && gh_join(t, &status) != 0) return 2;

  gh_fn fn = worker;
  gh_thread u = gh_spawn(fn, &counter);
  (void)u;
  (void)gh_run();

  gh_sock l = gh_listen("127.0.0.1", 0, 16);
  gh_addr addr;
  if (l > 0 && gh_local_addr(l, &addr) == 0) {
    gh_sock c = gh_connect("127.0.0.1", addr.port);
    int64_t ms = 0;
    (void)gh_settimeout(c, 100);
    (void)gh_gettimeout(c, &ms);
    char buf[16];
    ssize_t n = gh_recv(c, buf, sizeof buf);
    (void)n;
    (void)gh_close(c);
    (void)gh_close(l);
  }
  long long overflow = GH_STATUS_STACK_OVERFLOW;
  (void)overflow;
  return counter >= 1 ? 0 : 3;
}
