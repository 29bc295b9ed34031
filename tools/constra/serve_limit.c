/*
 * constra serve: the per-key rate limit, one token bucket per client key
 * (the valid bearer token, else the remote address).
 *
 * A bucket holds up to `burst` tokens and refills at `rate` tokens per
 * second; each request takes one, and a request that finds less than one
 * token is refused (429). Buckets live in a fixed set-associative table:
 * a new key takes the least recently used way of its set, so a flood of
 * invented keys costs no memory (it can only reset other buckets to full,
 * which errs towards serving). The hash is seeded per process so that a
 * client cannot aim its keys at someone else's set.
 */
#define _POSIX_C_SOURCE 200809L /* getaddrinfo, strdup, gmtime_r, clocks, sigtimedwait */

#include <string.h>
#include <time.h>

#include "serve.h"

int64_t serve_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double serve_mono_ms_f(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int serve_limiter_init(serve_limiter *l, double rate, double burst, uint64_t seed)
{
    memset(l, 0, sizeof(*l));
    l->rate = rate;
    l->burst = burst < 1.0 ? 1.0 : burst;
    l->seed = seed;
    return pthread_mutex_init(&l->lock, NULL) == 0 ? 0 : -1;
}

void serve_limiter_destroy(serve_limiter *l)
{
    pthread_mutex_destroy(&l->lock);
}

/* FNV-1a over the seed and the key, then a 64-bit finaliser (splitmix64)
 * to spread the bits over the set index. Never 0 (0 marks an empty way). */
static uint64_t key_hash(uint64_t seed, const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h ? h : 1;
}

static long ceil_seconds(double s)
{
    long whole = (long)s;
    return (double)whole < s ? whole + 1 : whole;
}

void serve_limiter_take(serve_limiter *l, const char *key, size_t len, int64_t now_ms,
                        serve_limit_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->allowed = 1;
    if (l->rate <= 0) {
        return;
    }
    uint64_t h = key_hash(l->seed, key, len);
    serve_bucket *set = l->sets[h % SERVE_LIMIT_SETS];

    pthread_mutex_lock(&l->lock);
    serve_bucket *b = NULL, *oldest = &set[0];
    for (int i = 0; i < SERVE_LIMIT_WAYS; i++) {
        if (set[i].key == h) {
            b = &set[i];
            break;
        }
        if (set[i].last_ms < oldest->last_ms || set[i].key == 0) {
            oldest = &set[i];
        }
    }
    if (b == NULL) {
        b = oldest;
        b->key = h;
        b->tokens = l->burst;
        b->last_ms = now_ms;
    }
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * l->rate / 1000.0;
        if (b->tokens > l->burst) {
            b->tokens = l->burst;
        }
        b->last_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
    } else {
        v->allowed = 0;
        v->retry_after_s = ceil_seconds((1.0 - b->tokens) / l->rate);
        if (v->retry_after_s < 1) {
            v->retry_after_s = 1;
        }
    }
    double tokens = b->tokens;
    pthread_mutex_unlock(&l->lock);

    v->limit = (long)l->rate;
    if (v->limit < 1) {
        v->limit = 1; /* a fractional rate still reads as "about 1 per second" */
    }
    v->remaining = (long)tokens;
    v->reset_s = ceil_seconds((l->burst - tokens) / l->rate);
}
