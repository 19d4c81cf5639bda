"""``msgbus demo``: a small system at work, printed as it happens.

A producer sends ``resize`` jobs to a direct exchange. Two workers share one queue, so
each job goes to one of them (round robin); a monitor binds its own private queue with the
same key, so it sees every job (fanout). An RPC service answers ``area`` calls. At the end
the producer sends the service ``command quit`` and the demo stops the others.

Every component has its own connection (``msgbus.connect(url)``) and runs in its own
thread: on the embedded broker by default, on RabbitMQ with ``--url amqp://...``. The
queues are ``auto_delete`` and the exchange too, so a server is left as it was found.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from msgbus.connect import connect, default_url
from msgbus.exchanges import Exchange
from msgbus.fingerprint import Fingerprint
from msgbus.handlers import MessageHandler, MessageHandlerFullBody, ReplyFunction, RpcHandler
from msgbus.messages import MessageResult
from msgbus.processor import MessageProcessor
from msgbus.producer import GenericProducer

__all__ = ["add_demo_command", "run_demo"]


class DemoExchange(Exchange):
    name = "msgbus-demo"
    exchange_type = "direct"
    durable = False
    auto_delete = True


AUTO_DELETE = {"auto_delete": True}
WORK_QUEUE = {"name": "msgbus-demo.work", "flags": AUTO_DELETE}
RPC_QUEUE = {"name": "msgbus-demo.rpc", "flags": AUTO_DELETE}
PRIVATE_QUEUE = {"name": "", "flags": {"exclusive": True, "auto_delete": True}}


class Printer:
    """Prints one line per event, from any thread, with the time since the start."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._start = time.monotonic()

    def __call__(self, who: str, text: str) -> None:
        with self._lock:
            elapsed = time.monotonic() - self._start
            self._out.write(f"{elapsed:6.2f}s  {who:<10} {text}\n")
            self._out.flush()


class Worker(MessageProcessor):
    def __init__(self, label: str, say: Printer, done: Callable[[], None], **kw: Any) -> None:
        super().__init__(Fingerprint(label, "worker"), [(DemoExchange, [(WORK_QUEUE, "job")])],
                         **kw)
        self.label, self.say, self.done, self.jobs = label, say, done, 0

    @MessageHandler("command", "resize")
    def resize(self, content: Any) -> None:
        image, width = content["parameters"]["args"]
        self.jobs += 1
        self.say(self.label, f"<- resize {image} to {width}px (shared queue: my turn)")
        self.done()


class Monitor(MessageProcessor):
    def __init__(self, say: Printer, seen: Callable[[], None], **kw: Any) -> None:
        super().__init__(Fingerprint("monitor", "monitor"),
                         [(DemoExchange, [(PRIVATE_QUEUE, "job")])], **kw)
        self.say, self.seen, self.count = say, seen, 0

    @MessageHandlerFullBody("command", None)  # every command, whatever its name
    def watch(self, body: Any) -> None:
        self.count += 1
        sender = body["fingerprint"]
        self.say("monitor", f"<- saw {body['type']} {body['name']!r} from "
                 f"{sender['name']} ({sender['pid']}@{sender['host']}) on its private queue")
        self.seen()


class AreaService(MessageProcessor):
    remote_control = True  # the producer's "command quit" stops it

    def __init__(self, say: Printer, **kw: Any) -> None:
        super().__init__(Fingerprint("area-service", "rpc"), [(DemoExchange, [(RPC_QUEUE, "rpc")])],
                         **kw)
        self.say = say

    @RpcHandler("command", "area")
    def area(self, content: Any, reply: ReplyFunction) -> None:
        width, height = content["parameters"]["args"]
        self.say("rpc", f"<- area({width}, {height}): replying {width * height}")
        reply(MessageResult(width * height, "square pixels"))


class DemoProducer(GenericProducer):
    eks = [(DemoExchange, "job")]


def run_demo(url: str | None = None, *, jobs: int = 6, delay: float = 0.3,
             out: TextIO | None = None) -> int:
    """Run the demo on ``url`` (default: ``MSGBUS_URL`` or the embedded broker)."""
    say = Printer(out if out is not None else sys.stdout)
    where = url or default_url()
    say("demo", f"broker: {where.split('@')[-1] if '@' in where else where} "
        f"(process {os.getpid()})")
    progress = threading.Condition()
    counts = {"done": 0, "seen": 0}

    def bump(key: str) -> Callable[[], None]:
        def inc() -> None:
            with progress:
                counts[key] += 1
                progress.notify_all()
        return inc

    workers = [Worker(f"worker-{i}", say, bump("done"), transport=connect(url)) for i in (1, 2)]
    monitor = Monitor(say, bump("seen"), transport=connect(url))
    service = AreaService(say, transport=connect(url))
    processors: list[MessageProcessor] = [*workers, monitor, service]
    producer = DemoProducer(Fingerprint("producer", "demo"), transport=connect(url))
    try:
        for processor in processors:
            processor.start()
        for n in range(1, jobs + 1):
            say("producer", f"-> resize image-{n} (routing key 'job')")
            producer.message_resize(f"image-{n}", 100 * n)
            time.sleep(delay)
        for width, height in ((3, 4), (16, 9)):
            say("producer", f"-> rpc area({width}, {height})")
            reply = producer.rpc_area(width, height, _key="rpc", _timeout=5, _max_retry=1)
            say("producer", f"<- {reply.value} {reply.message}" if reply
                else f"<- failed: {reply.value}: {reply.message}")
        with progress:
            progress.wait_for(lambda: counts["done"] >= jobs and counts["seen"] >= jobs, 10)
        say("producer", "-> command quit to the RPC service")
        producer.message_quit(_key="rpc")
        deadline = time.monotonic() + 5
        while service.running and time.monotonic() < deadline:
            time.sleep(0.01)
        say("rpc", "quit: stopped" if not service.running else "did not quit in time")
    finally:
        for processor in processors:
            processor.stop()
        summary = ", ".join(f"{w.label} {w.jobs}" for w in workers)
        say("demo", f"jobs per worker: {summary}; monitor saw {monitor.count}")
        producer.close()
        for processor in processors:
            processor.close()
            processor.transport.close()
        producer.transport.close()
    ok = counts["done"] == jobs and monitor.count == jobs and not service.running
    say("demo", "done" if ok else "FAILED: not every message arrived")
    return 0 if ok else 1


def add_demo_command(commands: Any) -> None:
    """Add ``demo`` to the ``msgbus`` command's subparsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "demo",
        help="run a producer, two workers, a monitor and an RPC service, printing the flow",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default=None,
                        help="broker URL (default: MSGBUS_URL, else the embedded memory://)")
    parser.add_argument("--jobs", type=int, default=6, help="jobs to send (default 6)")
    parser.add_argument("--delay", type=float, default=0.3,
                        help="seconds between jobs (default 0.3)")
    parser.set_defaults(run=lambda args: run_demo(args.url, jobs=args.jobs, delay=args.delay))
