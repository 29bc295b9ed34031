#!/usr/bin/env bash
# constra_features() (as `constra version` prints it) against what the
# build really holds: the libraries libconstra.so links directly (readelf
# NEEDED, not ldd: libcurl itself may pull in libcrypto) and what its
# pkg-config file hands a static consumer. Every feature listed must be
# linked, every optional library linked must be listed, exactly one crypto
# backend is linked, and -Dcrypto=auto picked OpenSSL exactly when this
# machine has libcrypto >= 3.
#   check_features.sh CONSTRA_CLI LIBCONSTRA_SO CONSTRA_PC CRYPTO_OPTION
set -u
. "$(dirname "$0")/tap.sh"
cli=$1 so=$2 pc=$3 crypto_option=$4

features=$("$cli" version --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["features"])')
text=$("$cli" version | sed -n 's/^features: //p')
[ "$features" = "$text" ] && ok "constra version and --json list the same features: $features" \
  || not_ok "constra version says '$text', --json says '$features'"

needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "# NEEDED: $(echo $needed)"
links() { printf '%s\n' "$needed" | grep -q "^$1"; }
listed() { case " $features " in *" $1 "*) return 0 ;; esac; return 1; }

known="curl sqlite postgres crypto=openssl crypto=mbedtls"
for f in $features; do
  case " $known " in
    *" $f "*) ok "feature '$f' is one libconstra can hold" ;;
    *) not_ok "feature '$f' is not built into libconstra (known: $known)" ;;
  esac
done

# Optional library <-> feature, both ways.
for pair in curl:libcurl.so sqlite:libsqlite3.so postgres:libpq.so; do
  f=${pair%%:*} lib=${pair#*:}
  if listed "$f" && links "$lib"; then ok "$f listed and $lib linked"
  elif ! listed "$f" && ! links "$lib"; then ok "$f not listed and $lib not linked"
  else not_ok "$f listed: $(listed "$f" && echo yes || echo no), $lib linked: $(links "$lib" && echo yes || echo no)"; fi
done
# Libraries the library must never link: no code of theirs is in it.
for lib in libmicrohttpd.so; do
  links "$lib" && not_ok "libconstra links $lib" || ok "libconstra does not link $lib"
done

# Exactly one crypto backend, the one listed (tests/webhook/test_hmac checks
# that the HMAC code reports the same).
backend=$(printf '%s\n' $features | sed -n 's/^crypto=//p')
n=$(printf '%s\n' $features | grep -c '^crypto=')
[ "$n" -eq 1 ] && ok "one crypto backend listed: $backend" || not_ok "$n crypto= entries in '$features'"
case $backend in
  openssl) want=libcrypto.so; other=libmbedcrypto.so ;;
  mbedtls) want=libmbedcrypto.so; other=libcrypto.so ;;
  *) want=none; other=none ;;
esac
links "$want" && ok "crypto=$backend: $want linked" || not_ok "crypto=$backend but $want not linked"
links "$other" && not_ok "crypto=$backend but $other linked too" || ok "crypto=$backend: $other not linked"
if [ -f "$pc" ]; then
  priv=$(grep -E '^(Libs|Requires)(\.private)?:' "$pc" | tr '\n' ' ')
  case $backend in
    openssl) bad='mbedcrypto' good='crypto' ;;
    mbedtls) bad='libcrypto|-lcrypto( |$)' good='mbedcrypto' ;;
  esac
  if printf '%s' "$priv" | grep -Eq "$good" && ! printf '%s' "$priv" | grep -Eq "$bad"; then
    ok "constra.pc hands static consumers only $backend"
  else not_ok "constra.pc link lines: $priv"; fi
else
  not_ok "no pkg-config file at $pc"
fi

# auto: OpenSSL exactly when libcrypto >= 3 is installed here.
if [ "$crypto_option" = auto ]; then
  if pkg-config --exists 'libcrypto >= 3.0'; then exp=openssl; else exp=mbedtls; fi
  [ "$backend" = "$exp" ] && ok "-Dcrypto=auto chose $backend (libcrypto >= 3 installed: $([ $exp = openssl ] && echo yes || echo no))" \
    || not_ok "-Dcrypto=auto chose $backend, expected $exp"
else
  [ "$backend" = "$crypto_option" ] && ok "-Dcrypto=$crypto_option is what was built" \
    || not_ok "-Dcrypto=$crypto_option but the build has crypto=$backend"
fi
tap_done
