# HTTPS on gpuplexd's TCP listener, the CLI's verification of it, and the refusal to serve
# plain HTTP on a non-loopback address (daemon_tls.py). The test makes its own CAs and
# server certificate with openssl.
. "$SRC_DIR/tests/integration/lib.sh"
command -v openssl >/dev/null || { echo "skipped: needs openssl" >&2; exit 77; }
command -v curl >/dev/null || { echo "skipped: needs curl" >&2; exit 77; }
pki=$TEST_TMP/pki
mkdir -p "$pki"
cd "$pki" || exit 1
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
# shellcheck disable=SC2086 # $ec is several options
for ca in ca other-ca; do
    openssl req -x509 $ec -keyout $ca.key -out $ca.pem -days 2 -subj "/CN=gpuplex test $ca" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
        2>/dev/null
done
# shellcheck disable=SC2086
openssl req $ec -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out server.pem 2>/dev/null
chmod 600 server.key
cd "$TEST_TMP" || exit 1
unset GPUPLEX_CA SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/daemon_tls.py" "$pki"
