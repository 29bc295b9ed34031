/*
 * mhd_minimal — the floor for bench/serve: libmicrohttpd configured as
 * `constra serve` configures it (internal polling threads, a thread pool,
 * epoll + turbo on Linux, the same time-out and memory limit), answering
 * every request with one fixed JSON body of an intent's size. Whatever
 * constra serve does beyond this is the cost of the API.
 *
 *   mhd_minimal [PORT [THREADS]]   (PORT 0 = a free port)
 *
 * Prints "mhd_minimal: listening on http://127.0.0.1:PORT" and runs until
 * SIGINT or SIGTERM.
 */
#define _POSIX_C_SOURCE 200809L

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

/* About the size of a payment intent's JSON. */
static const char body[] =
    "{\"id\":\"pi_01m84753knds2x4hf2889kkx1j\",\"object\":\"payment_intent\",\"status\":"
    "\"pending_user_action\",\"amount\":1250,\"currency\":\"KES\",\"provider\":\"mpesa\","
    "\"rail\":\"sim\",\"livemode\":false,\"reference\":\"order_7429\",\"description\":"
    "\"Solar home kit deposit\",\"customer\":{\"name\":\"Amina N.\",\"phone_number\":"
    "\"254700000000\"},\"agent_policy\":\"operator_review\",\"provider_action\":{\"type\":"
    "\"stk_push\",\"state\":\"sent_to_customer\",\"checkout_request_id\":"
    "\"ws_CO_231120261547350297000000001\"},\"provider_result\":null,\"receipt\":null,"
    "\"next_action\":\"wait_for_callback\",\"recovery\":null,\"attempts\":[{\"id\":"
    "\"att_01m84753knds2x4hf2889kkx1k\",\"state\":\"sent_to_customer\","
    "\"checkout_request_id\":\"ws_CO_231120261547350297000000001\",\"merchant_request_id\":"
    "\"29116-34620562-1\",\"result_code\":null,\"result_desc\":null,\"receipt\":null,"
    "\"created_at\":\"2026-11-23T12:47:35.029Z\",\"completed_at\":null}],\"created_at\":"
    "\"2026-11-23T12:47:35.029Z\",\"updated_at\":\"2026-11-23T12:47:35.029Z\"}";

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    static int marker;
    if (*con_cls == NULL) { /* the headers: wait for the body, if any */
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ok = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ok;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 2;
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
#if defined(__linux__)
    flags |= MHD_USE_EPOLL | MHD_USE_TURBO;
#else
    flags |= MHD_USE_POLL;
#endif
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024), MHD_OPTION_CONNECTION_LIMIT,
        1000u, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "mhd_minimal: cannot listen on port %d\n", port);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("mhd_minimal: listening on http://127.0.0.1:%d\n", info ? (int)info->port : port);
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    MHD_stop_daemon(d);
    return 0;
}
