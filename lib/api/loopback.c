/* The REST router as a loopback handler (transport.h): what a remote
 * client sees over HTTP, in process. */
#include <string.h>

#include "constra/api.h"
#include "transport/transport_internal.h"

int constra_api_loopback_handler(void *handle, const constra_transport_request *request,
                                 constra_transport_response *response)
{
    size_t origin_len = 0;
    if (request == NULL || response == NULL ||
        !constra__transport_url_origin_len(request->url, &origin_len)) {
        return constra_transport_response_fail(response, CONSTRA_TRANSPORT_OTHER,
                                               "loopback: not an absolute URL");
    }
    const char *target = request->url + origin_len;
    if (*target == '\0' || *target == '#') {
        target = "/";
    }
    constra_api_request api = CONSTRA_API_REQUEST_INIT;
    api.method = request->method;
    api.target = target;
    api.headers = request->headers;
    api.header_count = request->header_count;
    api.body = request->body;
    api.body_len = request->body_len;
    constra_api_response *answer = NULL;
    if (constra_api_handle(handle, &api, &answer, NULL) != CONSTRA_OK) {
        return constra_transport_response_fail(response, CONSTRA_TRANSPORT_OTHER,
                                               "loopback: the router produced no response");
    }
    int rc = constra_transport_response_set_status(response,
                                                   constra_api_response_status(answer));
    size_t n = constra_api_response_header_count(answer);
    for (size_t i = 0; rc == CONSTRA_OK && i < n; i++) {
        const char *name = constra_api_response_header_name(answer, i);
        const char *value = constra_api_response_header_value(answer, i);
        rc = constra_transport_response_add_header(response, name, strlen(name), value,
                                                   strlen(value));
    }
    if (rc == CONSTRA_OK) {
        size_t len;
        const char *body = constra_api_response_body(answer, &len);
        rc = constra_transport_response_append(response, body, len);
    }
    constra_api_response_free(answer);
    return rc;
}
