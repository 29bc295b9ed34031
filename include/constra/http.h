/*
 * libconstra — one HTTP header as name and value, shared by the REST
 * router (api.h) and the transport vtable (transport.h).
 */
#ifndef CONSTRA_HTTP_H
#define CONSTRA_HTTP_H

#include "constra/export.h"

CONSTRA_BEGIN_DECLS

/** One header: NUL-terminated name and value, borrowed by whoever
 *  receives it for the duration of the call only. */
typedef struct constra_http_header {
    const char *name;
    const char *value;
} constra_http_header;

CONSTRA_END_DECLS

#endif /* CONSTRA_HTTP_H */
