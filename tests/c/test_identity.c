/* greenhub C API tests: who a thread is. gh_self in the root and in (nested) threads;
 * thread names (gh_set_name, gh_get_name). */
#include "harness.h"
#include "support.h"

struct self_info {
  gh_thread self;
  gh_thread child_id;
  gh_thread child_self;
};

static int record_self(void *arg) {
  *(gh_thread *)arg = gh_self();
  return 0;
}

static int self_spawner(void *arg) {
  struct self_info *si = arg;
  si->self = gh_self();
  si->child_id = gh_spawn(record_self, &si->child_self);
  if (si->child_id <= 0) return 1;
  int st;
  return gh_join(si->child_id, &st) == 0 ? 0 : 2;
}

TEST(self_ids) {
  CHECK_EQ(gh_self(), 0);
  struct self_info si = {-1, -1, -1};
  gh_thread t = gh_spawn(self_spawner, &si);
  REQUIRE(t > 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 0);
  CHECKF(si.self == t, "gh_self() inside = %lld, gh_spawn returned %lld", (long long)si.self,
         (long long)t);
  CHECK(si.self > 0);
  CHECKF(si.child_self == si.child_id && si.child_id > 0,
         "nested: gh_self() = %lld, gh_spawn returned %lld", (long long)si.child_self,
         (long long)si.child_id);
  CHECK(si.child_id != t);
  CHECK_EQ(gh_self(), 0);
}

struct name_seen {
  char name[64];
  int rc;
};

static int read_own_name(void *arg) {
  struct name_seen *ns = arg;
  ns->rc = gh_get_name(gh_self(), ns->name, sizeof ns->name);
  return 0;
}

TEST(thread_names) {
  char src[40] = "worker-1";
  struct name_seen ns;
  memset(&ns, 0, sizeof ns);
  ns.rc = -2;
  gh_spawn_opts o;
  opts_init(&o);
  o.name = src;
  gh_thread t = gh_spawn_ex(read_own_name, &ns, &o);
  REQUIRE(t > 0);
  memcpy(src, "XXXXXXXX", 8); /* the name must have been copied */

  char buf[64];
  memset(buf, '#', sizeof buf);
  CHECK_EQ(gh_get_name(t, buf, sizeof buf), 0);
  CHECKF(strcmp(buf, "worker-1") == 0, "gh_get_name = \"%.63s\", want \"worker-1\"", buf);

  /* ERANGE: "worker-1" needs 9 bytes. The buffer must stay untouched. */
  char small[16];
  memset(small, 'X', sizeof small);
  CHECK_ERR(gh_get_name(t, small, 8), ERANGE);
  int untouched = 1;
  for (size_t i = 0; i < sizeof small; i++)
    if (small[i] != 'X') untouched = 0;
  CHECKF(untouched, "gh_get_name wrote into the buffer while failing with ERANGE");
  CHECK_ERR(gh_get_name(t, small, 1), ERANGE);
  memset(small, 'X', sizeof small);
  CHECK_EQ(gh_get_name(t, small, 9), 0);
  CHECK(memcmp(small, "worker-1", 9) == 0);

  CHECK_EQ(gh_set_name(t, "renamed"), 0);
  memset(buf, '#', sizeof buf);
  CHECK_EQ(gh_get_name(t, buf, sizeof buf), 0);
  CHECKF(strcmp(buf, "renamed") == 0, "after gh_set_name: \"%.63s\"", buf);

  /* At most 31 bytes are kept. */
  char longname[41];
  memset(longname, 'a', 40);
  longname[40] = '\0';
  CHECK_EQ(gh_set_name(t, longname), 0);
  memset(buf, '#', sizeof buf);
  CHECK_EQ(gh_get_name(t, buf, sizeof buf), 0);
  size_t ln = strnlen(buf, sizeof buf);
  CHECKF(ln == 31, "a 40-byte name came back with %zu bytes (want 31)", ln);
  CHECK_ERR(gh_set_name(t, NULL), EINVAL);
  CHECK_ERR(gh_set_name(t, "\xc3\x28 not utf-8"), EINVAL);
  CHECK_EQ(gh_set_name(t, "final"), 0);
  /* The root (0) can be named too. */
  CHECK_EQ(gh_set_name(0, "main-root"), 0);
  memset(buf, '#', sizeof buf);
  CHECK_EQ(gh_get_name(0, buf, sizeof buf), 0);
  CHECKF(strcmp(buf, "main-root") == 0, "root name \"%.63s\"", buf);

  gh_deadline_push(ROOT_DEADLINE_MS);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  CHECK_EQ(ns.rc, 0);
  CHECKF(strcmp(ns.name, "final") == 0, "thread read its own name as \"%.63s\", want \"final\"",
         ns.name);
  CHECK_ERR(gh_get_name(t, buf, sizeof buf), EBADF);

  /* A thread spawned without a name: gh_get_name succeeds with some NUL-terminated text. */
  gh_thread u = gh_spawn(return_arg, NULL);
  REQUIRE(u > 0);
  memset(buf, '#', sizeof buf);
  int r = gh_get_name(u, buf, sizeof buf);
  CHECKF(r == 0, "gh_get_name on an unnamed thread failed: errno=%s", th_errname(errno));
  if (r == 0) {
    CHECK(memchr(buf, '\0', sizeof buf) != NULL);
    th_note("name of an unnamed thread: \"%.63s\"", buf);
  }
  CHECK_EQ(gh_join(u, &st), 0);
}
