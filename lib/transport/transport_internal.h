/*
 * Internal: what the library's own transports and senders share beyond
 * the public transport.h.
 */
#ifndef CONSTRA_TRANSPORT_INTERNAL_H
#define CONSTRA_TRANSPORT_INTERNAL_H

#include <stddef.h>

#include "constra/transport.h"

/* Checks a request exactly as constra_transport_send() does. */
int constra__transport_request_check(const constra_transport_request *req, constra_error *err);

/* 1 and the length of "scheme://authority" when `url` is an absolute
 * http(s) URL with a non-empty authority; 0 otherwise. */
int constra__transport_url_origin_len(const char *url, size_t *origin_len);

/* A fresh response on a resolved platform; max_body 0 = the default. */
int constra__transport_response_new(const constra_platform *resolved, size_t max_body,
                                    constra_transport_response **out);

/* The failure recorded so far (constra_transport_failure) and its text. */
int constra__transport_response_failure(const constra_transport_response *r);
const char *constra__transport_response_failure_message(const constra_transport_response *r);

#endif
