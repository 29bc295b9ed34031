/*
 * libconstra — payment operations on mobile-money rails (M-Pesa first).
 *
 * The umbrella header: include this one and get the whole public API.
 * Each part also stands alone under constra/ and may be included by itself.
 */
#ifndef CONSTRA_H
#define CONSTRA_H

#include "constra/export.h"
#include "constra/version.h"
#include "constra/error.h"
#include "constra/platform.h"
#include "constra/money.h"
#include "constra/id.h"
#include "constra/handle.h"
#include "constra/http.h"
#include "constra/transport.h"
#include "constra/transport_curl.h"
#include "constra/storage.h"
#include "constra/storage_sqlite.h"
#include "constra/rail.h"
#include "constra/intent.h"
#include "constra/result_codes.h"
#include "constra/mpesa_fields.h"
#include "constra/webhook_signature.h"
#include "constra/webhook_delivery.h"
#include "constra/instruction.h"
#include "constra/daraja.h"
#include "constra/client.h"
#include "constra/api.h"
#include "constra/rail_daraja.h"
#include "constra/daraja_emulator.h"

#endif /* CONSTRA_H */
