/*
 * constra serve — the REST API over HTTP and the dashboard at /, on a
 * SQLite file (or memory), with the simulator rail (sandbox keys) or the
 * Daraja rail (--rail daraja; the only choice for a cs_live_ key).
 *
 * Life of the process:
 *   1. options; the secret key from --secret-key, CONSTRA_SECRET_KEY, or
 *      a fresh cs_test_ key from the kernel's random source;
 *   2. SIGINT/SIGTERM are BLOCKED before any thread starts, so every
 *      thread inherits the mask and only the main thread, in sigwait(),
 *      ever receives them: no signal handler, no unsafe work in one;
 *   3. the handle (storage + rail), the HTTP daemon (see
 *      serve_http.c), the ticker thread (constra_tick every 250 ms: time-
 *      outs and delayed simulator outcomes);
 *   4. the URLs on stdout, ending with the line
 *      "constra serve: listening on http://HOST:PORT" that scripts wait for;
 *   5. on a signal: stop accepting (serve_gate_stop), let in-flight
 *      requests finish (up to 10 s; a second signal cuts it short), stop
 *      the daemon, stop the ticker, constra_close() (SQLite checkpoints
 *      its WAL and closes), exit 0.
 */
#define _POSIX_C_SOURCE 200809L /* getaddrinfo, strdup, gmtime_r, clocks, sigtimedwait */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cli.h"
#include "serve.h"

#define TICK_MS 250
#define TICK_BACKOFF_MAX_MS 8000
#define DRAIN_MS 10000
#define KEY_RANDOM_BYTES 24

typedef struct serve_options {
    const char *host;
    int port;
    const char *db;
    const char *secret_key;
    double rate;
    double burst;           /* <= 0: twice the rate */
    double key_rate;        /* < 0: the same as rate */
    double key_burst;       /* <= 0: twice the key rate */
    const char *access_log;
    int log_json;
    unsigned threads;
    int timeout_s;
    int header_timeout_s;       /* 0: the same as timeout_s */
    unsigned max_client_connections;
    int sync_normal;
    int keep_alive;
    int emulate_daraja;
    const char *daraja_key;     /* NULL: the emulator's default */
    const char *daraja_secret;  /* NULL: the emulator's default; never printed */
    int64_t daraja_delay_ms;    /* 0: the emulator's default (20 s) */
    int64_t callback_timeout_s; /* 0: the engine's default (120 s) */
    int64_t webhook_disable_after_s; /* 0: the engine's default (3 days); -1 never */
    const char *public_url;     /* NULL: the listen URL */
    /* The rail: "sim" or "daraja"; NULL picks by the key (cs_live_:
     * daraja). The Daraja rail's environment ("sandbox" / "production";
     * NULL: production for a live key, sandbox for a test key), base URL
     * (NULL: the environment's), consumer key and shortcode; its two
     * secrets come from the environment only (never argv). */
    const char *rail;
    const char *rail_env;
    const char *rail_url;
    const char *rail_consumer_key;
    const char *rail_shortcode;
} serve_options;

/* The Daraja rail's secrets: environment variables only, so that they
 * never appear in argv (ps, /proc, shell history). */
#define ENV_RAIL_CONSUMER_SECRET "CONSTRA_RAIL_CONSUMER_SECRET"
#define ENV_RAIL_PASSKEY "CONSTRA_RAIL_PASSKEY"
#define ENV_RAIL_CONSUMER_KEY "CONSTRA_RAIL_CONSUMER_KEY"
#define ENV_RAIL_SHORTCODE "CONSTRA_RAIL_SHORTCODE"

/* The route the router serves callbacks on (api.h); the Daraja rail adds
 * "?token=<callback token>" to it. */
#define CALLBACK_PATH "/api/v1/providers/mpesa/callback"

/* ---- options ------------------------------------------------------------------ */

/* Every option of the command: the parser accepts exactly these (a NULL
 * arg is a flag), and --help, 'constra help serve' and constra.1 print
 * them (main.c). */
