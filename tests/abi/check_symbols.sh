#!/usr/bin/env bash
# Every dynamic symbol libconstra.so defines carries the constra_ prefix;
# every global symbol of libconstra.a starts with constra (public
# constra_ or internal constra__), so static linking cannot clash with a
# host's names either.
set -u
. "$(dirname "$0")/tap.sh"
so=$1 a=$2 inc=${3:-}

exported=$(nm -D --defined-only "$so" | awk 'NF>=3 {sub(/@.*/, "", $3); print $3}')
bad=$(printf '%s\n' "$exported" | grep -v '^constra_' | grep -v '^$')
if [ -z "$bad" ]; then ok "libconstra.so exports only constra_ symbols ($(printf '%s\n' "$exported" | wc -l))"
else not_ok "libconstra.so exports non-constra_ symbols:"; printf '# %s\n' $bad; fi

for sym in constra_version constra_strerror constra_open constra_close \
           constra_platform_init constra_error_init constra_id_new constra_money_add; do
  if printf '%s\n' "$exported" | grep -qx "$sym"; then ok "exports $sym"; else not_ok "exports $sym"; fi
done

internal=$(printf '%s\n' "$exported" | grep '^constra__')
if [ -z "$internal" ]; then ok "no internal constra__ symbol is exported"
else not_ok "internal symbols exported:"; printf '# %s\n' $internal; fi

soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [ "$soname" = "libconstra.so.0" ]; then ok "soname is libconstra.so.0"; else not_ok "soname is '$soname'"; fi

globals=$(nm -g --defined-only "$a" 2>/dev/null | awk 'NF==3 {print $3}')
badg=$(printf '%s\n' "$globals" | grep -v '^constra' | grep -v '^$')
if [ -z "$badg" ]; then ok "libconstra.a defines only constra-prefixed globals"
else not_ok "libconstra.a defines foreign globals:"; printf '# %s\n' $badg; fi
# Exports and headers agree both ways: every CONSTRA_API function declared
# in a public header is exported (else programs fail to link), and every
# export is declared somewhere (else it is an accident).
if [ -n "$inc" ]; then
  declared=$(cat "$inc"/constra.h "$inc"/constra/*.h "${4:-/dev/null}" 2>/dev/null | tr '\n' ' ' |
    grep -o 'CONSTRA_API[^;(]*(' | grep -o 'constra_[a-z0-9_]*[[:space:]]*($' | tr -d ' (' | sort -u)
  exp_fns=$(printf '%s\n' "$exported" | grep -v '^constra_0$' | sort -u)
  missing=$(comm -23 <(printf '%s\n' "$declared") <(printf '%s\n' "$exp_fns"))
  extra=$(comm -13 <(printf '%s\n' "$declared") <(printf '%s\n' "$exp_fns"))
  if [ -z "$missing" ]; then ok "every declared CONSTRA_API function is exported ($(printf '%s\n' "$declared" | wc -l))"
  else not_ok "declared but not exported:"; printf '# %s\n' $missing; fi
  if [ -z "$extra" ]; then ok "every export is declared in a public header"
  else not_ok "exported but not declared:"; printf '# %s\n' $extra; fi
fi
tap_done
