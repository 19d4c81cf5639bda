"""``msgbus serve``: the in-process broker over AMQP 0-9-1 (and, with ``--management``,
RabbitMQ's management HTTP API beside it), in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import ssl
import sys
from typing import Any

from msgbus.errors import MsgbusError, ValidationError

__all__ = ["add_serve_command"]


def add_serve_command(commands: Any) -> None:
    serve = commands.add_parser(
        "serve", help="serve an in-process broker to AMQP 0-9-1 clients (any language)",
        description="Serve an in-process broker that behaves like RabbitMQ 3.10 to any AMQP "
                    "0-9-1 client: pika, aio-pika, FastStream, kombu, Celery, amqplib... "
                    "Prints the amqp:// URL it listens on; Ctrl-C stops it.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="the address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=5672,
                       help="the AMQP port (default: 5672; 0: a free port)")
    serve.add_argument("--broker", default="", metavar="NAME",
                       help="serve the process's named broker NAME (default: the default one)")
    serve.add_argument("--certfile", metavar="PEM",
                       help="speak AMQP over TLS (amqps) with this certificate chain")
    serve.add_argument("--keyfile", metavar="PEM",
                       help="the private key of --certfile (when not in that file)")
    serve.add_argument("--cafile", metavar="PEM",
                       help="with --certfile: require client certificates signed by these CAs")
    serve.add_argument("--management", type=int, default=None, metavar="PORT",
                       help="also serve RabbitMQ's management HTTP API and a web page on PORT "
                            "(needs the 'management' extra: pip install 'msgbus[management]')")
    serve.add_argument("--definitions", metavar="FILE",
                       help="load this RabbitMQ definitions file (users, vhosts, permissions, "
                            "exchanges, queues, bindings) before serving, as RabbitMQ's "
                            "load_definitions does at boot")
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_main(args))
    except KeyboardInterrupt:
        return 0


def _tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The server's TLS context from --certfile/--keyfile/--cafile (None: plain AMQP)."""
    if args.certfile is None:
        if args.keyfile is not None or args.cafile is not None:
            raise ValidationError("--keyfile and --cafile need --certfile")
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(args.certfile, args.keyfile)
        if args.cafile is not None:
            context.load_verify_locations(args.cafile)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as error:
        raise ValidationError(f"cannot use the TLS files given: {error}") from None
    return context


async def _main(args: argparse.Namespace) -> int:
    from contrib.amqp_server import AmqpServer
    from transports.memory import named_broker

    try:
        broker = named_broker(args.broker)
        if args.definitions is not None:
            from contrib.definitions import load_definitions

            load_definitions(broker, args.definitions, boot=True)
        server = AmqpServer(broker, host=args.host, port=args.port, ssl=_tls(args))
        await server.start()
    except MsgbusError as error:
        print(f"msgbus serve: {error}", file=sys.stderr)
        return 2
    print(f"AMQP 0-9-1: {server.url}", flush=True)
    management: Any = None
    if args.management is not None:
        try:
            from contrib.management import ManagementServer
        except ImportError as error:
            print(f"msgbus serve: --management needs aiohttp (pip install "
                  f"'msgbus[management]'): {error}", file=sys.stderr)
            await server.close()
            return 2
        management = ManagementServer(broker, host=args.host, port=args.management,
                                      amqp=server)
        try:
            await management.start()
        except (MsgbusError, OSError) as error:
            print(f"msgbus serve: {error}", file=sys.stderr)
            await server.close()
            return 2
        print(f"management: {management.url}", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    if management is not None:
        await management.close()
    await server.close()
    print("stopped", flush=True)
    return 0
