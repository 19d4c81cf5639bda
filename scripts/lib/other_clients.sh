# Sourced by scripts/test: the AMQP clients in other languages that the end-to-end tests in
# tests/clients/ drive (test_go_*.py, test_c_*.py, test_ruby_*.py, test_php_*.py), all
# Debian packages: Go with RabbitMQ's amqp091-go (built offline against the packaged
# source), rabbitmq-c's command-line tools, Ruby's Bunny and PHP's php-amqplib. Installs what is missing with apt-get (as root), in
# one go; once everything is there it costs nothing. Without them those tests skip loudly
# (and fail under MSGBUS_REQUIRE_RABBITMQ=1).
setup_other_clients() {
    local wanted=()
    command -v go >/dev/null || wanted+=(golang-go)
    [ -d /usr/share/gocode/src/github.com/rabbitmq/amqp091-go ] \
        || wanted+=(golang-github-rabbitmq-amqp091-go-dev)
    command -v amqp-publish >/dev/null || wanted+=(amqp-tools)
    if ! command -v ruby >/dev/null || ! ruby -e 'require "bunny"' >/dev/null 2>&1; then
        wanted+=(ruby-bunny)
    fi
    command -v php >/dev/null || wanted+=(php-cli)
    [ -f /usr/share/php/PhpAmqpLib/autoload.php ] || wanted+=(php-amqplib)
    [ "${#wanted[@]}" = 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing the other languages' AMQP clients with apt-get: ${wanted[*]}"
        apt-get update -qq
        if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                "${wanted[@]}" >/dev/null; then
            return 0
        fi
    fi
    echo "!!! missing ${wanted[*]}: the Go, C, Ruby or PHP client tests will be SKIPPED" >&2
}
