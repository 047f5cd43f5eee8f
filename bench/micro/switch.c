/* switch: cost of one green-thread switch (thread -> hub -> other thread). T threads (default
 * 2) each call gh_yield() N times; every gh_yield hands the CPU to the next runnable thread
 * through the hub, so a run makes T*N switches: ns per switch = elapsed / (T*N). Prints JSON.
 * usage: switch [-n ITERATIONS] [-t THREADS] [-r REPEATS] [-d]
 * -d: the block detector's cost: each repeat runs twice, with the detector off
 * (gh_set_block_warn(0)) and on (1000 ms: its monitor thread samples the hub), in alternating
 * order, and the JSON has both medians and the cost of "on" in percent.
 */
#include <stdint.h>
#include <unistd.h>

#include "common.h"
#include "greenhub.h"

static long iters;

static int yielder(void *arg)
{
    (void)arg;
    for (long i = 0; i < iters; i++)
        if (gh_yield() == -1)
            return 1;
    return 0;
}

/* Runs `threads` yielders for `n` iterations each; returns elapsed ns, or -1. */
static double run(long n, int threads)
{
    gh_thread t[64];
    iters = n;
    double t0 = now_ns();
    for (int k = 0; k < threads; k++)
        if ((t[k] = gh_spawn(yielder, NULL)) == -1)
            return -1;
    for (int k = 0; k < threads; k++) {
        int status = 0;
        if (gh_join(t[k], &status) == -1 || status != 0)
            return -1;
    }
    return now_ns() - t0;
}

/* -d: `reps` runs with the detector off and on, interleaved; prints JSON. */
static int detector_cost(long n, int threads, int reps)
{
    double off[20], on[20];
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < 2; k++) {
            int detector = (r + k) % 2; /* alternate which goes first */
            if (gh_set_block_warn(detector ? 1000 : 0) == -1)
                return 1;
            double el = run(n, threads);
            if (el < 0) {
                perror("switch");
                return 1;
            }
            (detector ? on : off)[r] = el / ((double)n * threads);
        }
    }
    gh_set_block_warn(0);
    double m_off = median(off, reps), m_on = median(on, reps);
    printf("{\"bench\":\"switch_detector\",\"threads\":%d,\"switches\":%ld,\"ns_off\":[", threads,
           n * threads);
    for (int r = 0; r < reps; r++)
        printf("%s%.2f", r ? "," : "", off[r]);
    printf("],\"ns_on\":[");
    for (int r = 0; r < reps; r++)
        printf("%s%.2f", r ? "," : "", on[r]);
    printf("],\"ns_off_median\":%.2f,\"ns_on_median\":%.2f,\"on_cost_pct\":%.2f}\n", m_off, m_on,
           (m_on / m_off - 1) * 100);
    return 0;
}

int main(int argc, char **argv)
{
    long n = 2000000;
    int threads = 2, reps = 5, opt, detector = 0;
    while ((opt = getopt(argc, argv, "n:t:r:d")) != -1) {
        if (opt == 'n')
            n = atol(optarg);
        else if (opt == 't')
            threads = atoi(optarg);
        else if (opt == 'r')
            reps = atoi(optarg);
        else if (opt == 'd')
            detector = 1;
        else {
            fprintf(stderr, "usage: %s [-n ITERATIONS] [-t THREADS 2..64] [-r REPEATS 1..20] [-d]\n", argv[0]);
            return 2;
        }
    }
    if (n < 1 || threads < 2 || threads > 64 || reps < 1 || reps > 20) {
        fprintf(stderr, "switch: bad arguments\n");
        return 2;
    }
    if (run(n / 10 + 1, threads) < 0) { /* warm-up: stacks pooled, caches warm */
        perror("switch warm-up");
        return 1;
    }
    if (detector)
        return detector_cost(n, threads, reps);
    double ns[20];
    for (int r = 0; r < reps; r++) {
        double el = run(n, threads);
        if (el < 0) {
            perror("switch");
            return 1;
        }
        ns[r] = el / ((double)n * threads);
    }
    printf("{\"bench\":\"switch\",\"threads\":%d,\"iterations\":%ld,\"switches\":%ld,\"ns_per_switch\":[",
           threads, n, n * threads);
    for (int r = 0; r < reps; r++)
        printf("%s%.2f", r ? "," : "", ns[r]);
    double best = ns[0];
    for (int r = 1; r < reps; r++)
        best = ns[r] < best ? ns[r] : best;
    double med = median(ns, reps);
    printf("],\"ns_per_switch_median\":%.2f,\"ns_per_switch_min\":%.2f}\n", med, best);
    return 0;
}
