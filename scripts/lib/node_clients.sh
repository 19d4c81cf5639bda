# Sourced by scripts/test: the Node.js AMQP client (amqplib) the end-to-end tests run.
setup_node_clients() {
    :
}