const cli_option serve_options_table[] = {
    {"--host", "H", "127.0.0.1", "Address to listen on: an IP address or a name (0.0.0.0 or :: "
                                 "for every interface)."},
    {"--port", "P", "8000", "TCP port; 0 picks a free one (the banner says which). A port "
                            "already in use fails the start-up (exit 1)."},
    {"--db", "FILE|:memory:|URL", "constra.db",
     "The SQLite database file, created when missing; :memory: keeps everything in memory "
     "(lost at exit); postgresql://user@host/db (or postgres://) a PostgreSQL database that "
     "several servers may share."},
    {"--secret-key", "K", "CONSTRA_SECRET_KEY, else a fresh cs_test_ key",
     "The workspace's secret key (cs_test_ sandbox, cs_live_ live). Visible in the process "
     "list: prefer CONSTRA_SECRET_KEY."},
    {"--rate-limit", "N", "100", "Requests per second per client address, with X-RateLimit-* "
                                 "headers and 429 past it; 0 turns it off."},
    {"--rate-limit-key", "N", "the --rate-limit value",
     "Requests per second per workspace key, beside the per-address limit (both apply; the "
     "headers show the tighter), so rotating addresses does not buy a key more; 0 turns it off."},
    {"--rate-burst", "N", "twice the rate", "Requests a client may make at once before the "
                                            "rate applies."},
    {"--access-log", "FILE|-|off", "- (standard error)",
     "Where the access log goes, one line per request (never the key or the body)."},
    {"--log-format", "text|json", "text",
     "The access log's lines: text, or one JSON object per line (time, remote, method, path, "
     "status, bytes, duration_ms, idempotency_key) for log collectors."},
    {"--threads", "N", "the CPUs, 2 to 8", "HTTP threads; each serves many connections."},
    {"--timeout", "S", "10", "Seconds a connection may stay idle (no byte either way) before "
                             "it is closed."},
    {"--header-timeout", "S", "the --timeout value",
     "Seconds a client has to send a whole request head (request line and headers), counted "
     "from its connection or its previous response, however slowly the bytes come; then it "
     "gets a 408 and the connection is closed."},
    {"--max-client-connections", "N", "64",
     "Connections one client address may hold at once; more are refused as they come. The "
     "server's own limit is 1000."},
    {"--keep-alive", NULL, "off",
     "Serve several requests per connection. Off, every response closes its connection, so "
     "every request passes the server's own framing checks first and every error is JSON; "
     "on, a malformed request line later on a kept-alive connection gets libmicrohttpd's own "
     "short answer."},
    {"--sync-normal", NULL, "off (FULL)", "SQLite synchronous=NORMAL: faster commits, but a "
                                          "power cut may lose the last ones (never corrupts)."},
    {"--callback-timeout", "S", "120", "Seconds to wait for the provider's callback before an "
                                       "attempt is queried and then needs recovery."},
    {"--webhook-disable-after", "S|never", "259200 (3 days)",
     "Disable a webhook endpoint whose deliveries have all failed for this many seconds (3600 "
     "to 7776000), when one fails for good; never: only a 410 Gone disables it."},
    {"--public-url", "URL", "the listen URL",
     "The base URL the world reaches this server at: the callback URL given to the provider "
     "and shown by /workspace is built from it."},
    {"--rail", "sim|daraja", "sim (daraja for a cs_live_ key)",
     "The payment rail: the in-process simulator, or Safaricom's Daraja over HTTPS."},
    {"--rail-env", "sandbox|production", "production for a cs_live_ key, else sandbox",
     "The Daraja environment (its base URL)."},
    {"--rail-url", "URL", "the environment's", "Daraja's base URL (an emulator's, a proxy)."},
    {"--rail-consumer-key", "K", "CONSTRA_RAIL_CONSUMER_KEY", "The Daraja app's consumer key."},
    {"--rail-shortcode", "N", "CONSTRA_RAIL_SHORTCODE", "The paybill or till shortcode."},
    {"--emulate-daraja", NULL, "off",
     "Also answer Daraja's own paths (OAuth, STK push, STK query) as a Daraja emulator, "
     "sending callbacks to the CallBackURL of each push."},
    {"--daraja-consumer-key", "K", "emulator-consumer-key",
     "The consumer key the emulator accepts (with --emulate-daraja)."},
    {"--daraja-consumer-secret", "S", "the emulator's default",
     "The consumer secret the emulator accepts (with --emulate-daraja)."},
    {"--daraja-result-delay-ms", "MS", "20000",
     "How long the emulated customer takes before the emulator calls back."},
    {NULL, NULL, NULL, NULL},
};

const char serve_notes[] =
    "Environment: CONSTRA_SECRET_KEY (the key, when --secret-key is absent); "
    "CONSTRA_RAIL_CONSUMER_SECRET and CONSTRA_RAIL_PASSKEY (the Daraja secrets: environment "
    "only, never argv); CONSTRA_RAIL_CONSUMER_KEY and CONSTRA_RAIL_SHORTCODE (when the options "
    "are absent).\n"
    "Paths: /api/v1 and /v1 (the REST API, Bearer key), /api/v1/providers/mpesa/callback "
    "(provider callbacks, with the callback token), / (the dashboard), /healthz (the process "
    "answers) and /readyz (the storage answers), both without a key, /metrics (Prometheus "
    "text, Bearer key).\n"
    "Signals: SIGINT or SIGTERM stop accepting, let requests in flight finish (up to 10 s; "
    "a second signal cuts it short) and exit 0. Exit status: 0 stopped cleanly, 1 could not "
    "start (storage, port in use), 2 usage errors.";


static int parse_num(const char *opt, const char *text, int64_t lo, int64_t hi, int64_t *out)
{
    if (cli_parse_int64(text, out) != 0 || *out < lo || *out > hi) {
        return cli_usage_error("serve", "%s wants a whole number from %lld to %lld", opt,
                               (long long)lo, (long long)hi);
    }
    return 0;
}

