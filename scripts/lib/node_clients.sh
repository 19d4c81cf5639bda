# Sourced by scripts/test: the Node.js AMQP client (amqplib) the end-to-end tests run.
# Installs Node.js and npm with apt-get when missing (as root), then the packages locked in
# tests/clients/node/package-lock.json into build/node_clients/node_modules, where
# tests/clients/test_node_amqplib.py looks for them. Reinstalls when the lock file changes.
setup_node_clients() {
    local source="$root/tests/clients/node" target="$build/node_clients"
    local stamp="$target/.installed"
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            say "installing Node.js and npm with apt-get"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
        fi
    fi
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "!!! Node.js or npm is missing: the amqplib tests will be SKIPPED" >&2
        return 0
    fi
    if [ -f "$stamp" ] && [ "$stamp" -nt "$source/package-lock.json" ]; then
        return 0
    fi
    say "installing the Node.js AMQP client into $target"
    mkdir -p "$target"
    cp "$source/package.json" "$source/package-lock.json" "$target/"
    if (cd "$target" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
        touch "$stamp"
    else
        echo "!!! npm ci failed in $target: the amqplib tests will be SKIPPED" >&2
    fi
}
