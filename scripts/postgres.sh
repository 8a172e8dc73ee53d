# Shell functions for a private PostgreSQL server (Debian's binaries, a data folder of our own,
# trust authentication on 127.0.0.1). Sourced by `make run` and the benchmarks:
#
#   source scripts/postgres.sh
#   pg_start .data/pg 5433      # initdb on first use, then start; idempotent
#   pg_url 5433 vane            # postgres://postgres@127.0.0.1:5433/vane (created if missing)
#   pg_stop .data/pg
#
# As root (CI, containers) the server runs as Debian's `postgres` user, which owns the folder:
# initdb refuses to run as root. When that user cannot reach DIR (a clone inside root's home, mode
# 0700), or DIR is too long for the server's Unix socket, the data lives in
# /var/tmp/vane-pg-<hash of DIR> instead (mode 0700, owned by `postgres`) and DIR becomes a
# symbolic link to it; pg_start says so. The same clone finds the same data at every start.

pg_bin() {
    local newest
    newest=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
    if [[ -z "$newest" ]]; then
        echo "PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)" >&2
        return 1
    fi
    echo "/usr/lib/postgresql/$newest/bin/$1"
}

pg_as_owner() {
    if [[ $(id -u) == 0 ]]; then
        # From /: the current folder may be one `postgres` cannot enter (every path given is absolute).
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# pg_home DIR — makes DIR usable by the server (see above) and prints the folder the data is in.
pg_home() {
    local dir parent home
    dir=$(realpath -m "$1")
    parent=$(dirname "$dir")
    mkdir -p "$parent"
    if [[ -L "$dir" ]]; then
        realpath -m "$dir"
        return 0
    fi
    # The socket path ($dir/.s.PGSQL.<port>) must fit in 107 bytes.
    if [[ -d "$dir" && -f "$dir/data/PG_VERSION" ]] || { [[ $(id -u) != 0 ]] && ((${#dir} <= 80)); } \
        || { ((${#dir} <= 80)) && runuser -u postgres -- test -x "$parent" 2>/dev/null; }; then
        echo "$dir"
        return 0
    fi
    home="/var/tmp/vane-pg-$(printf '%s' "$dir" | sha256sum | cut -c1-16)"
    mkdir -p "$home"
    if [[ $(id -u) == 0 ]]; then chown postgres:postgres "$home"; fi
    chmod 700 "$home"
    if [[ -d "$dir" ]]; then rmdir "$dir" 2>/dev/null || { echo "pg_home: $dir is not empty; move it away" >&2; return 1; }; fi
    ln -s "$home" "$dir"
    echo "PostgreSQL data is kept in $home ($dir links there: the server's user cannot reach $parent," \
        "or the path is too long for its socket)" >&2
    echo "$home"
}

# pg_start DIR PORT [extra postgres options...]
pg_start() {
    local dir port
    dir=$(pg_home "$1") || return 1; port=$2; shift 2
    mkdir -p "$dir"
    [[ $(id -u) == 0 ]] && chown postgres:postgres "$dir"
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        pg_as_owner "$(pg_bin initdb)" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; return 1; }
    fi
    if pg_as_owner "$(pg_bin pg_ctl)" -D "$dir/data" status >/dev/null 2>&1; then
        return 0
    fi
    pg_as_owner "$(pg_bin pg_ctl)" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 $*" start >/dev/null \
        || { tail -20 "$dir/server.log" >&2; return 1; }
}

# pg_url PORT DATABASE — creates the database if missing and prints its URL.
pg_url() {
    local port=$1 database=$2
    if ! "$(pg_bin psql)" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
        "$(pg_bin psql)" -h 127.0.0.1 -p "$port" -U postgres -d postgres -q -c "CREATE DATABASE \"$database\"" >/dev/null
    fi
    echo "postgres://postgres@127.0.0.1:$port/$database"
}

# pg_stop DIR
pg_stop() {
    local dir
    dir=$(realpath -m "$1")
    [[ -f "$dir/data/PG_VERSION" ]] || return 0
    pg_as_owner "$(pg_bin pg_ctl)" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# pg_tls_options DIR — makes (once) a CA and a server certificate for 127.0.0.1 and localhost in
# DIR/tls and prints the `-c` options that turn TLS on, for pg_start's extra options:
#
#   pg_start .data/pg 5433 $(pg_tls_options .data/pg)
#   psql "postgres://postgres@127.0.0.1:5433/postgres?sslmode=verify-full&sslrootcert=.data/pg/tls/ca.crt"
#
# Plain connections stay accepted (initdb's pg_hba.conf); sslmode decides per client.
pg_tls_options() {
    local dir tls
    dir=$(realpath -m "$1"); tls="$dir/tls"
    if [[ ! -s "$tls/server.crt" ]]; then
        mkdir -p "$tls"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
            -keyout "$tls/ca.key" -out "$tls/ca.crt" -subj "/CN=Vane local PostgreSQL CA" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1 || return 1
        printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$tls/server.ext"
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tls/server.key" \
            -out "$tls/server.csr" -subj "/CN=localhost" >/dev/null 2>&1 || return 1
        openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial -days 30 \
            -extfile "$tls/server.ext" -out "$tls/server.crt" >/dev/null 2>&1 || return 1
        chmod 600 "$tls/server.key"
        [[ $(id -u) == 0 ]] && chown -R postgres:postgres "$tls"
    fi
    echo "-c ssl=on -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key"
}
