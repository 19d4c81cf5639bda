"""A small shop's topology, to look at with ``msgbus list`` and ``msgbus mermaid``::

    msgbus list queues --run examples/tutorials/msgbus/shop_topology.py
    msgbus mermaid --run examples/tutorials/msgbus/shop_topology.py

Orders go to the topic exchange ``orders`` as ``order.<country>``; ``billing`` takes every
order, ``shipping_fr`` the French ones, and rejected bills are dead-lettered to
``billing_failed``. The program leaves its connection open with one bill being worked on
(delivered, not yet acknowledged), so the tables show ready and unacknowledged messages.
"""

from __future__ import annotations

import msgbus
from msgbus import ExchangeType

transport = msgbus.connect()
transport.declare_exchange("orders", ExchangeType.TOPIC)
transport.declare_exchange("failed", ExchangeType.FANOUT)
transport.declare_queue("billing", arguments={"x-dead-letter-exchange": "failed"})
transport.declare_queue("shipping_fr")
transport.declare_queue("billing_failed")
transport.bind_queue("billing", "orders", "order.#")
transport.bind_queue("shipping_fr", "orders", "order.fr")
transport.bind_queue("billing_failed", "failed")

for country in ("fr", "de", "fr"):
    transport.publish("orders", f"order.{country}", b'{"total": 42}')

first = transport.get("billing")          # being worked on: delivered, not acknowledged
if first is None:
    raise SystemExit("the billing queue should hold the orders just published")
print("3 orders placed, 1 bill in progress")
