"""What the echo examples share: the exchange, and the command-line options.

Every echo example runs in one process by default (receivers in threads, then the sender),
on the embedded broker or on RabbitMQ with ``--url``. With RabbitMQ you can also run the
parts in separate shells: ``receive`` in one or more, then ``send``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from msgbus import Exchange


class EchoExchange(Exchange):
    name = "msgbus-echo"
    exchange_type = "direct"
    durable = False
    auto_delete = True


SHARED_QUEUE = {"name": "msgbus-echo.shared", "flags": {"auto_delete": True}}
PRIVATE_QUEUE = {"name": "", "flags": {"exclusive": True, "auto_delete": True}}


def parse_args(description: str, argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("role", nargs="?", choices=("both", "receive", "send"), default="both",
                        help="run the receiver(s), the sender, or both in this process")
    parser.add_argument("--url", default=None,
                        help="broker URL (default: MSGBUS_URL, else the embedded memory://)")
    return parser.parse_args(argv)


def say(text: str) -> None:
    """Print one line in one write, so lines from threads never interleave."""
    sys.stdout.write(f"{text}\n")
    sys.stdout.flush()