static int parse_options(int argc, char **argv, serve_options *o)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o->host = "127.0.0.1";
    o->port = 8000;
    o->db = "constra.db";
    o->secret_key = NULL;
    o->rate = 100;
    o->burst = 0;
    o->key_rate = -1;
    o->key_burst = 0;
    o->access_log = "-";
    o->log_json = 0;
    o->threads = ncpu < 2 ? 2 : ncpu > 8 ? 8 : (unsigned)ncpu;
    o->timeout_s = 10;
    o->header_timeout_s = 0;
    o->max_client_connections = 64;
    o->sync_normal = 0;
    o->keep_alive = 0;
    o->emulate_daraja = 0;
    o->daraja_key = NULL;
    o->daraja_secret = NULL;
    o->daraja_delay_ms = 0;
    o->callback_timeout_s = 0;
    o->webhook_disable_after_s = 0;
    o->public_url = NULL;
    o->rail = NULL;
    o->rail_env = NULL;
    o->rail_url = NULL;
    o->rail_consumer_key = NULL;
    o->rail_shortcode = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        int64_t n = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_print_help(cli_find_command("serve"), stdout);
            return -1; /* done: exit 0 */
        }
        const cli_option *opt = serve_options_table;
        while (opt->name != NULL && strcmp(a, opt->name) != 0) {
            opt++;
        }
        if (opt->name == NULL) {
            return cli_usage_error("serve", "unknown option '%s' (see 'constra serve --help')",
                                   a);
        }
        if (opt->arg == NULL) {
            if (strcmp(a, "--sync-normal") == 0) {
                o->sync_normal = 1;
            } else if (strcmp(a, "--keep-alive") == 0) {
                o->keep_alive = 1;
            } else {
                o->emulate_daraja = 1;
            }
            continue;
        }
        if ((v = cli_option_value("serve", argc, argv, &i)) == NULL) {
            return CLI_EXIT_USAGE;
        }
        if (strcmp(a, "--host") == 0) {
            o->host = v;
        } else if (strcmp(a, "--port") == 0) {
            if (parse_num(a, v, 0, 65535, &n)) {
                return CLI_EXIT_USAGE;
            }
            o->port = (int)n;
        } else if (strcmp(a, "--db") == 0) {
            o->db = v;
        } else if (strcmp(a, "--secret-key") == 0) {
            o->secret_key = v;
        } else if (strcmp(a, "--rate-limit") == 0) {
            if (parse_num(a, v, 0, 1000000, &n)) {
                return CLI_EXIT_USAGE;
            }
            o->rate = (double)n;
        } else if (strcmp(a, "--rate-limit-key") == 0) {
            if (parse_num(a, v, 0, 1000000, &n)) {
                return CLI_EXIT_USAGE;
            }
            o->key_rate = (double)n;
        } else if (strcmp(a, "--rate-burst") == 0) {
            if (parse_num(a, v, 1, 10000000, &n)) {
                return CLI_EXIT_USAGE;
            }
            o->burst = (double)n;
        } else if (strcmp(a, "--access-log") == 0) {
            o->access_log = v;
        } else if (strcmp(a, "--threads") == 0) {
            if (parse_num(a, v, 1, 64, &n)) {
                return CLI_EXIT_USAGE;
            }
            o->threads = (unsigned)n;
        } else if (strcmp(a, "--daraja-consumer-key") == 0) {
            if (v[0] == '\0') {
                return cli_usage_error("serve", "--daraja-consumer-key wants a value");
            }
            o->daraja_key = v;
        } else if (strcmp(a, "--daraja-consumer-secret") == 0) {
            if (v[0] == '\0') {
                return cli_usage_error("serve", "--daraja-consumer-secret wants a value");
            }
            o->daraja_secret = v;
        } else if (strcmp(a, "--daraja-result-delay-ms") == 0) {
            if (parse_num(a, v, 1, 3600000, &n)) {
                return CLI_EXIT_USAGE;
            }
            o->daraja_delay_ms = n;
        } else if (strcmp(a, "--callback-timeout") == 0) {
            if (parse_num(a, v, 1, 86400, &n)) {
                return CLI_EXIT_USAGE;
            }
            o->callback_timeout_s = n;
        } else if (strcmp(a, "--public-url") == 0) {
            o->public_url = v;
        } else if (strcmp(a, "--rail") == 0) {
            if (strcmp(v, "sim") != 0 && strcmp(v, "daraja") != 0) {
                return cli_usage_error("serve", "--rail wants sim or daraja");
            }
            o->rail = v;
        } else if (strcmp(a, "--rail-env") == 0) {
            if (strcmp(v, "sandbox") != 0 && strcmp(v, "production") != 0) {
                return cli_usage_error("serve", "--rail-env wants sandbox or production");
            }
            o->rail_env = v;
        } else if (strcmp(a, "--rail-url") == 0) {
            o->rail_url = v;
        } else if (strcmp(a, "--rail-consumer-key") == 0) {
            o->rail_consumer_key = v;
        } else if (strcmp(a, "--rail-shortcode") == 0) {
            o->rail_shortcode = v;
        } else if (strcmp(a, "--webhook-disable-after") == 0) {
            if (strcmp(v, "never") == 0) {
                o->webhook_disable_after_s = -1;
            } else if (parse_num(a, v, 3600, 7776000, &n)) {
                return CLI_EXIT_USAGE;
            } else {
                o->webhook_disable_after_s = n;
            }
        } else if (strcmp(a, "--log-format") == 0) {
            if (strcmp(v, "text") != 0 && strcmp(v, "json") != 0) {
                return cli_usage_error("serve", "--log-format wants text or json");
            }
            o->log_json = strcmp(v, "json") == 0;
        } else if (strcmp(a, "--header-timeout") == 0) {
            if (parse_num(a, v, 1, 3600, &n)) {
                return CLI_EXIT_USAGE;
            }
            o->header_timeout_s = (int)n;
        } else if (strcmp(a, "--max-client-connections") == 0) {
            if (parse_num(a, v, 1, 1000, &n)) {
                return CLI_EXIT_USAGE;
            }
            o->max_client_connections = (unsigned)n;
        } else if (strcmp(a, "--timeout") == 0) {
            if (parse_num(a, v, 1, 3600, &n)) {
                return CLI_EXIT_USAGE;
            }
            o->timeout_s = (int)n;
        } else {
            /* An option of the table without a case here: a bug of ours. */
            return cli_usage_error("serve", "option '%s' is not handled", a);
        }
    }
    if (o->burst <= 0) {
        o->burst = o->rate * 2;
    }
    if (o->key_rate < 0) {
        o->key_rate = o->rate;
        o->key_burst = o->burst;
    }
    if (o->key_burst <= 0) {
        o->key_burst = o->key_rate * 2;
    }
    if (o->header_timeout_s == 0) {
        o->header_timeout_s = o->timeout_s;
    }
    if (!o->emulate_daraja && (o->daraja_key || o->daraja_secret || o->daraja_delay_ms)) {
        return cli_usage_error("serve", "the --daraja-* options need --emulate-daraja");
    }
    return 0;
}

