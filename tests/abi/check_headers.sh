#!/usr/bin/env bash
# Each public header compiles alone, as C11 and as C++11, with warnings as
# errors: no header depends on being included after another.
set -u
. "$(dirname "$0")/tap.sh"
src_inc=$1 build_inc=$2 cc=$3 cxx=${4:-}
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$tap_log"' EXIT
headers=$(cd "$src_inc" && ls constra.h constra/*.h; cd "$build_inc" && ls constra/*.h)
for h in $(printf '%s\n' $headers | sort -u); do
  printf '#include <%s>\n#include <%s>\nint constra_header_test_dummy;\n' "$h" "$h" > "$tmp/t.c"
  check "$h compiles alone as C11" $cc -std=c11 -Wall -Wextra -Wpedantic -Werror \
    -I"$src_inc" -I"$build_inc" -c "$tmp/t.c" -o "$tmp/t.o"
  if [ -n "$cxx" ]; then
    cp "$tmp/t.c" "$tmp/t.cpp"
    check "$h compiles alone as C++11" $cxx -std=c++11 -Wall -Wextra -Wpedantic -Werror \
      -I"$src_inc" -I"$build_inc" -c "$tmp/t.cpp" -o "$tmp/t.o"
  fi
done
# Every header in include/constra/ is reachable from the umbrella.
for h in $(cd "$src_inc" && ls constra/*.h) constra/version.h; do
  if grep -q "#include \"$h\"" "$src_inc/constra.h" || [ "$h" = constra/export.h ]; then ok "constra.h includes $h"
  else not_ok "constra.h includes $h"; fi
done
tap_done
