"""amqps:// end to end, against a throwaway node of its own with a TLS listener.

The node is started from the installed rabbitmq-server (as ``scripts/test`` does), with a CA,
a server and a client certificate made by the openssl command, and stopped afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from msgbus import errors
from tests.support import make_certificates
from transports.rabbitmq import RabbitMQTransport

pytestmark = pytest.mark.rabbitmq

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class TLSNode:
    port: int
    certs: Path

    def url(self, host: str = "localhost", **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return f"amqps://guest:guest@{host}:{self.port}/%2F" + (f"?{query}" if query else "")


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSNode]:
    if not os.access(SERVER, os.X_OK) or shutil.which("openssl") is None:
        pytest.skip("NO TLS NODE: needs rabbitmq-server and the openssl command installed")
    base = tmp_path_factory.mktemp("tls-node")
    certs = base / "certs"
    certs.mkdir()
    make_certificates(certs)
    for sub in ("log", "mnesia"):
        (base / sub).mkdir()
    (base / "enabled_plugins").write_text("[].\n")
    port = _free_port()
    (base / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{_free_port()}\n"
        f"listeners.ssl.default = 127.0.0.1:{port}\n"
        f"ssl_options.cacertfile = {certs / 'ca.pem'}\n"
        f"ssl_options.certfile = {certs / 'server.pem'}\n"
        f"ssl_options.keyfile = {certs / 'server.key'}\n"
        "ssl_options.verify = verify_peer\n"
        "ssl_options.fail_if_no_peer_cert = false\n"
    )
    node = f"msgbus-tls-{os.getpid()}@localhost"
    env = {
        **os.environ, "HOME": str(base), "RABBITMQ_NODENAME": node,
        "RABBITMQ_DIST_PORT": str(_free_port()), "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
    }
    subprocess.run([SERVER, "-detached"], env=env, check=True, capture_output=True, timeout=60)
    try:
        deadline = time.monotonic() + 90
        while subprocess.run([CTL, "-n", node, "await_startup", "--timeout", "60"], env=env,
                             capture_output=True, timeout=90).returncode != 0:
            if time.monotonic() > deadline:
                pytest.fail(f"the TLS node {node} did not start; log: {base / 'log'}")
            time.sleep(1)
        yield TLSNode(port, certs)
    finally:
        subprocess.run([CTL, "-n", node, "stop"], env=env, capture_output=True, timeout=60)


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
