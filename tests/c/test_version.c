/* greenhub C API tests: the version the header and the library report, and the header's
 * constants and handle types. */
#include "harness.h"
#include "support.h"

#if !defined(GREENHUB_VERSION) || !defined(GREENHUB_VERSION_MAJOR) || \
    !defined(GREENHUB_VERSION_MINOR) || !defined(GREENHUB_VERSION_PATCH)
#error "greenhub.h must define GREENHUB_VERSION and GREENHUB_VERSION_MAJOR/MINOR/PATCH"
#endif

TEST(version) {
  const char *v = gh_version();
  REQUIRE(v != NULL);
  CHECKF(strcmp(v, GREENHUB_VERSION) == 0, "gh_version() = \"%s\", GREENHUB_VERSION = \"%s\"", v,
         GREENHUB_VERSION);
  char built[64];
  snprintf(built, sizeof built, "%d.%d.%d", (int)GREENHUB_VERSION_MAJOR,
           (int)GREENHUB_VERSION_MINOR, (int)GREENHUB_VERSION_PATCH);
  CHECKF(strcmp(built, GREENHUB_VERSION) == 0, "MAJOR.MINOR.PATCH = %s, GREENHUB_VERSION = %s",
         built, GREENHUB_VERSION);
  /* The same pointer/text on every call. */
  CHECK(strcmp(gh_version(), v) == 0);
}

TEST(header_constants) {
#ifdef GH_STATUS_STACK_OVERFLOW
  long long sso = (long long)GH_STATUS_STACK_OVERFLOW;
  CHECK_EQ(sso, (long long)INT32_MIN);
#else
  th_fail(__FILE__, __LINE__, -1, "GH_STATUS_STACK_OVERFLOW is not defined by greenhub.h");
#endif
  /* Handle types are 64-bit signed; the address struct holds an IPv6 text address. */
  CHECK_EQ(sizeof(gh_sock), 8);
  CHECK_EQ(sizeof(gh_thread), 8);
  CHECK((gh_sock)-1 < 0);
  CHECK((gh_thread)-1 < 0);
  gh_addr a;
  CHECK(sizeof a.host >= 46); /* INET6_ADDRSTRLEN */
#ifdef GH_HOST_MAX
  CHECK_EQ(sizeof a.host, GH_HOST_MAX);
#endif
  CHECK(sizeof a.port == 2);
}
