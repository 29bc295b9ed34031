/*
 * Webhook verification throughput: constra_webhook_verify() with the t_v1
 * scheme (header "t=<unix>,v1=<hex>", HMAC-SHA256 over "<t>.<body>") for
 * 64 B, 1 KiB and 16 KiB bodies, on whichever HMAC backend the library
 * was built with. Public API only.
 *
 *   webhook_verify [--runs N] [--seconds S]
 *
 * Each run verifies in a loop for about S seconds (default 0.3) and counts
 * verifications per second; the median of N runs (default 7, at least 5)
 * is reported, after one discarded warm-up run. Output, one line per size
 * (lines starting with '#' are comments):
 *
 *   webhook_verify backend=<name> scheme=t_v1 size=<bytes> runs=<n> \
 *     median_per_s=<int> min_per_s=<int> max_per_s=<int>
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <constra.h>

#define MAX_RUNS 101
#define BATCH 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One run: verifications per second over about `seconds`. */
static double run_once(const constra_webhook_params *p, double seconds)
{
    unsigned long long n = 0;
    double start = now_s();
    double elapsed = 0;
    do {
        for (int i = 0; i < BATCH; i++) {
            if (constra_webhook_verify(p, NULL, NULL) != CONSTRA_OK) {
                fprintf(stderr, "webhook_verify: verification failed\n");
                exit(1);
            }
        }
        n += BATCH;
        elapsed = now_s() - start;
    } while (elapsed < seconds);
    return (double)n / elapsed;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A JSON-looking body of exactly `size` bytes. */
static void make_body(unsigned char *body, size_t size)
{
    const char *head = "{\"id\":\"evt_0123456789abcdef\",\"type\":\"payment_intent.succeeded\","
                       "\"data\":\"";
    size_t hl = strlen(head);
    for (size_t i = 0; i < size; i++) {
        body[i] = (unsigned char)('a' + (i * 7) % 26);
    }
    if (size >= hl + 2) {
        memcpy(body, head, hl);
        body[size - 2] = '"';
        body[size - 1] = '}';
    }
}

int main(int argc, char **argv)
{
    int runs = 7;
    double seconds = 0.3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = strtod(argv[++i], NULL);
        } else {
            fprintf(stderr, "usage: webhook_verify [--runs N] [--seconds S]\n");
            return 2;
        }
    }
    if (runs < 5 || runs > MAX_RUNS || !(seconds > 0 && seconds <= 60)) {
        fprintf(stderr, "webhook_verify: --runs must be 5..%d, --seconds in (0, 60]\n",
                MAX_RUNS);
        return 2;
    }
    const size_t sizes[] = {64, 1024, 16384};
    static unsigned char body[16384];
    const char *backend = constra_webhook_hmac_backend();
    printf("# libconstra %s, HMAC backend %s, scheme t_v1, %d runs of %.2f s, median\n",
           constra_version(), backend, runs, seconds);
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t size = sizes[s];
        make_body(body, size);
        constra_webhook_params p = CONSTRA_WEBHOOK_PARAMS_INIT;
        p.scheme = CONSTRA_WEBHOOK_T_V1;
        p.secret = "whsec_bench_0123456789abcdef0123456789";
        p.body = body;
        p.body_len = size;
        p.timestamp = 1764689191;
        char header[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
        constra_error err = CONSTRA_ERROR_INIT;
        if (constra_webhook_sign(&p, header, sizeof(header), &err) != CONSTRA_OK) {
            fprintf(stderr, "webhook_verify: sign failed: %s\n", err.message);
            return 1;
        }
        p.signature = header;
        p.now = p.timestamp + 5;
        double rates[MAX_RUNS];
        run_once(&p, seconds); /* warm-up */
        for (int r = 0; r < runs; r++) {
            rates[r] = run_once(&p, seconds);
        }
        qsort(rates, (size_t)runs, sizeof(rates[0]), cmp_double);
        printf("webhook_verify backend=%s scheme=t_v1 size=%zu runs=%d median_per_s=%.0f "
               "min_per_s=%.0f max_per_s=%.0f\n",
               backend, size, runs, rates[runs / 2], rates[0], rates[runs - 1]);
        fflush(stdout);
    }
    return 0;
}