/* ---- the rail ------------------------------------------------------------------ */

/* The option's value, else the environment variable's (NULL when both
 * are absent or empty). */
static const char *option_or_env(const char *option, const char *env)
{
    if (option != NULL && option[0] != '\0') {
        return option;
    }
    const char *v = getenv(env);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* What the banner says about the rail. */
typedef struct rail_info {
    int daraja;
    int production;
    char base_url[512];
    char shortcode[16];
} rail_info;

/* --rail daraja: the Daraja rail over curl, its CallBackURL
 * `<public url>/api/v1/providers/mpesa/callback` with `token` (the
 * handle's callback token, the same value) added by the rail. Every
 * missing setting is named in one usage error. */
static int open_daraja_rail(const serve_options *o, int live, const char *token,
                            constra_rail *rail, rail_info *info)
{
    const char *consumer_key = option_or_env(o->rail_consumer_key, ENV_RAIL_CONSUMER_KEY);
    const char *shortcode = option_or_env(o->rail_shortcode, ENV_RAIL_SHORTCODE);
    const char *consumer_secret = option_or_env(NULL, ENV_RAIL_CONSUMER_SECRET);
    const char *passkey = option_or_env(NULL, ENV_RAIL_PASSKEY);
    char missing[512] = "";
    const struct {
        const char *value, *what;
    } need[] = {
        {o->public_url, "--public-url URL (the server's externally reachable base)"},
        {consumer_key, "--rail-consumer-key KEY (or " ENV_RAIL_CONSUMER_KEY ")"},
        {consumer_secret, ENV_RAIL_CONSUMER_SECRET " (environment only)"},
        {shortcode, "--rail-shortcode CODE (or " ENV_RAIL_SHORTCODE ")"},
        {passkey, ENV_RAIL_PASSKEY " (environment only)"},
    };
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        if (need[i].value == NULL) {
            size_t n = strlen(missing);
            snprintf(missing + n, sizeof(missing) - n, "%s%s", n ? ", " : "", need[i].what);
        }
    }
    if (missing[0] != '\0') {
        return cli_usage_error("serve", "%s needs the Daraja rail settings; missing: %s",
                               live ? "a live key (cs_live_)" : "--rail daraja", missing);
    }
    int production = o->rail_env ? strcmp(o->rail_env, "production") == 0 : live;
    char callback[1200];
    size_t plen = strlen(o->public_url);
    while (plen > 0 && o->public_url[plen - 1] == '/') {
        plen--;
    }
    if (plen + sizeof(CALLBACK_PATH) > sizeof(callback)) {
        return cli_usage_error("serve", "--public-url is too long");
    }
    snprintf(callback, sizeof(callback), "%.*s" CALLBACK_PATH, (int)plen, o->public_url);

    constra_error err = CONSTRA_ERROR_INIT;
    constra_transport curl;
    memset(&curl, 0, sizeof(curl));
    constra_curl_options co = CONSTRA_CURL_OPTIONS_INIT;
    if (constra_transport_curl(&curl, &co, &err) != CONSTRA_OK) {
        fprintf(stderr, "constra serve: the Daraja rail needs the curl transport: %s\n",
                err.message);
        return CLI_EXIT_NO;
    }
    constra_daraja_config dc = CONSTRA_DARAJA_CONFIG_INIT;
    dc.environment = production ? CONSTRA_DARAJA_ENV_PRODUCTION : CONSTRA_DARAJA_ENV_SANDBOX;
    dc.base_url = o->rail_url;
    dc.consumer_key = consumer_key;
    dc.consumer_secret = consumer_secret;
    dc.shortcode = shortcode;
    dc.passkey = passkey;
    dc.transaction_type = CONSTRA_DARAJA_STK_PAYBILL;
    dc.callback_url = callback;
    dc.callback_token = token;
    /* Daraja's sandbox may call back over plain HTTP (a tunnel, a test);
     * production never (the rail refuses it there). */
    dc.allow_insecure_callback = !production && strncmp(callback, "http://", 7) == 0;
    constra_rail_init(rail, sizeof(*rail));
    /* The rail owns the transport from here on, also when this fails. */
    if (constra_rail_daraja(rail, &dc, &curl, NULL, &err) != CONSTRA_OK) {
        return cli_usage_error("serve", "cannot set up the Daraja rail: %s%s%s%s", err.message,
                               err.param[0] ? " (" : "", err.param, err.param[0] ? ")" : "");
    }
    info->daraja = 1;
    info->production = production;
    snprintf(info->base_url, sizeof(info->base_url), "%s",
             o->rail_url ? o->rail_url
             : production ? CONSTRA_DARAJA_PRODUCTION_BASE_URL
                          : CONSTRA_DARAJA_SANDBOX_BASE_URL);
    snprintf(info->shortcode, sizeof(info->shortcode), "%s", shortcode);
    return 0;
}

/* ---- the secret key ------------------------------------------------------------ */

static int read_random(unsigned char *buf, size_t len)
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

/* "cs_test_" + 48 hex digits (192 random bits). */
static int generate_key(char *out, size_t size)
{
    unsigned char raw[KEY_RANDOM_BYTES];
    if (read_random(raw, sizeof(raw)) != 0 || size < 8 + 2 * sizeof(raw) + 1) {
        return -1;
    }
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "cs_test_", 8);
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[8 + 2 * i] = hex[raw[i] >> 4];
        out[8 + 2 * i + 1] = hex[raw[i] & 15];
    }
    out[8 + 2 * sizeof(raw)] = '\0';
    return 0;
}

/* ---- the ticker ------------------------------------------------------------------ */

