"""Flow control: a consumer that does not read its socket must not make the server buffer
without bound. Its deliveries wait; publishers are not read from meanwhile (their
connection shows the state ``flow``, as on RabbitMQ) and carry on once it reads again."""

from __future__ import annotations

import os
import threading

from contrib.amqp_server import AmqpServer
from tests.contrib.amqp_server.conftest import wait_until
from tests.contrib.amqp_server.wire import S, Wire

SIZE = 256 * 1024
COUNT = 256  # 64 MiB published in all


def rss() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_consumer_that_does_not_read_throttles_publishers(
        msgbus_amqp_server: AmqpServer) -> None:
    url = msgbus_amqp_server.url
    before = rss()
    with Wire(url) as consumer, Wire(url) as publisher:
        consumer.open()
        consumer.channel(1)
        consumer.declare_queue(1, "flow")
        consumer.send_method(1, S.Basic.Consume(queue="flow", no_ack=True))
        consumer.expect(1, S.Basic.ConsumeOk)
        # from here on the consumer does not read its socket
        publisher.open()
        publisher.channel(1)
        port = publisher.sock.getsockname()[1]
        published = [0]

        def publish() -> None:
            for number in range(COUNT):
                publisher.publish(1, "flow", number.to_bytes(4, "big") * (SIZE // 4))
                published[0] += 1
            publisher.until_sync(1)

        thread = threading.Thread(target=publish, daemon=True)
        thread.start()

        def state() -> str:
            return next((d.state for d in msgbus_amqp_server.connection_details()
                         if d.peer_port == port), "gone")

        wait_until(lambda: state() == "flow", "the publisher is in flow", timeout=60)
        thread.join(timeout=1.0)  # were it not held back, 64 MiB would be sent by now
        assert thread.is_alive() and published[0] < COUNT
        held = rss() - before
        assert held < 48 << 20, f"the server holds {held} bytes for a stalled consumer"

        # the consumer reads again: everything arrives, the publisher finishes
        received = 0
        while received < COUNT:
            frame = consumer.observe()
            assert frame[2] == "Basic.Deliver", frame
            head = consumer.observe()
            data = b""
            while len(data) < head[2]:
                data += consumer.observe()[2]
            assert data == received.to_bytes(4, "big") * (SIZE // 4)
            received += 1
        thread.join(timeout=60)
        assert not thread.is_alive() and published[0] == COUNT
        assert state() == "running"
