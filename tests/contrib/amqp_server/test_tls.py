"""The served broker over TLS (``amqps``), as RabbitMQ's TLS listener: clients that verify
the server's certificate connect and round-trip messages; with a CA for clients, one
without a client certificate is refused; ``msgbus serve --certfile`` prints an amqps URL."""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pika
import pika.exceptions
import pytest

from contrib.amqp_server import AmqpServer
from msgbus import errors
from tests.support import make_certificates
from transports.memory import Broker
from transports.rabbitmq import RabbitMQTransport


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    make_certificates(folder)
    return folder


def _server_context(certs: Path, *, clients: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs / "server.pem", certs / "server.key")
    if clients:
        context.load_verify_locations(certs / "ca.pem")
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _pika_parameters(port: int, certs: Path, *, client_cert: bool) -> pika.ConnectionParameters:
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    if client_cert:
        context.load_cert_chain(certs / "client.pem", certs / "client.key")
    return pika.ConnectionParameters("localhost", port,
                                     ssl_options=pika.SSLOptions(context, "localhost"))


@pytest.fixture
def tls_server(certs: Path) -> Iterator[AmqpServer]:
    with AmqpServer(Broker(), port=0, ssl=_server_context(certs)) as server:
        yield server


def test_a_client_that_verifies_the_server_round_trips(tls_server: AmqpServer,
                                                       certs: Path) -> None:
    assert tls_server.url.startswith("amqps://")
    url = tls_server.url.replace("127.0.0.1", "localhost") + f"?cafile={certs / 'ca.pem'}"
    transport = RabbitMQTransport.from_url(url)
    try:
        transport.declare_queue("secure")
        transport.publish("", "secure", b"over TLS")
        delivery = transport.get("secure", auto_ack=True)
        assert delivery is not None and delivery.body == b"over TLS"
    finally:
        transport.close()


def test_a_client_that_does_not_trust_the_server_is_refused(tls_server: AmqpServer) -> None:
    url = tls_server.url.replace("127.0.0.1", "localhost") + "?connection_attempts=1"
    with pytest.raises(errors.ConnectionLost):
        RabbitMQTransport.from_url(url)


def test_client_certificates_are_required_when_a_ca_is_given(certs: Path) -> None:
    broker = Broker()
    with AmqpServer(broker, port=0, ssl=_server_context(certs, clients=True)) as server:
        with pytest.raises(pika.exceptions.AMQPConnectionError):
            pika.BlockingConnection(_pika_parameters(server.port, certs, client_cert=False))
        connection = pika.BlockingConnection(
            _pika_parameters(server.port, certs, client_cert=True))
        channel = connection.channel()
        channel.queue_declare("with-certificate")
        connection.close()
    assert [q.name for q in broker.queues()] == ["with-certificate"]


def test_serve_with_a_certificate_prints_an_amqps_url(certs: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "msgbus", "serve", "--port", "0",
         "--certfile", str(certs / "server.pem"), "--keyfile", str(certs / "server.key")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("AMQP 0-9-1: amqps://guest:guest@127.0.0.1:")
            port = int(line.rsplit(":", 1)[1].split("/")[0])
            connection = pika.BlockingConnection(
                _pika_parameters(port, certs, client_cert=False))
            connection.close()
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(10)
    assert process.returncode == 0


def test_serve_refuses_tls_files_it_cannot_use(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "msgbus", "serve", "--port", "0",
         "--certfile", str(tmp_path / "missing.pem")],
        capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert "cannot use the TLS files given" in done.stderr