typedef struct ticker {
    constra_t *handle;
    /* Non-zero: this one runs constra_webhooks_tick() only (deliveries on
     * a thread of their own, so that a slow receiver never holds up
     * time-outs); zero: constra_tick() and the emulator. */
    int webhooks;
    serve_metrics *metrics;
    constra_daraja_emulator *emulator; /* NULL: no emulator */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;
} ticker;

static void *ticker_main(void *arg)
{
    ticker *t = arg;
    int failing = 0;
    long wait_ms = TICK_MS;
    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        pthread_mutex_unlock(&t->lock);
        int64_t now = constra_now_ms(t->handle);
        /* The emulator's due callbacks go out first, on this thread
         * (through curl, each bounded by the transport's time-out), so
         * that a callback to this same server is handled by the HTTP
         * threads like any provider's. */
        if (t->emulator != NULL) {
            constra_daraja_emulator_pump(t->emulator, now);
        }
        constra_error e = CONSTRA_ERROR_INIT;
        int rc = t->webhooks ? constra_webhooks_tick(t->handle, now, &e)
                             : constra_tick(t->handle, now, &e);
        /* Report a failing tick once, not four times a second. */
        const char *what = t->webhooks ? "webhook tick" : "tick";
        if (rc != CONSTRA_OK && !failing) {
            fprintf(stderr, "constra serve: %s failed: %s\n", what, e.message);
        } else if (rc == CONSTRA_OK && failing) {
            fprintf(stderr, "constra serve: %s recovered\n", what);
        }
        failing = rc != CONSTRA_OK;
        /* A failing storage is retried with back-off (250 ms doubling to
         * 8 s) rather than hammered four times a second; the first good
         * tick goes back to the normal pace. Requests meanwhile get 503
         * from the router and are not held up by the ticker. */
        if (failing) {
            atomic_fetch_add(&t->metrics->tick_failures, 1);
            wait_ms = wait_ms < TICK_BACKOFF_MAX_MS / 2 ? wait_ms * 2 : TICK_BACKOFF_MAX_MS;
        } else {
            wait_ms = TICK_MS;
        }

        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec += 1;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&t->lock);
        while (!t->stop && pthread_cond_timedwait(&t->wake, &t->lock, &until) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

static int ticker_start(ticker *t, constra_t *handle, int webhooks,
                        constra_daraja_emulator *emulator, serve_metrics *metrics)
{
    memset(t, 0, sizeof(*t));
    t->handle = handle;
    t->webhooks = webhooks;
    t->metrics = metrics;
    t->emulator = emulator;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int ok = pthread_mutex_init(&t->lock, NULL) == 0;
    if (ok && pthread_cond_init(&t->wake, &attr) != 0) {
        pthread_mutex_destroy(&t->lock);
        ok = 0;
    }
    pthread_condattr_destroy(&attr);
    if (!ok) {
        return -1;
    }
    if (pthread_create(&t->thread, NULL, ticker_main, t) != 0) {
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->lock);
        return -1;
    }
    return 0;
}

static void ticker_stop(ticker *t)
{
    pthread_mutex_lock(&t->lock);
    t->stop = 1;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
}

/* ---- start-up pieces ------------------------------------------------------------- */

/* --db postgresql://... or postgres://...: a PostgreSQL database. */
static int is_postgres_url(const char *db)
{
    return strncmp(db, "postgresql://", 13) == 0 || strncmp(db, "postgres://", 11) == 0;
}

/* The URL without its user and password (scheme://host/...), for the
 * banner and errors: a password never reaches a log. */
static void redact_url(const char *url, char *out, size_t size)
{
    const char *rest = strstr(url, "://");
    const char *at = rest ? strchr(rest + 3, '@') : NULL;
    const char *slash = rest ? strchr(rest + 3, '/') : NULL;
    if (rest && at && (slash == NULL || at < slash)) {
        snprintf(out, size, "%.*s://%s", (int)(rest - url), url, at + 1);
    } else {
        snprintf(out, size, "%s", url);
    }
    char *q = strchr(out, '?'); /* query parameters may carry a password too */
    if (q) {
        *q = '\0';
    }
}

/* Opens the handle: memory storage for ":memory:", else SQLite on the
 * file; the simulator rail, or the Daraja rail (--rail daraja, the
 * default for a live key); sandbox unless the key is a live key. The
 * callback token is derived from the key once and given to both the rail
 * and the handle. Returns 0, or the exit code. */
