"""Fanout versus round robin, with fingerprints.

Each receiver binds two queues: the shared ``msgbus-echo.shared`` with key ``echo-rk``
(every receiver names the same queue, so they take turns: round robin) and a private,
server-named queue with key ``echo-fanout-rk`` (each receiver has its own, so each gets
a copy: fanout). Two handlers take the same command: one prints the parameters, the
other the sender's fingerprint.

    python examples/echo_fanout.py                 # two receivers and a sender in one process
    python examples/echo_fanout.py receive --url amqp://guest:guest@localhost/%2F  # twice
    python examples/echo_fanout.py send --url amqp://guest:guest@localhost/%2F
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from echo_shared import PRIVATE_QUEUE, SHARED_QUEUE, EchoExchange, parse_args, say

import msgbus
from msgbus import GenericProducer, MessageHandler, MessageHandlerFullBody, MessageProcessor


class EchoProducer(GenericProducer):
    eks = [(EchoExchange, "echo-rk")]


class EchoReceiveProcessor(MessageProcessor):
    remote_control = True  # obeys the sender's "command quit"

    def __init__(self, label: str, url: str | None) -> None:
        eqk = [(EchoExchange, [(SHARED_QUEUE, "echo-rk"), (PRIVATE_QUEUE, "echo-fanout-rk")])]
        super().__init__(msgbus.Fingerprint(label, "controller"), eqk,
                         transport=msgbus.connect(url))
        self.label = label

    @MessageHandler("command", "echo")
    def msg_echo(self, content: Any) -> None:
        say(f"{self.label} received: {content['parameters']['args'][0]}")

    @MessageHandlerFullBody("command", "echo")
    def msg_echo_fingerprint(self, body: Any) -> None:
        fp = body["fingerprint"]
        say(f"{self.label} fingerprint: {fp['name']} pid {fp['pid']} on {fp['host']}")


def send(url: str | None) -> None:
    with EchoProducer(msgbus.Fingerprint("echo_send", "application"),
                      transport=msgbus.connect(url)) as producer:
        for n in (1, 2):
            say(f"sending round robin message {n}")
            producer.message_echo(f"round robin message {n}")
        say("sending fanout message")
        producer.message_echo("fanout message", _key="echo-fanout-rk")
        producer.message_quit(_key="echo-fanout-rk")  # every receiver quits


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__ or "", argv)
    if args.role == "receive":
        say("waiting for echo commands (a 'quit' command stops)")
        EchoReceiveProcessor("receiver", args.url).run()
        return 0
    receivers = []
    if args.role == "both":
        receivers = [EchoReceiveProcessor(f"receiver-{n}", args.url).start() for n in (1, 2)]
    send(args.url)
    for receiver in receivers:
        receiver.join(10)
        receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
