"""AMQP URL parsing, failover hosts and TLS options (no server needed)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from msgbus.errors import ValidationError
from transports.rabbitmq import ConnectionConfig, HostPort, TLSOptions, parse_url


def test_full_url() -> None:
    config = parse_url("amqp://alice:s%40cret@broker.example:5673/prod%2Fvhost?heartbeat=30")
    assert config.hosts == (HostPort("broker.example", 5673),)
    assert (config.username, config.password) == ("alice", "s@cret")
    assert config.virtual_host == "prod/vhost"
    assert config.heartbeat == 30
    assert config.tls is None


def test_defaults() -> None:
    config = parse_url("amqp://")
    assert config.hosts == (HostPort("localhost", 5672),)
    assert (config.username, config.password, config.virtual_host) == ("guest", "guest", "/")
    assert parse_url("amqp://h").virtual_host == "/"
    assert parse_url("amqp://h/").virtual_host == ""  # the AMQP URI spec: empty path segment
    assert parse_url("amqp://h/%2F").virtual_host == "/"
    assert parse_url("amqps://h").hosts == (HostPort("h", 5671),)
    assert parse_url("AMQP://h").scheme == "amqp"


def test_user_without_password() -> None:
    config = parse_url("amqp://bob@h/")
    assert (config.username, config.password) == ("bob", "")


def test_options() -> None:
    config = parse_url(
        "amqp://h/?heartbeat=0&connection_attempts=5&retry_delay=0.5&socket_timeout=3"
        "&blocked_connection_timeout=60&channel_max=10&frame_max=131072"
    )
    assert config.heartbeat == 0
    assert config.connection_attempts == 5
    assert config.retry_delay == 0.5
    assert config.socket_timeout == 3.0
    assert config.blocked_connection_timeout == 60.0
    assert (config.channel_max, config.frame_max) == (10, 131072)
    [params] = config.pika_parameters()
    assert (params.heartbeat, params.connection_attempts, params.retry_delay) == (0, 5, 0.5)
    assert (params.channel_max, params.frame_max) == (10, 131072)


def test_failover_hosts() -> None:
    config = parse_url("amqp://u:p@one:5001,two,[::1]:5003/v")
    assert config.hosts == (HostPort("one", 5001), HostPort("two", 5672), HostPort("::1", 5003))
    params = config.pika_parameters()
    assert [(p.host, p.port, p.virtual_host) for p in params] == [
        ("one", 5001, "v"), ("two", 5672, "v"), ("::1", 5003, "v"),
    ]
    assert all(p.credentials.username == "u" for p in params)
    assert config.redacted_url() == "amqp://u:***@one:5001,two:5672,[::1]:5003/v"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://h/", "expected an amqp:// or amqps:// URL, got scheme 'http'"),
        ("amqp://h:99999/", "port of host 'h' must be a number from 1 to 65535, got 99999"),
        ("amqp://h:x/", "port of host 'h' must be a number from 1 to 65535"),
        ("amqp://a,,b/", "empty host in AMQP URL amqp://a,,b/"),
        ("amqp://h/a/b", "must be one path segment (percent-encode '/' as %2F), got 'a/b'"),
        ("amqp://h/?bogus=1", "unknown AMQP URL option 'bogus'"),
        ("amqp://h/?heartbeat=0.5", "option 'heartbeat' must be a whole number, got '0.5'"),
        ("amqp://h/?retry_delay=soon", "option 'retry_delay' must be a number, got 'soon'"),
        ("amqps://h/?verify=maybe", "option 'verify' must be true or false, got 'maybe'"),
        ("amqp://h/?cafile=/ca.pem", "TLS options cafile need an amqps:// URL"),
    ],
)
def test_invalid_urls(url: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_url(url)
    assert message in str(info.value)


def test_tls_options_from_url() -> None:
    config = parse_url(
        "amqps://h/?cafile=/etc/ca.pem&certfile=/c.pem&keyfile=/k.pem&verify=false"
        "&server_hostname=broker.internal"
    )
    assert config.tls == TLSOptions(
        cafile="/etc/ca.pem", certfile="/c.pem", keyfile="/k.pem", verify=False,
        server_hostname="broker.internal",
    )
    assert parse_url("amqps://h/").tls == TLSOptions()
    assert parse_url("amqps://h/?verify=on").tls == TLSOptions(verify=True)


def test_tls_without_verification() -> None:
    context = TLSOptions(verify=False).context()
    assert context.verify_mode == ssl.CERT_NONE
    assert context.check_hostname is False


def test_tls_verifies_by_default() -> None:
    context = TLSOptions().context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_tls_missing_ca_file() -> None:
    with pytest.raises(FileNotFoundError):
        TLSOptions(cafile="/nonexistent/ca.pem").context()


def test_tls_key_without_certificate() -> None:
    with pytest.raises(ValidationError, match="'keyfile' needs 'certfile'"):
        TLSOptions(keyfile="/k.pem").context()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and its key, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=broker.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def test_tls_client_certificate_and_ca(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    config = parse_url(f"amqps://h:5671/?cafile={cert}&certfile={cert}&keyfile={key}")
    assert config.tls is not None
    context = config.tls.context()
    assert any(c.get("subject") for c in context.get_ca_certs())
    [params] = config.pika_parameters()
    assert params.ssl_options is not None
    assert params.ssl_options.server_hostname == "h"
    assert params.ssl_options.context.verify_mode == ssl.CERT_REQUIRED


def test_tls_server_hostname_override(certificate: tuple[Path, Path]) -> None:
    cert, _ = certificate
    config = parse_url(f"amqps://10.0.0.1/?cafile={cert}&server_hostname=broker.test")
    [params] = config.pika_parameters()
    assert params.ssl_options.server_hostname == "broker.test"


def test_config_repr_hides_the_password() -> None:
    config = parse_url("amqp://alice:hunter2-secret@h")
    assert "hunter2-secret" not in repr(config)
    assert "hunter2-secret" not in config.redacted_url()
    assert config.redacted_url() == "amqp://alice:***@h:5672/%2F"
    assert ConnectionConfig().redacted_url() == "amqp://guest:***@localhost:5672/%2F"


def test_errors_do_not_echo_the_password() -> None:
    for url in ("amqp://u:hunter2-secret@h:bad/", "amqp://u:hunter2-secret@h/a/b",
                "amqp://u:hunter2-secret@h/?cafile=x"):
        with pytest.raises(ValidationError) as info:
            parse_url(url)
        assert "hunter2-secret" not in str(info.value)
