#!/bin/sh
# Makes the TLS material of docker-compose.tls.yml in the folder $1 (the `vane-tls` volume), once:
#
#   ca.crt                  a private CA (10 years); the services verify PostgreSQL and Kafka with it
#   postgres.crt/.key       PostgreSQL's server certificate, for the host name `postgres`
#   pg_hba.conf             TLS-only access: hostssl with scram-sha-256, plaintext TCP rejected
#   kafka.pem               Kafka's PEM keystore (key + certificate), for the host name `kafka`
#
# Runs as root in the one-shot `tls-certs` service (the Vane image has openssl through
# ca-certificates) and hands each key to the user of the server that reads it: 999 (postgres
# image), 1000 (apache/kafka image). Idempotent: existing files are kept. For production, put
# certificates from your own CA into the volume instead.
set -eu
dir=${1:?usage: make-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
if [ -s ca.crt ] && [ -s postgres.crt ] && [ -s kafka.pem ] && [ -s pg_hba.conf ]; then
    echo "make-certs: $dir already has the TLS material"
    exit 0
fi
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -keyout ca.key -out ca.crt -subj "/CN=Vane compose CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
issue() { # name host
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n'\
'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s,DNS:localhost\n' "$2" > "$1.ext"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -out "$1.crt" -extfile "$1.ext"
    rm -f "$1.csr" "$1.ext"
}
issue postgres postgres
issue kafka kafka
# Kafka's PEM keystore: the PKCS#8 key, then the certificate chain.
openssl pkcs8 -topk8 -nocrypt -in kafka.key -out kafka.pem
cat kafka.crt ca.crt >> kafka.pem
cat > pg_hba.conf <<'HBA'
# docker-compose.tls.yml: TLS only over TCP; the image's entrypoint uses the Unix socket.
local   all all                trust
hostssl all all 0.0.0.0/0      scram-sha-256
hostssl all all ::/0           scram-sha-256
host    all all 0.0.0.0/0      reject
host    all all ::/0           reject
HBA
rm -f ca.key ca.srl kafka.key kafka.crt
chown 999:999 postgres.key pg_hba.conf && chmod 0600 postgres.key && chmod 0644 pg_hba.conf
chown 1000:1000 kafka.pem && chmod 0600 kafka.pem
chmod 0644 ca.crt postgres.crt
echo "make-certs: wrote ca.crt, postgres.crt/.key, pg_hba.conf and kafka.pem to $dir"
