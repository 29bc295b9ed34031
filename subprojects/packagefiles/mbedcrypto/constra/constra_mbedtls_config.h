/*
 * The mbedTLS configuration of libconstra's cross builds: SHA-256 only
 * (HMAC-SHA256 is built on it in lib/util/hmac.c), the small variant,
 * no platform layer, no time, no threads.
 */
#ifndef CONSTRA_MBEDTLS_CONFIG_H
#define CONSTRA_MBEDTLS_CONFIG_H

#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA256_SMALLER

#include "mbedtls/check_config.h"

#endif
