/* Helpers shared by the micro-benchmarks: a monotonic clock, /proc/self readings, a median. */
#ifndef BENCH_MICRO_COMMON_H
#define BENCH_MICRO_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A field of /proc/self/status in kB ("VmRSS:", "VmHWM:"), -1 if absent. */
static inline long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0) {
            v = strtol(line + n, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* Number of memory mappings (what vm.max_map_count limits). */
static inline long map_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    long n = 0;
    int c;
    if (f == NULL)
        return -1;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Where the RSS is: the mappings grouped by size (the green-thread stacks all have the same
 * size), as a JSON array of [size_kb, count, rss_kb] for the 4 groups holding most RSS. */
static inline void print_rss_by_mapping_size(FILE *out)
{
    enum { G = 64 };
    long size_kb[G], count[G], rss[G];
    int groups = 0;
    long cur = -1;
    char line[512];
    FILE *f = fopen("/proc/self/smaps", "r");
    if (f == NULL) {
        fputs("[]", out);
        return;
    }
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b;
        long v;
        if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, ' ') > strchr(line, '-')) {
            long kb = (long)((b - a) / 1024);
            cur = -1;
            for (int g = 0; g < groups; g++)
                if (size_kb[g] == kb)
                    cur = g;
            if (cur < 0 && groups < G) {
                cur = groups++;
                size_kb[cur] = kb;
                count[cur] = rss[cur] = 0;
            }
            if (cur >= 0)
                count[cur]++;
        } else if (cur >= 0 && sscanf(line, "Rss: %ld kB", &v) == 1) {
            rss[cur] += v;
        }
    }
    fclose(f);
    fputc('[', out);
    for (int k = 0; k < 4 && k < groups; k++) { /* selection of the 4 largest by RSS */
        int best = k;
        for (int g = k + 1; g < groups; g++)
            if (rss[g] > rss[best])
                best = g;
        long t;
        t = size_kb[k], size_kb[k] = size_kb[best], size_kb[best] = t;
        t = count[k], count[k] = count[best], count[best] = t;
        t = rss[k], rss[k] = rss[best], rss[best] = t;
        fprintf(out, "%s[%ld,%ld,%ld]", k ? "," : "", size_kb[k], count[k], rss[k]);
    }
    fputc(']', out);
}

/* Which pages of one mapping of `size_kb` (a green-thread stack) are resident, as a string
 * from its lowest page to its highest: '#' resident, '.' not. Written to `out` (NUL-terminated,
 * `len` bytes); empty if no such mapping. The mapping chosen is the last one listed. */
#include <sys/mman.h>
static inline void stack_residency(long size_kb, char *out, size_t len)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    unsigned long a = 0, b = 0, x, y;
    out[0] = '\0';
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%lx-%lx rw-p", &x, &y) == 2 && (long)((y - x) / 1024) == size_kb &&
            strstr(line, "rw-p") != NULL)
            a = x, b = y;
    fclose(f);
    size_t pages = (b - a) / 4096;
    unsigned char vec[1024];
    if (a == 0 || pages + 1 > len || pages > sizeof vec || mincore((void *)a, b - a, vec) != 0)
        return;
    for (size_t i = 0; i < pages; i++)
        out[i] = (vec[i] & 1) ? '#' : '.';
    out[pages] = '\0';
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
