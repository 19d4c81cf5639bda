"""AMQP URLs: parsing, TLS options, failover hosts, and redaction of secrets.

The accepted form is::

    amqp[s]://[user[:password]@]host[:port][,host[:port]...][/vhost][?option=value&...]

- ``user``, ``password`` and ``vhost`` are percent-encoded (``%2F`` is the vhost ``/``).
  Without a user, ``guest:guest`` is used; without a vhost path, ``/``; an empty path
  (``amqp://host/``) is the empty vhost name, as in the AMQP URI spec.
- Several comma-separated hosts give **failover**: each connection attempt tries them in
  order until one answers. Hosts without a port get the scheme's default (5672, or 5671 for
  ``amqps``). IPv6 addresses go in brackets: ``[::1]:5672``.
- Query options: ``heartbeat`` (whole seconds, 0 disables), ``connection_attempts``,
  ``retry_delay`` (seconds between attempts), ``socket_timeout``,
  ``blocked_connection_timeout``, ``channel_max``, ``frame_max``; for ``amqps`` also
  ``cafile``, ``certfile``, ``keyfile``, ``verify`` (``true``/``false``; ``false`` skips
  certificate and host name checks) and ``server_hostname`` (the name to check the
  certificate against). Unknown options are an error.

The password never appears in a ``repr``, a log line or an error message:
:meth:`ConnectionConfig.redacted_url` shows it as ``***``, and an error about a URL that
cannot be parsed shows none of its user info. A password (or user name) holding ``/``,
``?`` or ``#`` must percent-encode them (``%2F``, ``%3F``, ``%23``): unencoded, they end
the host part early, and such a URL is refused without echoing any of it.

Host names are resolved at each connection attempt (:func:`resolvable`): a host that does
not resolve is skipped, so failover moves on to the next one.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from msgbus.errors import ValidationError

__all__ = ["ConnectionConfig", "HostPort", "TLSOptions", "parse_url", "resolvable"]

DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_FLOAT_OPTIONS = ("retry_delay", "socket_timeout", "blocked_connection_timeout")
_INT_OPTIONS = ("heartbeat", "connection_attempts", "channel_max", "frame_max")
_TLS_OPTIONS = ("cafile", "certfile", "keyfile", "verify", "server_hostname")


@dataclass(frozen=True, slots=True)
class HostPort:
    """One broker address."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class TLSOptions:
    """How to set up TLS for ``amqps``: trust store, client certificate, verification."""

    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    verify: bool = True
    server_hostname: str | None = None

    def context(self) -> ssl.SSLContext:
        """An :class:`ssl.SSLContext` for these options (files are read now)."""
        context = ssl.create_default_context(cafile=self.cafile)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.certfile is not None:
            context.load_cert_chain(self.certfile, self.keyfile)
        elif self.keyfile is not None:
            raise ValidationError("TLS option 'keyfile' needs 'certfile' too")
        return context


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """Everything needed to open a connection; ``repr`` and ``redacted_url`` hide the password."""

    hosts: tuple[HostPort, ...] = (HostPort("localhost", 5672),)
    username: str = "guest"
    password: str = field(default="guest", repr=False)
    virtual_host: str = "/"
    tls: TLSOptions | None = None
    heartbeat: int | None = None
    connection_attempts: int = 1
    retry_delay: float = 2.0
    socket_timeout: float | None = None
    blocked_connection_timeout: float | None = None
    channel_max: int | None = None
    frame_max: int | None = None

    @property
    def scheme(self) -> str:
        return "amqps" if self.tls is not None else "amqp"

    def redacted_url(self) -> str:
        """The URL with the password replaced by ``***`` (safe for logs and messages)."""
        hosts = ",".join(str(h) for h in self.hosts)
        user = quote(self.username, safe="")
        vhost = quote(self.virtual_host, safe="")
        return f"{self.scheme}://{user}:***@{hosts}/{vhost}"

    def pika_parameters(self) -> list[Any]:
        """One ``pika.ConnectionParameters`` per host, in failover order."""
        import pika

        credentials = pika.PlainCredentials(self.username, self.password)
        ssl_context = self.tls.context() if self.tls is not None else None
        params = []
        for hp in self.hosts:
            kwargs: dict[str, Any] = {
                "host": hp.host,
                "port": hp.port,
                "virtual_host": self.virtual_host,
                "credentials": credentials,
                "connection_attempts": self.connection_attempts,
                "retry_delay": self.retry_delay,
            }
            for name in ("heartbeat", "socket_timeout", "blocked_connection_timeout",
                         "channel_max", "frame_max"):
                value = getattr(self, name)
                if value is not None:
                    kwargs[name] = value
            if ssl_context is not None and self.tls is not None:
                kwargs["ssl_options"] = pika.SSLOptions(
                    ssl_context, self.tls.server_hostname or hp.host
                )
            params.append(pika.ConnectionParameters(**kwargs))
        return params