static int open_handle(const serve_options *o, const char *key, constra_t **out,
                       rail_info *info)
{
    constra_error err = CONSTRA_ERROR_INIT;
    int live = strncmp(key, "cs_live_", 8) == 0;
    int daraja = o->rail ? strcmp(o->rail, "daraja") == 0 : live;
    if (live && !daraja) {
        return cli_usage_error("serve", "a live key (cs_live_) needs a real rail: --rail daraja "
                                        "(the simulator is for sandbox keys only)");
    }
    if (!daraja && (o->rail_env || o->rail_url || o->rail_consumer_key || o->rail_shortcode)) {
        return cli_usage_error("serve", "the --rail-* options are for the Daraja rail "
                                        "(--rail daraja)");
    }
    char token[65];
    if (constra_derive_callback_token(key, token, sizeof(token), &err) != CONSTRA_OK) {
        fprintf(stderr, "constra serve: %s\n", err.message);
        return CLI_EXIT_USAGE;
    }
    memset(info, 0, sizeof(*info));
    constra_rail rail;
    constra_rail_init(&rail, sizeof(rail));
    if (daraja) {
        int rc = open_daraja_rail(o, live, token, &rail, info);
        if (rc != 0) {
            return rc;
        }
    }
    constra_storage storage = CONSTRA_STORAGE_INIT;
    constra_config cfg = CONSTRA_CONFIG_INIT;
    if (is_postgres_url(o->db)) {
        /* Several servers may share one database. */
        char shown[512];
        redact_url(o->db, shown, sizeof(shown));
        if (constra_storage_postgres(&storage, NULL, o->db, &err) != CONSTRA_OK) {
            fprintf(stderr, "constra serve: cannot open the database %s: %s\n", shown,
                    err.message);
            if (daraja) {
                rail.destroy(rail.user_data);
            }
            return CLI_EXIT_NO;
        }
        cfg.storage = &storage;
    } else if (strcmp(o->db, ":memory:") != 0) {
        constra_sqlite_options so = CONSTRA_SQLITE_OPTIONS_INIT;
        so.path = o->db;
        so.synchronous = o->sync_normal ? CONSTRA_SQLITE_SYNC_NORMAL : CONSTRA_SQLITE_SYNC_FULL;
        if (constra_storage_sqlite(&storage, NULL, &so, &err) != CONSTRA_OK) {
            fprintf(stderr, "constra serve: cannot open the database %s: %s\n", o->db,
                    err.message);
            if (daraja) {
                rail.destroy(rail.user_data);
            }
            return CLI_EXIT_NO;
        }
        cfg.storage = &storage;
    }
    cfg.rail = daraja ? &rail : NULL; /* NULL: the simulator */
    /* Webhook deliveries go out through curl, from a thread of their own
     * (the webhooks ticker below), so that a slow receiver holds up other
     * deliveries for at most this long each, and time-outs of intents
     * never. */
    constra_transport hooks;
    memset(&hooks, 0, sizeof(hooks));
    constra_curl_options hco = CONSTRA_CURL_OPTIONS_INIT;
    hco.connect_timeout_ms = 3000;
    hco.timeout_ms = 8000;
    int have_hooks = constra_transport_curl(&hooks, &hco, &err) == CONSTRA_OK;
    if (!have_hooks) {
        fprintf(stderr, "constra serve: warning: no curl transport (%s): webhook endpoints "
                        "can be registered but nothing is sent\n", err.message);
        err = (constra_error)CONSTRA_ERROR_INIT;
    }
    cfg.transport = have_hooks ? &hooks : NULL;
    cfg.webhooks_own_thread = 1;
    cfg.mode = live ? CONSTRA_MODE_LIVE : CONSTRA_MODE_SANDBOX;
    cfg.secret_key = key;
    cfg.callback_token = token;
    cfg.callback_timeout_ms = o->callback_timeout_s * 1000;
    cfg.webhook_disable_after_ms =
        o->webhook_disable_after_s < 0 ? -1 : o->webhook_disable_after_s * 1000;
    int rc = constra_open(out, &cfg, &err);
    memset(token, 0, sizeof(token));
    if (rc != CONSTRA_OK) {
        fprintf(stderr, "constra serve: cannot open the workspace: %s%s%s%s\n", err.message,
                err.param[0] ? " (" : "", err.param, err.param[0] ? ")" : "");
        /* constra_open does not take ownership when it fails. */
        if (cfg.storage) {
            storage.destroy(storage.user_data);
        }
        if (have_hooks && hooks.destroy) {
            hooks.destroy(hooks.user_data);
        }
        if (daraja) {
            rail.destroy(rail.user_data);
        }
        return CLI_EXIT_NO;
    }
    if (o->public_url != NULL && constra_api_set_public_url(*out, o->public_url, &err) != 0) {
        constra_close(*out);
        *out = NULL;
        return cli_usage_error("serve", "--public-url: %s", err.message);
    }
    return 0;
}

/* --emulate-daraja: the emulator (sandbox shortcode 174379 with its
 * published passkey is built in), sending its callbacks through curl.
 * Without libcurl the callbacks are counted but not sent (warned). */
static int open_emulator(const serve_options *o, constra_daraja_emulator **out)
{
    constra_error err = CONSTRA_ERROR_INIT;
    constra_transport curl;
    memset(&curl, 0, sizeof(curl));
    constra_curl_options co = CONSTRA_CURL_OPTIONS_INIT;
    /* The ticker waits for each callback: keep a dead CallBackURL short. */
    co.connect_timeout_ms = 2000;
    co.timeout_ms = 5000;
    const constra_transport *cb = &curl;
    int rc = constra_transport_curl(&curl, &co, &err);
    if (rc == CONSTRA_E_UNSUPPORTED) {
        fprintf(stderr, "constra serve: warning: built without libcurl: the Daraja emulator "
                        "will not send callbacks\n");
        cb = NULL;
    } else if (rc != CONSTRA_OK) {
        fprintf(stderr, "constra serve: cannot set up the curl transport: %s\n", err.message);
        return -1;
    }
    constra_daraja_emulator_options eo = CONSTRA_DARAJA_EMULATOR_OPTIONS_INIT;
    eo.consumer_key = o->daraja_key;
    eo.consumer_secret = o->daraja_secret;
    eo.result_delay_ms = o->daraja_delay_ms;
    /* On success the emulator owns the transport; on failure it is ours. */
    if (constra_daraja_emulator_new(out, &eo, cb, NULL, &err) != CONSTRA_OK) {
        fprintf(stderr, "constra serve: cannot start the Daraja emulator: %s\n", err.message);
        if (cb != NULL && curl.destroy != NULL) {
            curl.destroy(curl.user_data);
        }
        return -1;
    }
    return 0;
}

/* Resolves --host (a numeric address or a name such as localhost) into a
 * socket address with the port. */
