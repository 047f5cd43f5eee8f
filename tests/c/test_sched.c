/* greenhub C API tests: scheduling order and fairness between the root, green threads, timers
 * and I/O. */
#include "harness.h"

const test_case sched_tests[] = {
    {NULL, NULL},
};