def resolvable(parameters: list[Any]) -> list[Any]:
    """The ``pika.ConnectionParameters`` of :meth:`ConnectionConfig.pika_parameters` whose
    host name resolves now, in order.

    pika ends a failover attempt at the first host that does not resolve (it raises
    ``socket.gaierror`` instead of trying the next host): the transport connects through
    this list instead. When no host resolves, pika's ``AMQPConnectionError`` says so (the
    transport raises it as ``ConnectionLost``; recovery tries again).
    """
    import pika.exceptions

    found, failures = [], []
    for params in parameters:
        try:
            socket.getaddrinfo(params.host, params.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            failures.append(f"{params.host}: {exc}")
            continue
        found.append(params)
    if not found:
        raise pika.exceptions.AMQPConnectionError(
            f"no host of the URL resolves ({'; '.join(failures)})")
    return found


def _split_hosts(hostlist: str, default_port: int, url: str) -> tuple[HostPort, ...]:
    hosts = []
    for item in hostlist.split(","):
        item = item.strip()
        if not item:
            raise ValidationError(f"empty host in AMQP URL {url}")
        if item.startswith("["):
            host, sep, rest = item[1:].partition("]")
            if not sep:
                raise ValidationError(f"unclosed '[' in host {item!r} of AMQP URL {url}")
            port_text = rest[1:] if rest.startswith(":") else rest
        else:
            host, _, port_text = item.partition(":")
        if not host:
            raise ValidationError(f"empty host in AMQP URL {url}")
        if port_text:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                # not echoed unless a number: a password missing its '@' would show
                found = f", got {int(port_text)}" if port_text.isdigit() else ""
                raise ValidationError(
                    f"port of host {host!r} must be a number from 1 to 65535{found}")
            port = int(port_text)
        else:
            port = default_port
        hosts.append(HostPort(unquote(host), port))
    return tuple(hosts)


def _parse_options(query: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        try:
            if name in _FLOAT_OPTIONS:
                options[name] = float(value)
            elif name in _INT_OPTIONS:
                options[name] = int(value)
            elif name == "verify":
                lowered = value.lower()
                if lowered not in _TRUE | _FALSE:
                    raise ValueError(value)
                options[name] = lowered in _TRUE
            elif name in _TLS_OPTIONS:
                options[name] = value
            else:
                known = sorted((*_FLOAT_OPTIONS, *_INT_OPTIONS, *_TLS_OPTIONS))
                raise ValidationError(
                    f"unknown AMQP URL option {name!r}; expected one of {', '.join(known)}"
                )
        except ValueError as exc:
            if isinstance(exc, ValidationError):
                raise
            expected = (
                "true or false" if name == "verify"
                else "a whole number" if name in _INT_OPTIONS else "a number"
            )
            raise ValidationError(
                f"AMQP URL option {name!r} must be {expected}, got {value!r}"
            ) from None
    return options


def parse_url(url: str) -> ConnectionConfig:
    """The :class:`ConnectionConfig` an ``amqp://`` or ``amqps://`` URL describes."""
    if not isinstance(url, str):
        raise ValidationError(f"an AMQP URL must be a str, got {type(url).__name__}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # its text may quote the host part: not shown
        known = str(exc) == "Invalid IPv6 URL"
        raise ValidationError(
            "malformed AMQP URL: "
            + ("an IPv6 address in its host part lacks its closing ']'" if known
               else "its host part cannot be parsed")) from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValidationError(f"expected an amqp:// or amqps:// URL, got scheme {scheme!r}")
    userinfo, at, hostlist = parts.netloc.rpartition("@")
    after_host = url.split("//", 1)[1][len(parts.netloc):] if "//" in url else url
    if "@" in after_host:
        raise ValidationError(
            "malformed AMQP URL (not shown: it may hold a password): an '@' follows the end "
            "of its host part. Percent-encode '/', '?', '#' and '@' in a user name or "
            "password (%2F, %3F, %23, %40), and '@' in a vhost or option value (%40)")
    redacted_netloc = ("***@" if at else "") + hostlist
    shown = f"{scheme}://{redacted_netloc}{parts.path}"
    username, password = "guest", "guest"
    if at:
        user_text, colon, password_text = userinfo.partition(":")
        username = unquote(user_text)
        password = unquote(password_text) if colon else ""
    if not hostlist:
        hosts: tuple[HostPort, ...] = (HostPort("localhost", DEFAULT_PORTS[scheme]),)
    else:
        hosts = _split_hosts(hostlist, DEFAULT_PORTS[scheme], shown)
    if parts.path == "":
        vhost = "/"
    else:
        path = parts.path[1:]
        if "/" in path:
            raise ValidationError(
                f"the vhost in AMQP URL {shown} must be one path segment "
                f"(percent-encode '/' as %2F), got {path!r}"
            )
        vhost = unquote(path)
    options = _parse_options(parts.query)
    tls_values = {name: options.pop(name) for name in _TLS_OPTIONS if name in options}
    tls: TLSOptions | None = None
    if scheme == "amqps":
        tls = TLSOptions(**tls_values)
    elif tls_values:
        raise ValidationError(
            f"TLS options {', '.join(sorted(tls_values))} need an amqps:// URL, got {shown}"
        )
    return ConnectionConfig(
        hosts=hosts, username=username, password=password, virtual_host=vhost, tls=tls,
        **options,
    )