static int resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || res == NULL) {
        fprintf(stderr, "constra serve: cannot use host '%s': %s\n", host, gai_strerror(rc));
        return -1;
    }
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    if (ss->ss_family == AF_INET) {
        ((struct sockaddr_in *)(void *)ss)->sin_port = htons((uint16_t)port);
    } else if (ss->ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)(void *)ss)->sin6_port = htons((uint16_t)port);
    } else {
        fprintf(stderr, "constra serve: host '%s' is not an IP address\n", host);
        return -1;
    }
    return 0;
}

/* The host as URLs show it: wildcard binds are reached via loopback,
 * IPv6 literals go in brackets. */
static void url_host(const char *host, char *out, size_t size)
{
    if (strcmp(host, "0.0.0.0") == 0) {
        snprintf(out, size, "127.0.0.1");
    } else if (strcmp(host, "::") == 0) {
        snprintf(out, size, "[::1]");
    } else if (strchr(host, ':') != NULL) {
        snprintf(out, size, "[%s]", host);
    } else {
        snprintf(out, size, "%s", host);
    }
}

/* Waits for in-flight requests to finish, at most DRAIN_MS; a second
 * signal ends the wait. */
static void drain(serve_server *s, const sigset_t *sigs)
{
    struct timespec step = {0, 10 * 1000000L};
    for (int waited = 0; atomic_load(&s->in_flight) > 0; waited += 10) {
        if (waited >= DRAIN_MS) {
            fprintf(stderr, "constra serve: %d request(s) still running after %d s: stopping\n",
                    atomic_load(&s->in_flight), DRAIN_MS / 1000);
            return;
        }
        if (sigtimedwait(sigs, NULL, &step) > 0) {
            fprintf(stderr, "constra serve: second signal: stopping now\n");
            return;
        }
    }
}

/* ---- the command ----------------------------------------------------------------- */

int cmd_serve(int argc, char **argv);

