"""The web page in a real browser: Playwright driving Debian's chromium (no browser
download), opened while a producer and a consumer run. Screenshots go to build/artefacts/."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from contrib.management import ManagementServer
from msgbus import Delivery
from transports.memory import Broker, MemoryTransport

ARTEFACTS = Path(__file__).resolve().parents[3] / "build" / "artefacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    path = os.environ.get("MSGBUS_TEST_CHROMIUM") or shutil.which("chromium") \
        or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        message = "Debian's chromium is missing (scripts/test installs it): no browser test"
        if os.environ.get("MSGBUS_REQUIRE_RABBITMQ") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


class Traffic:
    """A producer publishing to ``orders`` and a consumer acknowledging from ``billing``,
    each in its own thread, until :meth:`stop`."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self.produce, daemon=True),
                        threading.Thread(target=self.consume, daemon=True)]

    def produce(self) -> None:
        channel = self.broker.connect(name="producer").channel()
        n = 0
        while not self.stopped.wait(0.02):
            n += 1
            channel.basic_publish("orders", "order.new", f"order {n}".encode())

    def consume(self) -> None:
        transport = MemoryTransport(self.broker)

        def on_order(delivery: Delivery) -> None:
            if not self.stopped.wait(0.03):  # a slow consumer
                transport.ack(delivery.delivery_tag)

        transport.consume("billing", on_order, prefetch=5)
        while not self.stopped.is_set():
            transport.process_events(0.1)
        transport.close()

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join()


@pytest.fixture
def busy_broker() -> Iterator[Broker]:
    broker = Broker(name="shop")
    channel = broker.connect().channel()
    channel.exchange_declare("orders", "topic", durable=True)
    for queue, key in (("billing", "order.*"), ("audit", "#"), ("web-orders", "order.web")):
        channel.queue_declare(queue, durable=True)
        channel.queue_bind(queue, "orders", key)
    channel.connection.close()
    with Traffic(broker):
        yield broker


def test_the_page_follows_the_broker_and_publishes_and_gets(busy_broker: Broker) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20_000)  # a loaded machine refreshes the page late
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with ManagementServer(busy_broker, port=0, stats_interval=1.0) as server, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=ARGS)
        try:
            context = browser.new_context(
                http_credentials={"username": "guest", "password": "guest"},
                viewport={"width": 1100, "height": 760})
            page = context.new_page()
            page.goto(server.url)
            expect(page.locator("#total-queues")).to_have_text("3")
            expect(page.locator("#total-consumers")).to_have_text("1")
            published = page.locator("#total-published")
            first = published.inner_text()
            expect(published).not_to_have_text(first)  # the page refreshes by itself
            page.wait_for_function(  # the chart has drawn rates above zero
                "() => [...document.querySelectorAll('#rate-chart polyline')]"
                ".some(line => line.getAttribute('points').split(' ').length > 1)")
            page.screenshot(path=str(ARTEFACTS / "management-overview.png"))

            page.goto(server.url + "#queues")
            audit = page.locator("tr[data-queue='audit'] td:nth-child(4)")
            before = audit.inner_text()
            expect(audit).not_to_have_text(before)  # ready messages pile up in audit
            billing = page.locator("tr[data-queue='billing'] td:nth-child(7)")
            expect(billing).to_have_text("1")  # its one consumer
            page.screenshot(path=str(ARTEFACTS / "management-queues.png"))

            page.goto(server.url + "#exchange/%2F/orders")
            page.fill("#publish-form [name=routing_key]", "order.web")
            page.fill("#publish-form [name=payload]", "typed into the form")
            page.click("#publish-form button")
            expect(page.locator("#publish-result")).to_have_text("Message published and routed.")
            page.fill("#explain-form [name=routing_key]", "order.web")
            page.click("#explain-form button")
            expect(page.locator("#explain-result")).to_contain_text(
                "Goes to: audit, billing, web-orders")
            page.screenshot(path=str(ARTEFACTS / "management-exchange.png"), full_page=True)
            queue = busy_broker.queue("web-orders")
            assert queue is not None and queue.messages_ready == 1

            page.goto(server.url + "#queue/%2F/web-orders")
            page.select_option("#get-form [name=ackmode]", "ack_requeue_false")
            page.click("#get-form button")
            expect(page.locator("#get-result")).to_contain_text("typed into the form")
            queue = busy_broker.queue("web-orders")
            assert queue is not None and queue.messages == 0

            page.goto(server.url + "#topology")
            expect(page.locator("#topology")).to_contain_text("orders (topic)")
            expect(page.locator("#topology")).to_contain_text("order.web")
            page.screenshot(path=str(ARTEFACTS / "management-topology.png"))

            page.goto(server.url + "#connections")
            expect(page.locator("main table")).to_contain_text("in-process connection")
        finally:
            browser.close()
