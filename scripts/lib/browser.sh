# Sourced by scripts/test: what the management page's tests need.
#
# - Debian's chromium, which Playwright drives (no browser download): installed with apt-get
#   when missing and run as root. Its path is exported as MSGBUS_TEST_CHROMIUM.
# - RabbitMQ's management plugin on the node scripts/test started (the differential tests
#   of contrib/management compare answers with it): enabled on a free port, exported as
#   MSGBUS_TEST_MANAGEMENT_URL. rabbitmqadmin comes with the rabbitmq-server package.
setup_browser() {
    local chromium
    chromium=$(command -v chromium || true)
    if [ -z "$chromium" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing chromium with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
        chromium=$(command -v chromium || true)
    fi
    if [ -n "$chromium" ]; then
        export MSGBUS_TEST_CHROMIUM="$chromium"
    else
        echo "!!! chromium is missing: the management page's browser tests will be SKIPPED" >&2
    fi
    enable_management_plugin
}

enable_management_plugin() {
    if [ -n "${MSGBUS_TEST_MANAGEMENT_URL:-}" ] || [ -z "${node_started:-}" ]; then
        return 0
    fi
    local base="$node_base" node="$node_started" port
    local ctl=/usr/lib/rabbitmq/bin/rabbitmqctl plugins=/usr/lib/rabbitmq/bin/rabbitmq-plugins
    port=$(free_port)
    say "enabling RabbitMQ's management plugin on $node, port $port"
    # load the application first, so that its listener settings are not replaced on load
    if ! HOME="$base" "$ctl" -n "$node" eval \
        "application:load(rabbitmq_management), application:set_env(rabbitmq_management, tcp_config, [{port, $port}, {ip, \"127.0.0.1\"}])." \
        >/dev/null \
        || ! HOME="$base" RABBITMQ_ENABLED_PLUGINS_FILE="$base/enabled_plugins" \
            "$plugins" -n "$node" enable rabbitmq_management >/dev/null; then
        echo "!!! could not enable the management plugin on $node: the management" \
             "differential tests will be SKIPPED (FAIL with MSGBUS_REQUIRE_RABBITMQ=1)" >&2
        return 0
    fi
    # a node whose plugin came after its first boot lacks the plugin's feature flags
    # (drop_unroutable_metric, empty_basic_get_metric), which a node that booted with it has,
    # and then counts neither unroutable drops nor empty gets: enable them as such a node has
    HOME="$base" "$ctl" -n "$node" enable_feature_flag all >/dev/null \
        || echo "!!! could not enable the feature flags of $node" >&2
    export MSGBUS_TEST_MANAGEMENT_URL="http://guest:guest@127.0.0.1:$port/"
}