int cmd_serve(int argc, char **argv)
{
    /* First thing, before any thread exists (see the top of the file), so
     * that a signal sent as soon as the process runs waits for sigwait().
     * SIGPIPE is ignored: a client that hangs up must not kill the server. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    serve_options o;
    int prc = parse_options(argc, argv, &o);
    if (prc != 0) {
        return prc < 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }

    char generated[8 + 2 * KEY_RANDOM_BYTES + 1];
    const char *key = o.secret_key;
    const char *key_source = "--secret-key";
    if (key == NULL && (key = getenv("CONSTRA_SECRET_KEY")) != NULL && key[0] != '\0') {
        key_source = "CONSTRA_SECRET_KEY";
    } else if (key == NULL || key[0] == '\0') {
        if (generate_key(generated, sizeof(generated)) != 0) {
            fprintf(stderr, "constra serve: no random source to make a key\n");
            return CLI_EXIT_NO;
        }
        key = generated;
        key_source = "generated";
    }
    if (strncmp(key, "cs_test_", 8) != 0 && strncmp(key, "cs_live_", 8) != 0) {
        return cli_usage_error("serve", "the secret key must start with cs_test_ or cs_live_");
    }

    struct sockaddr_storage addr;
    socklen_t addr_len = 0;
    if (resolve(o.host, o.port, &addr, &addr_len) != 0) {
        return CLI_EXIT_USAGE;
    }

    int rc = CLI_EXIT_NO;
    serve_log log;
    /* [0] per client address, [1] per workspace key. */
    serve_limiter *limiter = calloc(2, sizeof(*limiter));
    uint64_t seed[2] = {0, 0};
    if (limiter == NULL || read_random((unsigned char *)seed, sizeof(seed)) != 0 ||
        serve_limiter_init(&limiter[0], o.rate, o.burst, seed[0]) != 0) {
        fprintf(stderr, "constra serve: cannot set up the rate limiter\n");
        free(limiter);
        return CLI_EXIT_NO;
    }
    if (serve_limiter_init(&limiter[1], o.key_rate, o.key_burst, seed[1]) != 0) {
        fprintf(stderr, "constra serve: cannot set up the rate limiter\n");
        serve_limiter_destroy(&limiter[0]);
        free(limiter);
        return CLI_EXIT_NO;
    }
    if (serve_log_open(&log, o.access_log) != 0) {
        serve_limiter_destroy(&limiter[0]);
        serve_limiter_destroy(&limiter[1]);
        free(limiter);
        return CLI_EXIT_USAGE;
    }
    log.json = o.log_json;
    constra_t *handle = NULL;
    rail_info rinfo;
    int orc = open_handle(&o, key, &handle, &rinfo);
    if (orc != 0) {
        rc = orc;
        goto out_log;
    }

    constra_daraja_emulator *emulator = NULL;
    if (o.emulate_daraja && open_emulator(&o, &emulator) != 0) {
        goto out_handle;
    }

    serve_server server;
    memset(&server, 0, sizeof(server));
    server.emulator = emulator;
    server.handle = handle;
    server.secret_key = key;
    server.limiter = &limiter[0];
    server.key_limiter = &limiter[1];
    server.log = &log;
    server.connection_timeout_s = o.timeout_s;
    server.max_client_connections = o.max_client_connections;
    server.keep_alive = o.keep_alive;
    atomic_init(&server.in_flight, 0);
    atomic_init(&server.draining, 0);
    /* Both outlive the daemon: its threads use them until it stops. */
    static serve_conns conns;
    static serve_metrics metrics;
    server.conns = &conns;
    server.metrics = &metrics;
    if (serve_metrics_init(&metrics, constra_now_ms(handle)) != 0) {
        fprintf(stderr, "constra serve: cannot set up the metrics\n");
        goto out_handle;
    }
    if (serve_conns_start(&conns, (int64_t)o.header_timeout_s * 1000) != 0) {
        fprintf(stderr, "constra serve: cannot start the connection watchdog\n");
        goto out_metrics;
    }

    /* The socket first: a used port fails here, before anything runs. */
    int port = 0;
    int listen_fd = serve_gate_listen((const struct sockaddr *)&addr, (unsigned)addr_len, &port);
    if (listen_fd < 0) {
        fprintf(stderr, "constra serve: cannot listen on %s port %d: %s%s\n", o.host, o.port,
                strerror(errno), errno == EADDRINUSE ? " (is another server on it?)" : "");
        goto out_conns;
    }
    struct MHD_Daemon *daemon = serve_http_start(&server, o.threads);
    if (daemon == NULL) {
        fprintf(stderr, "constra serve: cannot start the HTTP server\n");
        close(listen_fd);
        goto out_conns;
    }
    static serve_gate gate;
    if (serve_gate_start(&gate, &server, listen_fd, daemon,
                         (int64_t)o.header_timeout_s * 1000) != 0) {
        fprintf(stderr, "constra serve: cannot start the accept thread\n");
        close(listen_fd);
        MHD_stop_daemon(daemon);
        goto out_conns;
    }

    ticker tick, hooks_tick;
    if (ticker_start(&tick, handle, 0, emulator, &metrics) != 0) {
        fprintf(stderr, "constra serve: cannot start the ticker thread\n");
        serve_gate_stop(&gate);
        MHD_stop_daemon(daemon);
        goto out_conns;
    }
    if (ticker_start(&hooks_tick, handle, 1, NULL, &metrics) != 0) {
        fprintf(stderr, "constra serve: cannot start the webhooks thread\n");
        ticker_stop(&tick);
        serve_gate_stop(&gate);
        MHD_stop_daemon(daemon);
        goto out_conns;
    }

    char host[300];
    url_host(o.host, host, sizeof(host));
    int live = strncmp(key, "cs_live_", 8) == 0;
    if (o.public_url == NULL) {
        /* The listen URL, known now that the port is bound. */
        char listen_url[400];
        snprintf(listen_url, sizeof(listen_url), "http://%s:%d", host, port);
        constra_api_set_public_url(handle, listen_url, NULL);
    }
    char rail_text[700];
    if (rinfo.daraja) {
        snprintf(rail_text, sizeof(rail_text), "Daraja rail (%s, %s, shortcode %s)",
                 rinfo.production ? "production" : "sandbox", rinfo.base_url, rinfo.shortcode);
    } else {
        snprintf(rail_text, sizeof(rail_text), "simulator rail");
    }
    char db_shown[512];
    redact_url(o.db, db_shown, sizeof(db_shown));
    printf("constra serve %s: %s mode, %s, storage %s%s\n", constra_version(),
           live ? "live" : "sandbox", rail_text,
           strcmp(o.db, ":memory:") == 0 ? "memory"
           : is_postgres_url(o.db)       ? ""
                                         : "sqlite:",
           strcmp(o.db, ":memory:") == 0 ? "" : db_shown);
    printf("  API base:        http://%s:%d/api/v1  (also /v1)\n", host, port);
    char callback_url[1200];
    if (constra_api_callback_url(handle, callback_url, sizeof(callback_url), NULL) == 0) {
        /* With its token: give it to the provider, keep it from others. */
        printf("  Callback URL:    %s\n", callback_url);
    }
    printf("  Dashboard:       http://%s:%d/#key=%s\n", host, port, key);
    printf("  Secret key:      %s (%s)\n", key, key_source);
    printf("  Rate limit:      ");
    if (o.rate > 0) {
        printf("%.0f requests/s per client address, burst %.0f", o.rate, o.burst);
    } else {
        printf("off per client address");
    }
    if (o.key_rate > 0) {
        printf("; %.0f/s per key, burst %.0f\n", o.key_rate, o.key_burst);
    } else {
        printf("; off per key\n");
    }
    if (emulator != NULL) {
        /* The consumer secret is never printed: only where it came from. */
        printf("  Daraja emulator: http://%s:%d (shortcode %s, the sandbox passkey)\n", host,
               port, CONSTRA_DARAJA_SANDBOX_SHORTCODE);
        printf("  Daraja app:      consumer key %s; secret %s\n",
               o.daraja_key ? o.daraja_key : "emulator-consumer-key",
               o.daraja_secret ? "from --daraja-consumer-secret"
                               : "the emulator's default (see the README)");
    }
    printf("constra serve: listening on http://%s:%d\n", host, port);
    fflush(stdout);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    fprintf(stderr, "constra serve: %s: finishing in-flight requests\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");

    atomic_store(&server.draining, 1);
    /* Stop accepting: new clients fail fast instead of waiting in the
     * backlog until the drain ends. */
    serve_gate_stop(&gate);
    drain(&server, &sigs);
    MHD_stop_daemon(daemon);
    /* A send in progress finishes first (at most the transport's 8 s). */
    ticker_stop(&hooks_tick);
    ticker_stop(&tick);
    rc = CLI_EXIT_OK;
    fprintf(stderr, "constra serve: stopped\n");

out_conns:
    serve_conns_stop(&conns);
out_metrics:
    serve_metrics_destroy(&metrics);
out_handle:
    /* After the ticker and the daemon: nothing uses it any more. */
    constra_daraja_emulator_free(emulator);
    constra_close(handle); /* SQLite: checkpoint, close */
out_log:
    serve_log_close(&log);
    serve_limiter_destroy(&limiter[0]);
    serve_limiter_destroy(&limiter[1]);
    free(limiter);
    return rc;
}
