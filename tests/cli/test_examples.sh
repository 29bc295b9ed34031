#!/usr/bin/env bash
# The C examples build and run, and say what they promise.
set -u
. "$(dirname "$0")/../abi/tap.sh"
hello=$1 quickstart=$2

out=$("$hello" 2>&1); rc=$?
if [ $rc -eq 0 ] && printf '%s' "$out" | grep -q 'new intent id: pi_' &&
   printf '%s' "$out" | grep -q 'CONSTRA_E_OVERFLOW'; then ok "hello runs"; else not_ok "hello: rc=$rc"; printf '# %s\n' "$out"; fi

out=$("$quickstart" 2>&1); rc=$?
[ $rc -eq 0 ] && ok "quickstart exits 0" || { not_ok "quickstart exits 0 (rc=$rc)"; printf '# %s\n' "$out"; }
for want in 'status=pending_user_action' 'status=requires_recovery' 'recommended action: retry' \
            'agent note: ' 'status=succeeded' 'M-Pesa receipt: [A-Z0-9]\{10\}' \
            '1\. payment_intent.created' '2\. payment_intent.pending_user_action' \
            '3\. payment_intent.requires_recovery' '4\. payment_intent.pending_user_action' \
            '5\. payment_intent.succeeded'; do
  if printf '%s\n' "$out" | grep -q "$want"; then ok "quickstart shows '$want'"; else not_ok "quickstart shows '$want'"; fi
done
tap_done
