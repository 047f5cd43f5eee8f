/* spawn: cost of starting a green thread that returns at once, with pooled stacks (after a
 * warm-up the stack pool already holds what is needed). Two measurements, each repeated:
 *   spawn_n_batch: the root starts B detached threads (gh_spawn_n), then one gh_yield() runs
 *                  them all to their end; ns per thread = elapsed / threads. What a server
 *                  does per connection (spawn + exit).
 *   spawn_join:    gh_spawn then gh_join, one at a time (adds the join and the switches to the
 *                  thread and back).
 * usage: spawn [-n THREADS] [-b BATCH] [-r REPEATS]
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "common.h"
#include "greenhub.h"

static long ran;

static int noop(void *arg)
{
    (void)arg;
    ran++;
    return 0;
}

static double batch_run(long n, long batch)
{
    long before = ran;
    double t0 = now_ns();
    for (long done = 0; done < n; done += batch) {
        for (long k = 0; k < batch; k++)
            if (gh_spawn_n(noop, NULL) == -1)
                return -1;
        if (gh_yield() == -1)
            return -1;
    }
    double el = now_ns() - t0;
    long want = (n + batch - 1) / batch * batch;
    if (ran - before != want) {
        fprintf(stderr, "spawn: %ld of %ld threads ran\n", ran - before, want);
        errno = EIO;
        return -1;
    }
    return el / (double)want;
}

static double join_run(long n)
{
    double t0 = now_ns();
    for (long k = 0; k < n; k++) {
        gh_thread t = gh_spawn(noop, NULL);
        if (t == -1 || gh_join(t, NULL) == -1)
            return -1;
    }
    return (now_ns() - t0) / (double)n;
}

static void print_list(const char *name, double *v, int reps)
{
    printf("\"%s\":[", name);
    for (int r = 0; r < reps; r++)
        printf("%s%.1f", r ? "," : "", v[r]);
    printf("],\"%s_median\":%.1f,", name, median(v, reps));
}

int main(int argc, char **argv)
{
    long n = 1000000, batch = 1000;
    int reps = 5, opt;
    while ((opt = getopt(argc, argv, "n:b:r:")) != -1) {
        if (opt == 'n')
            n = atol(optarg);
        else if (opt == 'b')
            batch = atol(optarg);
        else if (opt == 'r')
            reps = atoi(optarg);
        else {
            fprintf(stderr, "usage: %s [-n THREADS] [-b BATCH] [-r REPEATS 1..20]\n", argv[0]);
            return 2;
        }
    }
    if (n < 1 || batch < 1 || batch > 100000 || reps < 1 || reps > 20) {
        fprintf(stderr, "spawn: bad arguments\n");
        return 2;
    }
    if (batch_run(batch * 10, batch) < 0 || join_run(10000) < 0) { /* warm-up: fills the pool */
        perror("spawn warm-up");
        return 1;
    }
    double b[20], j[20];
    for (int r = 0; r < reps; r++) {
        b[r] = batch_run(n, batch);
        j[r] = join_run(n / 4 + 1);
        if (b[r] < 0 || j[r] < 0) {
            perror("spawn");
            return 1;
        }
    }
    printf("{\"bench\":\"spawn\",\"threads\":%ld,\"batch\":%ld,", n, batch);
    print_list("ns_spawn_n_batch", b, reps);
    print_list("ns_spawn_join", j, reps);
    printf("\"rss_kb\":%ld}\n", status_kb("VmRSS:"));
    return 0;
}
