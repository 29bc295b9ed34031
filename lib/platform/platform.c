/*
 * The platform vtable: checks, copies, the POSIX defaults (only where the
 * build's host system has POSIX: CONSTRA_HAVE_POSIX), and the opt-in
 * cJSON allocator hook.
 */
#include "constra_config.h"
#if CONSTRA_HAVE_POSIX
#define _GNU_SOURCE /* getrandom(2) */
#endif

#include "platform/platform.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h> /* vsnprintf only: log lines are text, never data */
#include <stdlib.h>
#include <string.h>

#if CONSTRA_HAVE_POSIX
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#endif

#include <cjson/cJSON.h>

/* The first published layout ends after `destroy`. */
#define PLATFORM_V1_SIZE offsetof(constra_platform, sleep_ms)

/* ---- defaults every build has ------------------------------------------ */

static void *default_malloc(void *ud, size_t n)
{
    (void)ud;
    return malloc(n);
}

static void *default_realloc(void *ud, void *ptr, size_t n)
{
    (void)ud;
    return realloc(ptr, n);
}

static void default_free(void *ud, void *ptr)
{
    (void)ud;
    free(ptr);
}

#if CONSTRA_HAVE_POSIX
/* ---- POSIX defaults ----------------------------------------------------- */

static int64_t timespec_ns(clockid_t clock)
{
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0) {
        return 0;
    }
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t default_wall_ms(void *ud)
{
    (void)ud;
    return timespec_ns(CLOCK_REALTIME) / 1000000;
}

static int64_t default_mono_ns(void *ud)
{
    (void)ud;
    return timespec_ns(CLOCK_MONOTONIC);
}

static int urandom_fill(uint8_t *buf, size_t len)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            close(fd);
            return -1;
        }
        got += (size_t)n;
    }
    close(fd);
    return 0;
}

static int default_random(void *ud, uint8_t *buf, size_t len)
{
    (void)ud;
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            /* Old kernels or seccomp sandboxes without getrandom(2). */
            return urandom_fill(buf + got, len - got);
        }
        got += (size_t)n;
    }
    return 0;
}

static int default_mutex_create(void *ud, void **out)
{
    (void)ud;
    pthread_mutex_t *m = malloc(sizeof(*m));
    if (m == NULL) {
        return -1;
    }
    if (pthread_mutex_init(m, NULL) != 0) {
        free(m);
        return -1;
    }
    *out = m;
    return 0;
}

static void default_mutex_lock(void *ud, void *m)
{
    (void)ud;
    pthread_mutex_lock(m);
}

static void default_mutex_unlock(void *ud, void *m)
{
    (void)ud;
    pthread_mutex_unlock(m);
}

static void default_mutex_destroy(void *ud, void *m)
{
    (void)ud;
    pthread_mutex_destroy(m);
    free(m);
}

static void default_log(void *ud, int level, const char *message)
{
    (void)ud;
    const char *tag = level >= CONSTRA_LOG_ERROR  ? "error"
                      : level >= CONSTRA_LOG_WARN ? "warn"
                      : level >= CONSTRA_LOG_INFO ? "info"
                                                  : "debug";
    fprintf(stderr, "libconstra %s: %s\n", tag, message);
}

static void default_sleep_ms(void *ud, int64_t ms)
{
    (void)ud;
    if (ms <= 0) {
        return;
    }
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        /* interrupted: sleep the rest */
    }
}

#else
/* ---- bare metal: no clocks, no entropy, one thread ---------------------- */

/* A handle needs a mutex object; one thread needs no locking. */
static char no_mutex_object;

static int default_mutex_create(void *ud, void **out)
{
    (void)ud;
    *out = &no_mutex_object;
    return 0;
}

static void default_mutex_lock(void *ud, void *m)
{
    (void)ud;
    (void)m;
}

static void default_mutex_unlock(void *ud, void *m)
{
    (void)ud;
    (void)m;
}

static void default_mutex_destroy(void *ud, void *m)
{
    (void)ud;
    (void)m;
}

static void default_log(void *ud, int level, const char *message)
{
    (void)ud;
    (void)level;
    (void)message;
}

static void default_sleep_ms(void *ud, int64_t ms)
{
    (void)ud;
    (void)ms;
}
#endif

/* ---- checking and resolving ------------------------------------------- */

int constra_platform_init(constra_platform *platform, size_t struct_size)
{
    return constra__init_struct(platform, struct_size, PLATFORM_V1_SIZE, sizeof(*platform), NULL);
}

/* A group of methods must be all set or all NULL: mixing the host's
 * malloc with libc's free would corrupt memory. */
static int check_group(int set, int total, const char *group, const char *first_missing,
                       constra_error *err)
{
    if (set != 0 && set != total) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             first_missing,
                             "platform %s methods must be set together: %s is NULL", group,
                             first_missing);
    }
    return CONSTRA_OK;
}

