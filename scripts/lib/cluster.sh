# Sourced by scripts/test: a throwaway three-node RabbitMQ cluster for the cluster tests
# (tests/cluster, marked `cluster`).
#
# start_cluster starts three nodes at once, each on its own AMQP and Erlang distribution
# port (free ones), sharing one Erlang cookie in one HOME, with their data under
# build/rabbitmq-cluster/; joins the second and third to the first with
# `rabbitmqctl join_cluster`; and exports, for the tests:
#
#   MSGBUS_TEST_CLUSTER_URL    amqp://guest:guest@127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/%2F
#   MSGBUS_TEST_CLUSTER_NODES  the node names, comma-separated, in the order of the URL's hosts
#   MSGBUS_TEST_CLUSTER_HOME   the HOME that holds the cookie, for rabbitmqctl; node N
#                              starts again with $MSGBUS_TEST_CLUSTER_HOME/nodeN/start
#
# It never fails the test command: when the cluster cannot start it says so loudly, the
# cluster tests skip, and under MSGBUS_REQUIRE_RABBITMQ=1 those skips are failures.
# MSGBUS_TEST_CLUSTER_URL set beforehand means a cluster is already there: nothing starts.
# stop_cluster stops the nodes it started and removes their data.

cluster_base=""
cluster_attempt=0
cluster_nodes=()

_cluster_ctl() {  # _cluster_ctl NODE ARGS...: rabbitmqctl on one node of the cluster
    local node=$1
    shift
    HOME="$cluster_base" /usr/lib/rabbitmq/bin/rabbitmqctl -n "$node" "$@"
}

_cluster_await() {  # _cluster_await N: until node N has booted (epmd may not know it yet)
    local node=${cluster_nodes[$(($1 - 1))]} dir="$cluster_base/node$1" waited=0
    until _cluster_ctl "$node" await_startup --timeout 30 >/dev/null 2>&1; do
        waited=$((waited + 1))
        if [ -f "$dir/log/erl_crash.dump" ] || [ "$waited" -ge 120 ]; then
            echo "!!! cluster node $node did not start; its log ends with:" >&2
            grep -h "Slogan" "$dir/log/erl_crash.dump" >&2 2>/dev/null || true
            tail -n 5 "$dir/log/$node.log" >&2 2>/dev/null || true
            return 1
        fi
        sleep 1
    done
}

_cluster_start() {
    local server=/usr/lib/rabbitmq/bin/rabbitmq-server
    if [ ! -x "$server" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing rabbitmq-server with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
    fi
    if [ ! -x "$server" ]; then
        echo "!!! rabbitmq-server is not installed and cannot be installed here" >&2
        return 1
    fi
    cluster_attempt=$((cluster_attempt + 1))
    cluster_base="$build/rabbitmq-cluster/$$-$cluster_attempt"
    rm -rf "$cluster_base"
    mkdir -p "$cluster_base"
    # one cookie for the three nodes and for rabbitmqctl
    "$venv/bin/python" -c 'import secrets; print(secrets.token_hex(16).upper(), end="")' \
        > "$cluster_base/.erlang.cookie"
    chmod 400 "$cluster_base/.erlang.cookie"
    echo '[].' > "$cluster_base/enabled_plugins"
    # six distinct free ports: three for AMQP, three for Erlang distribution
    local ports
    ports=$(free_ports 6)
    read -r -a ports <<< "$ports"
    local i node dir hosts="" names=""
    for i in 0 1 2; do
        node="msgbus-cluster-$((i + 1))-$$-$cluster_attempt@localhost"
        dir="$cluster_base/node$((i + 1))"
        mkdir -p "$dir/log" "$dir/mnesia"
        cluster_nodes+=("$node")
        # the node's own start command: the tests run it again after killing the node
        cat > "$dir/start" <<START
#!/bin/sh
export HOME='$cluster_base' RABBITMQ_NODENAME='$node' \\
    RABBITMQ_NODE_PORT='${ports[$i]}' RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \\
    RABBITMQ_DIST_PORT='${ports[$((i + 3))]}' \\
    RABBITMQ_MNESIA_BASE='$dir/mnesia' RABBITMQ_LOG_BASE='$dir/log' \\
    RABBITMQ_ENABLED_PLUGINS_FILE='$cluster_base/enabled_plugins' \\
    RABBITMQ_CONFIG_FILE='$dir/rabbitmq' RABBITMQ_CONF_ENV_FILE='$dir/rabbitmq-env.conf' \\
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='+sbwt none +sbwtdcpu none +sbwtdio none'
exec '$server' -detached
START
        chmod +x "$dir/start"
        "$dir/start"
        hosts="$hosts${hosts:+,}127.0.0.1:${ports[$i]}"
        names="$names${names:+,}$node"
    done
    say "starting a three-node RabbitMQ cluster: $names"
    for i in 1 2 3; do
        _cluster_await "$i" || return 1
    done
    for node in "${cluster_nodes[@]:1}"; do
        { _cluster_ctl "$node" stop_app \
            && _cluster_ctl "$node" join_cluster "${cluster_nodes[0]}" \
            && _cluster_ctl "$node" start_app; } >>"$cluster_base/join.log" 2>&1 \
            || { echo "!!! $node could not join ${cluster_nodes[0]}:" >&2
                 tail -n 5 "$cluster_base/join.log" >&2; return 1; }
    done
    for i in 2 3; do
        _cluster_await "$i" || return 1
    done
    export MSGBUS_TEST_CLUSTER_URL="amqp://guest:guest@$hosts/%2F"
    export MSGBUS_TEST_CLUSTER_NODES="$names"
    export MSGBUS_TEST_CLUSTER_HOME="$cluster_base"
    echo "RabbitMQ cluster is up: $MSGBUS_TEST_CLUSTER_URL"
}

start_cluster() {
    if [ -n "${MSGBUS_TEST_CLUSTER_URL:-}" ]; then
        say "using the RabbitMQ cluster at MSGBUS_TEST_CLUSTER_URL"
        return 0
    fi
    local started=$SECONDS
    if ! _cluster_start; then  # once more, on other ports (one may have been taken meanwhile)
        stop_cluster
        if ! _cluster_start; then
            echo "!!! NO RABBITMQ CLUSTER: tests marked 'cluster' will be SKIPPED" \
                "(failed under MSGBUS_REQUIRE_RABBITMQ=1)" >&2
            return 0
        fi
    fi
    echo "(cluster started in $((SECONDS - started)) s)"
}

stop_cluster() {
    [ "${#cluster_nodes[@]}" -gt 0 ] || return 0
    say "stopping the RabbitMQ cluster"
    local node pids=()
    for node in "${cluster_nodes[@]}"; do
        _cluster_ctl "$node" stop >/dev/null 2>&1 &
        pids+=($!)
    done
    wait "${pids[@]}" || true
    rm -rf "$cluster_base"
    cluster_nodes=()
}
