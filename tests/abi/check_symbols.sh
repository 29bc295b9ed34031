#!/usr/bin/env bash
# Every dynamic symbol libconstra.so defines carries the constra_ prefix;
# every global symbol of libconstra.a starts with constra (public
# constra_ or internal constra__), so static linking cannot clash with a
# host's names either.
set -u
. "$(dirname "$0")/tap.sh"
so=$1 a=$2

exported=$(nm -D --defined-only "$so" | awk 'NF>=3 {sub(/@.*/, "", $3); print $3}')
bad=$(printf '%s\n' "$exported" | grep -v '^constra_' | grep -v '^$')
if [ -z "$bad" ]; then ok "libconstra.so exports only constra_ symbols ($(printf '%s\n' "$exported" | wc -l))"
else not_ok "libconstra.so exports non-constra_ symbols:"; printf '# %s\n' $bad; fi

for sym in constra_version constra_strerror constra_open constra_close constra_last_error \
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
tap_done