int constra_platform_check(const constra_platform *p, constra_error *err)
{
    int rc = constra__check_struct(p, PLATFORM_V1_SIZE, sizeof(*p), "platform", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    int alloc_set = (p->malloc_fn != NULL) + (p->realloc_fn != NULL) + (p->free_fn != NULL);
    const char *alloc_missing = !p->malloc_fn    ? "platform.malloc_fn"
                                : !p->realloc_fn ? "platform.realloc_fn"
                                                 : "platform.free_fn";
    rc = check_group(alloc_set, 3, "allocator", alloc_missing, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    int mutex_set = (p->mutex_create != NULL) + (p->mutex_lock != NULL) +
                    (p->mutex_unlock != NULL) + (p->mutex_destroy != NULL);
    const char *mutex_missing = !p->mutex_create   ? "platform.mutex_create"
                                : !p->mutex_lock   ? "platform.mutex_lock"
                                : !p->mutex_unlock ? "platform.mutex_unlock"
                                                   : "platform.mutex_destroy";
    rc = check_group(mutex_set, 4, "mutex", mutex_missing, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (p->log_min_level < 0 || p->log_min_level > CONSTRA_LOG_ERROR + 1) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "platform.log_min_level",
                             "platform.log_min_level %d is out of range (0 to %d)",
                             p->log_min_level, CONSTRA_LOG_ERROR + 1);
    }
    return CONSTRA_OK;
}

int constra__platform_resolve(constra_platform *out, const constra_platform *in,
                              constra_error *err)
{
    constra_platform p = CONSTRA_PLATFORM_INIT;
    if (in != NULL) {
        int rc = constra_platform_check(in, err);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        constra__copy_struct(&p, sizeof(p), in);
    }
    if (p.malloc_fn == NULL) {
        p.malloc_fn = default_malloc;
        p.realloc_fn = default_realloc;
        p.free_fn = default_free;
    }
#if CONSTRA_HAVE_POSIX
    if (p.wall_time_ms == NULL) {
        p.wall_time_ms = default_wall_ms;
    }
    if (p.monotonic_ns == NULL) {
        p.monotonic_ns = default_mono_ns;
    }
    if (p.random_bytes == NULL) {
        p.random_bytes = default_random;
    }
#else
    /* No clock and no entropy source to fall back on: name what is missing. */
    const char *required = p.wall_time_ms == NULL   ? "platform.wall_time_ms"
                           : p.monotonic_ns == NULL ? "platform.monotonic_ns"
                           : p.random_bytes == NULL ? "platform.random_bytes"
                                                    : NULL;
    if (required != NULL) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", required,
                             "%s is required: this build has no POSIX default "
                             "(bare metal: supply clocks and random bytes)",
                             required);
    }
#endif
    if (p.mutex_create == NULL) {
        p.mutex_create = default_mutex_create;
        p.mutex_lock = default_mutex_lock;
        p.mutex_unlock = default_mutex_unlock;
        p.mutex_destroy = default_mutex_destroy;
    }
    if (p.log == NULL) {
        p.log = default_log;
    }
    if (p.sleep_ms == NULL) {
        p.sleep_ms = default_sleep_ms;
    }
    if (p.log_min_level == 0) {
        p.log_min_level = CONSTRA_LOG_WARN;
    }
    *out = p;
    return CONSTRA_OK;
}

void *constra__calloc(const constra_platform *p, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        return NULL;
    }
    void *ptr = constra__malloc(p, n * size);
    if (ptr != NULL) {
        memset(ptr, 0, n * size);
    }
    return ptr;
}

char *constra__strndup(const constra_platform *p, const char *s, size_t len)
{
    if (len == SIZE_MAX) {
        return NULL;
    }
    char *copy = constra__malloc(p, len + 1);
    if (copy != NULL) {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

void constra__log(const constra_platform *p, int level, const char *fmt, ...)
{
    if (level < p->log_min_level) {
        return;
    }
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    p->log(p->user_data, level, line);
}

/* ---- cJSON hooks (opt-in, process-wide) -------------------------------- */

/* The one piece of global state, set only when the host asks. cJSON's
 * hooks take no user pointer, so the allocator must live here. */
static constra_platform json_platform;

static void *json_malloc(size_t n)
{
    return json_platform.malloc_fn(json_platform.user_data, n);
}

static void json_free(void *ptr)
{
    if (ptr != NULL) {
        json_platform.free_fn(json_platform.user_data, ptr);
    }
}

int constra_platform_install_json_allocator(const constra_platform *platform, constra_error *err)
{
    if (platform == NULL) {
        cJSON_InitHooks(NULL);
        memset(&json_platform, 0, sizeof(json_platform));
        return CONSTRA_OK;
    }
    constra_platform resolved;
    int rc = constra__platform_resolve(&resolved, platform, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    json_platform = resolved;
    cJSON_Hooks hooks = {json_malloc, json_free};
    cJSON_InitHooks(&hooks);
    return CONSTRA_OK;
}
