#!/bin/sh
# The remote client over real HTTP: starts the built `constra serve` on a
# free port of 127.0.0.1 and runs test_client with CONSTRA_TEST_SERVE_URL
# set, so its test_against_constra_serve case goes through the libcurl
# transport to a real server (the other cases run as always).
#   test_client_serve.sh CONSTRA_CLI TEST_CLIENT
cli=$1
test_client=$2
key=cs_test_client_serve_suite_01
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
"$cli" serve --host 127.0.0.1 --port 0 --db :memory: --secret-key "$key" \
    --access-log off --rate-limit 100000 --rate-burst 100000 >"$tmp/log" 2>&1 &
pid=$!
i=0
while ! grep -q 'listening on' "$tmp/log"; do
    i=$((i + 1))
    if [ "$i" -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "1..1"
        echo "not ok 1 - constra serve started"
        sed 's/^/# /' "$tmp/log"
        exit 1
    fi
    sleep 0.05
done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$tmp/log" | head -n 1)
CONSTRA_TEST_SERVE_URL="$url/v1" CONSTRA_TEST_SERVE_KEY="$key" "$test_client"
