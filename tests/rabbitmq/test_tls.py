"""amqps:// end to end, against a throwaway node of its own with a TLS listener.

The node is started from the installed rabbitmq-server (as ``scripts/test`` does), with a CA,
a server and a client certificate made by the openssl command, and stopped afterwards.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from msgbus import errors
from tests.support import RABBITMQ_SERVER, free_port, make_certificates, throwaway_node
from transports.rabbitmq import RabbitMQTransport

pytestmark = pytest.mark.rabbitmq




@dataclass
class TLSNode:
    port: int
    certs: Path

    def url(self, host: str = "localhost", **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return f"amqps://guest:guest@{host}:{self.port}/%2F" + (f"?{query}" if query else "")


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSNode]:
    if not os.access(RABBITMQ_SERVER, os.X_OK) or shutil.which("openssl") is None:
        pytest.skip("NO TLS NODE: needs rabbitmq-server and the openssl command installed")
    base = tmp_path_factory.mktemp("tls-node")
    certs = base / "certs"
    certs.mkdir()
    make_certificates(certs)
    port = free_port()
    config = (
        f"listeners.tcp.default = 127.0.0.1:{free_port()}\n"
        f"listeners.ssl.default = 127.0.0.1:{port}\n"
        f"ssl_options.cacertfile = {certs / 'ca.pem'}\n"
        f"ssl_options.certfile = {certs / 'server.pem'}\n"
        f"ssl_options.keyfile = {certs / 'server.key'}\n"
        "ssl_options.verify = verify_peer\n"
        "ssl_options.fail_if_no_peer_cert = false\n"
    )
    with throwaway_node(base, config, "tls"):
        yield TLSNode(port, certs)


def test_verified_with_client_certificate(tls_node: TLSNode) -> None:
    certs = tls_node.certs
    url = tls_node.url(cafile=str(certs / "ca.pem"), certfile=str(certs / "client.pem"),
                       keyfile=str(certs / "client.key"))
    with RabbitMQTransport.from_url(url) as transport:
        name = transport.declare_queue("", exclusive=True).name
        transport.publish("", name, b"over TLS")
        delivery = transport.get(name, auto_ack=True)
        assert delivery is not None and delivery.body == b"over TLS"


def test_server_hostname_when_connecting_by_address(tls_node: TLSNode) -> None:
    url = tls_node.url("127.0.0.1", cafile=str(tls_node.certs / "ca.pem"),
                       server_hostname="localhost")
    with RabbitMQTransport.from_url(url) as transport:
        assert transport.is_open


def test_untrusted_certificate_is_refused(tls_node: TLSNode) -> None:
    with pytest.raises(errors.ConnectionLost, match="CERTIFICATE_VERIFY_FAILED"):
        RabbitMQTransport.from_url(tls_node.url())  # the system trust store only


def test_wrong_host_name_is_refused(tls_node: TLSNode) -> None:
    url = tls_node.url("127.0.0.1", cafile=str(tls_node.certs / "ca.pem"),
                       server_hostname="elsewhere.example")
    with pytest.raises(errors.ConnectionLost, match="CERTIFICATE_VERIFY_FAILED"):
        RabbitMQTransport.from_url(url)


def test_verification_off(tls_node: TLSNode) -> None:
    with RabbitMQTransport.from_url(tls_node.url(verify="false")) as transport:
        assert transport.is_open


def test_missing_ca_file_is_a_validation_error(tls_node: TLSNode) -> None:
    with pytest.raises(errors.ValidationError, match="cannot set up TLS for amqps://guest:\\*\\*\\*@"):
        RabbitMQTransport.from_url(tls_node.url(cafile="/nonexistent/ca.pem"))
