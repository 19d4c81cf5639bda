"""Random sequences of broker operations: a model of every message, and RabbitMQ itself.

Hypothesis draws sequences of operations (``tests.property.strategies.sequences``) on a
small pool of queues (one with ``x-max-length``), one exchange of each routing type and two
connections: declare, bind, unbind, publish numbered bodies, get with and without auto-ack,
consume with a prefetch, cancel, ack / nack / reject with ``multiple`` and ``requeue``,
close and reopen a connection, purge. After every operation the client processes its
events until nothing more arrives, so each step ends in a quiet state.

On the memory broker every step is checked against a model that knows where each routed
message is: ready in its queue (in publish order), held unacknowledged by one connection,
or settled on purpose (acked, auto-acked, rejected without requeue, purged, dropped by
``x-max-length``). Nothing is lost or delivered twice, ``get`` takes the head, counts
agree, prefetch is respected, no consumer with room is left idle while messages wait, and
``redelivered`` is true exactly for messages that went back to their queue.

Under the ``rabbitmq`` marker the same sequences run in lockstep on the memory broker and on
RabbitMQ, and everything the client observes after every step is compared: results,
error codes and texts, the deliveries each consumer got, queue and consumer counts.
RabbitMQ delivers asynchronously, so its side keeps processing events until it has had as
many deliveries as the memory side had and then nothing more for a quiet period (waiting
longer never changes what is compared). Sequences either side got wrong once are kept at
the end of the file as plain regression tests.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings

from msgbus.errors import AMQPError
from msgbus.transport import ConsumerHandle, Transport
from msgbus.values import Delivery
from tests.property import strategies as s
from tests.property.strategies import (
    Bind,
    Cancel,
    Consume,
    Declare,
    Get,
    Operation,
    Publish,
    Purge,
    Reopen,
    Settle,
    Unbind,
)
from tests.support import Names, delete_on_server
from transports.memory import Broker, MemoryTransport

#: What one step shows the client: the operation's result, the deliveries each consumer
#: got (by consumer number, in order: body number and redelivered flag) and, for every
#: declared queue, its ready-message and consumer counts from a passive declare.
Result = tuple[object, ...]
Deliveries = tuple[tuple[int, tuple[tuple[int, bool], ...]], ...]
Counts = tuple[tuple[str, int, int], ...]
Observation = tuple[Result, Deliveries, Counts]

#: A delivery as it arrived: consumer number, queue, body number, redelivered.
Arrival = tuple[int, str, int, bool]

QUIET = 0.1  # RabbitMQ: how long nothing must arrive before a step counts as finished
PATIENCE = 1.0  # RabbitMQ: how long to wait for what the memory broker delivered


def body(number: int) -> bytes:
    return b"m%d" % number


def number_of(delivery: Delivery) -> int:
    return int(delivery.body[1:])


# -- the client side: one broker through the Transport API ---------------------------------


@dataclass(slots=True)
class Held:
    """A delivery a connection holds unacknowledged."""

    queue: str
    number: int
    tag: int


@dataclass(slots=True)
class ConsumerRecord:
    number: int
    conn: int
    queue: str
    handle: ConsumerHandle


class Side:
    """One broker seen through ``Transport``: connections, active consumers, held deliveries.

    Names are symbolic in everything it returns; ``prefix`` makes them real on the broker.
    """

    def __init__(self, open_transport: Callable[[], Transport], prefix: str, *,
                 asynchronous: bool) -> None:
        self.open_transport = open_transport
        self.prefix = prefix
        self.asynchronous = asynchronous
        self.conns: list[Transport] = []
        self.consumers: list[ConsumerRecord] = []
        self.held: list[list[Held]] = [[] for _ in range(s.CONNECTIONS)]
        self.declared: set[str] = set()
        self.arrivals: list[Arrival] = []
        self.published = 0
        self.consumers_made = 0
        for _ in range(s.CONNECTIONS):
            self.conns.append(open_transport())
        for kind in s.EXCHANGES:
            self.conns[0].declare_exchange(self.real(kind), kind)

    def real(self, symbol: str) -> str:
        return self.prefix + symbol

    def symbolic(self, text: str) -> str:
        return text.replace(self.prefix, "") if self.prefix else text

    def close(self) -> None:
        for transport in self.conns:
            if transport.is_open:
                transport.close()

    # -- one step ----------------------------------------------------------------------

    def step(self, op: Operation, expected: Observation | None = None,
             expected_arrivals: Sequence[Arrival] = ()) -> Observation:
        """Run ``op``, let deliveries settle, and say what the client saw.

        ``expected`` (what the memory broker showed) only tells an asynchronous broker how
        long to keep listening; it never changes what is observed.
        """
        self.arrivals = []
        conn = self._conn_of(op)
        try:
            result = self._apply(op)
        except AMQPError as error:
            result = ("error", error.reply_code, self.symbolic(error.reply_text))
            self._channel_lost(conn)
        self._settle_down(Counter(a[0] for a in expected_arrivals))
        counts = self._counts(conn)
        if self.asynchronous and expected is not None:
            deadline = time.monotonic() + PATIENCE
            while counts != expected[2] and time.monotonic() < deadline:
                self._settle_down(Counter(a[0] for a in expected_arrivals))
                counts = self._counts(conn)
        return result, self._deliveries(), counts

    def _conn_of(self, op: Operation) -> int:
        if isinstance(op, Cancel):
            if not self.consumers:
                return 0
            return self.consumers[op.pick % len(self.consumers)].conn
        return op.conn

    def _apply(self, op: Operation) -> Result:
        t = self.conns[self._conn_of(op)]
        if isinstance(op, Declare):
            info = t.declare_queue(self.real(op.queue), arguments=s.QUEUE_ARGUMENTS[op.queue])
            self.declared.add(op.queue)
            return ("declared", info.message_count, info.consumer_count)
        if isinstance(op, Bind):
            t.bind_queue(self.real(op.queue), self.real(op.exchange), op.key)
            return ("bound",)
        if isinstance(op, Unbind):
            t.unbind_queue(self.real(op.queue), self.real(op.exchange), op.key)
            return ("unbound",)
        if isinstance(op, Publish):
            number = self.published
            self.published += 1
            if op.exchange:
                t.publish(self.real(op.exchange), op.key, body(number))
            else:
                t.publish("", self.real(op.key), body(number))
            return ("published", number)
        if isinstance(op, Get):
            delivery = t.get(self.real(op.queue), auto_ack=op.auto_ack)
            if delivery is None:
                return ("empty",)
            if not op.auto_ack:
                self._hold(op.conn, Held(op.queue, number_of(delivery), delivery.delivery_tag))
            return ("got", number_of(delivery), delivery.redelivered, delivery.message_count)
        if isinstance(op, Consume):
            return self._consume(op, t)
        if isinstance(op, Cancel):
            if not self.consumers:
                return ("no consumer",)
            record = self.consumers.pop(op.pick % len(self.consumers))
            record.handle.cancel()
            return ("cancelled", record.number)
        if isinstance(op, Settle):
            return self._settle(op, t)
        if isinstance(op, Reopen):
            t.close()
            self._channel_lost(op.conn)
            self.conns[op.conn] = self.open_transport()
            return ("reopened",)
        assert isinstance(op, Purge)
        return ("purged", t.purge_queue(self.real(op.queue)))

    def _consume(self, op: Consume, t: Transport) -> Result:
        number = self.consumers_made

        def on_delivery(delivery: Delivery) -> None:
            self.arrivals.append((number, op.queue, number_of(delivery), delivery.redelivered))
            if not op.auto_ack:
                self._hold(op.conn, Held(op.queue, number_of(delivery), delivery.delivery_tag))

        handle = t.consume(self.real(op.queue), on_delivery, prefetch=op.prefetch,
                           auto_ack=op.auto_ack)
        self.consumers_made += 1
        self.consumers.append(ConsumerRecord(number, op.conn, op.queue, handle))
        return ("consuming", number)

    def _settle(self, op: Settle, t: Transport) -> Result:
        held = self.held[op.conn]
        if not held:
            return ("nothing held",)
        index = op.pick % len(held)
        target = held[index]
        if op.verb == "ack":
            t.ack(target.tag, multiple=op.multiple)
        elif op.verb == "nack":
            t.nack(target.tag, multiple=op.multiple, requeue=op.requeue)
        else:
            t.reject(target.tag, requeue=op.requeue)
        settled = held[: index + 1] if op.multiple and op.verb != "reject" else [target]
        self.held[op.conn] = [h for h in held if h not in settled]
        return ("settled", tuple((h.queue, h.number) for h in settled))

    def _hold(self, conn: int, held: Held) -> None:
        self.held[conn].append(held)
        self.held[conn].sort(key=lambda h: h.tag)

    def _channel_lost(self, conn: int) -> None:
        """The channel of ``conn`` closed: its consumers are gone, its deliveries requeued."""
        self.held[conn] = []
        self.consumers = [c for c in self.consumers if c.conn != conn]

    def _settle_down(self, expected: Counter[int]) -> None:
        """Process events until nothing more arrives (and, on RabbitMQ, at least what the
        memory broker delivered has arrived, or ``PATIENCE`` ran out)."""
        if not self.asynchronous:
            while True:
                before = len(self.arrivals)
                for transport in self.conns:
                    transport.process_events(0)
                if len(self.arrivals) == before:
                    return
        if not self.consumers and not expected:
            for transport in self.conns:
                transport.process_events(0)
            return
        start = quiet_since = time.monotonic()
        while True:
            before = len(self.arrivals)
            for transport in self.conns:
                transport.process_events(0.01)
            now = time.monotonic()
            if len(self.arrivals) != before:
                quiet_since = now
            got = Counter(a[0] for a in self.arrivals)
            complete = all(got[c] >= n for c, n in expected.items())
            if (complete and now - quiet_since >= QUIET) or now - start > PATIENCE:
                return

    def _deliveries(self) -> Deliveries:
        by_consumer: dict[int, list[tuple[int, bool]]] = {}
        for consumer, _, number, redelivered in self.arrivals:
            by_consumer.setdefault(consumer, []).append((number, redelivered))
        return tuple((c, tuple(got)) for c, got in sorted(by_consumer.items()))

    def _counts(self, conn: int) -> Counts:
        # on the connection that acted: its acks reach the queues before this declare does
        t = self.conns[conn]
        counts = []
        for queue in sorted(self.declared):
            info = t.declare_queue(self.real(queue), passive=True)
            counts.append((queue, info.message_count, info.consumer_count))
        return tuple(counts)


# -- the model -------------------------------------------------------------------------------


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching; ``""`` is zero words."""

    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and (p[0] == "*" or p[0] == k[0]) and match(p[1:], k[1:])

    return match(pattern.split(".") if pattern else [], key.split(".") if key else [])


@dataclass(slots=True)
class ModelConsumer:
    conn: int
    queue: str
    prefetch: int
    auto_ack: bool


class Model:
    """Where every routed message is, and what each step must therefore show.

    A message is ``(queue, number)``: ready in ``ready[queue]`` (kept in publish order with
    its redelivered flag), held by one connection (``held``, in delivery order), or settled.
    """

    def __init__(self) -> None:
        self.declared: set[str] = set()
        self.bindings: set[tuple[str, str, str]] = set()
        self.ready: dict[str, list[tuple[int, bool]]] = {q: [] for q in s.QUEUES}
        self.held: list[list[tuple[str, int, int | None]]] = [[] for _ in range(s.CONNECTIONS)]
        self.consumers: dict[int, ModelConsumer] = {}
        self.routed: set[tuple[str, int]] = set()
        self.settled: set[tuple[str, int]] = set()
        self.published = 0
        self.consumers_made = 0

    # -- applying one step ---------------------------------------------------------------

    def check(self, op: Operation, seen: Observation, arrivals: Sequence[Arrival],
              unacked: dict[str, int] | None = None) -> None:
        """Apply ``op`` and assert that ``seen`` (and ``arrivals``) is what it must show."""
        result, _, counts = seen
        expected = self._apply(op)
        if expected[0] == "error":
            assert result[:2] == expected, f"{op}: expected error {expected}, got {result}"
            self._channel_lost(self._conn_of(op))
        else:
            assert result == expected, f"{op}: expected {expected}, got {result}"
        self._receive(arrivals)
        assert counts == self._counts(), f"after {op}: counts {counts}, model {self._counts()}"
        if unacked is not None:
            assert unacked == self._unacked(), (
                f"after {op}: unacknowledged {unacked}, model {self._unacked()}")
        self._check_invariants(op)

    def _conn_of(self, op: Operation) -> int:
        if isinstance(op, Cancel):
            return 0
        return op.conn

    def _apply(self, op: Operation) -> Result:
        # unbinding what does not exist is fine, even from a queue that does not exist
        if isinstance(op, (Bind, Get, Consume, Purge)) and op.queue not in self.declared:
            return ("error", 404)
        if isinstance(op, Declare):
            self.declared.add(op.queue)
            return ("declared", len(self.ready[op.queue]), self._consumers_on(op.queue))
        if isinstance(op, Bind):
            self.bindings.add((op.queue, op.exchange, op.key))
            return ("bound",)
        if isinstance(op, Unbind):
            self.bindings.discard((op.queue, op.exchange, op.key))
            return ("unbound",)
        if isinstance(op, Publish):
            number = self.published
            self.published += 1
            for queue in self._route(op):
                self.routed.add((queue, number))
                self.ready[queue].append((number, False))
                self._trim(queue)
            return ("published", number)
        if isinstance(op, Get):
            ready = self.ready[op.queue]
            if not ready:
                return ("empty",)
            number, redelivered = ready.pop(0)
            if op.auto_ack:
                self.settled.add((op.queue, number))
            else:
                self.held[op.conn].append((op.queue, number, None))
            return ("got", number, redelivered, len(ready))
        if isinstance(op, Consume):
            number = self.consumers_made
            self.consumers_made += 1
            self.consumers[number] = ModelConsumer(op.conn, op.queue, op.prefetch, op.auto_ack)
            return ("consuming", number)
        if isinstance(op, Cancel):
            if not self.consumers:
                return ("no consumer",)
            number = sorted(self.consumers)[op.pick % len(self.consumers)]
            del self.consumers[number]
            return ("cancelled", number)
        if isinstance(op, Settle):
            return self._settle(op)
        if isinstance(op, Reopen):
            self._channel_lost(op.conn)
            return ("reopened",)
        assert isinstance(op, Purge)
        purged = self.ready[op.queue]
        self.settled.update((op.queue, number) for number, _ in purged)
        self.ready[op.queue] = []
        return ("purged", len(purged))

    def _route(self, op: Publish) -> list[str]:
        if not op.exchange:
            return [op.key] if op.key in self.declared else []
        if op.exchange == "fanout":
            matches: Callable[[str], bool] = lambda _pattern: True  # noqa: E731
        elif op.exchange == "direct":
            matches = op.key.__eq__
        else:
            def matches(pattern: str) -> bool:
                return topic_matches(pattern, op.key)
        return sorted({q for q, x, pattern in self.bindings
                       if x == op.exchange and matches(pattern)})

    def _settle(self, op: Settle) -> Result:
        held = self.held[op.conn]
        if not held:
            return ("nothing held",)
        index = op.pick % len(held)
        settled = held[: index + 1] if op.multiple and op.verb != "reject" else [held[index]]
        self.held[op.conn] = [h for h in held if h not in settled]
        for queue, number, _ in settled:
            if op.verb != "ack" and op.requeue:
                self._requeue(queue, number)
            else:
                self.settled.add((queue, number))
        return ("settled", tuple((queue, number) for queue, number, _ in settled))

    def _channel_lost(self, conn: int) -> None:
        for queue, number, _ in self.held[conn]:
            self._requeue(queue, number)
        self.held[conn] = []
        self.consumers = {n: c for n, c in self.consumers.items() if c.conn != conn}

    def _requeue(self, queue: str, number: int) -> None:
        """Back to its original place in the queue, marked redelivered."""
        ready = self.ready[queue]
        ready.append((number, True))
        ready.sort()
        self._trim(queue)

    def _trim(self, queue: str) -> None:
        """``x-max-length``: drop from the head (RabbitMQ does so on requeue too)."""
        limit = s.QUEUE_ARGUMENTS[queue].get("x-max-length")
        ready = self.ready[queue]
        while limit is not None and len(ready) > limit:
            number, _ = ready.pop(0)
            self.settled.add((queue, number))

    def _receive(self, arrivals: Sequence[Arrival]) -> None:
        """Deliveries to consumers: each must be a ready message of the consumer's queue,
        taken from the head, with the right redelivered flag."""
        taken: dict[str, list[int]] = {}
        per_consumer: dict[int, list[int]] = {}
        for consumer, queue, number, redelivered in arrivals:
            assert consumer in self.consumers, f"delivery of m{number} to cancelled {consumer}"
            c = self.consumers[consumer]
            assert c.queue == queue
            flags = dict(self.ready[queue])
            assert number in flags, (
                f"m{number} delivered from {queue} but it is not ready there "
                f"(ready: {self.ready[queue]}): duplicated or invented")
            assert redelivered == flags[number], (
                f"m{number} from {queue}: redelivered={redelivered}, expected {flags[number]}")
            self.ready[queue].remove((number, flags[number]))
            taken.setdefault(queue, []).append(number)
            per_consumer.setdefault(consumer, []).append(number)
            if c.auto_ack:
                self.settled.add((queue, number))
            else:
                self.held[c.conn].append((queue, number, consumer))
        for queue, numbers in taken.items():
            rest = [number for number, _ in self.ready[queue]]
            assert not rest or max(numbers) < min(rest), (
                f"{queue}: delivered {numbers} while older {rest} stayed ready")
        for consumer, numbers in per_consumer.items():
            assert numbers == sorted(numbers), f"consumer {consumer} got {numbers} out of order"

    # -- what must hold after every step ---------------------------------------------------

    def _consumers_on(self, queue: str) -> int:
        return sum(c.queue == queue for c in self.consumers.values())

    def _counts(self) -> Counts:
        return tuple((q, len(self.ready[q]), self._consumers_on(q)) for q in sorted(self.declared))

    def _unacked(self) -> dict[str, int]:
        counts = Counter(queue for held in self.held for queue, _, _ in held)
        return {q: counts[q] for q in sorted(self.declared)}

    def _check_invariants(self, op: Operation) -> None:
        ready = {(q, n) for q, messages in self.ready.items() for n, _ in messages}
        held = [(q, n) for h in self.held for q, n, _ in h]
        assert len(set(held)) == len(held), f"after {op}: a message is held twice: {held}"
        places = [ready, set(held), self.settled]
        assert sum(map(len, places)) == len(self.routed), f"after {op}: a message is in two places"
        assert set().union(*places) == self.routed, f"after {op}: a message is lost"
        for number, c in self.consumers.items():
            holding = sum(1 for _, _, by in self.held[c.conn] if by == number)
            assert c.auto_ack or not c.prefetch or holding <= c.prefetch, (
                f"after {op}: consumer {number} holds {holding} > prefetch {c.prefetch}")
            room = c.auto_ack or not c.prefetch or holding < c.prefetch
            assert not (room and self.ready[c.queue]), (
                f"after {op}: consumer {number} has room but {c.queue} keeps "
                f"{self.ready[c.queue]} ready")


# -- running sequences ---------------------------------------------------------------------


def epilogue(declared: set[str]) -> Iterator[Operation]:
    """Close both connections (everything held goes back), then take every ready message."""
    for conn in range(s.CONNECTIONS):
        yield Reopen(conn)
    for queue in sorted(declared):
        yield Get(0, queue, auto_ack=True)


def with_epilogue(ops: Sequence[Operation], model: Model,
                  step: Callable[[Operation], Result]) -> None:
    """Run ``ops`` and the epilogue, draining each queue until ``get`` comes back empty."""
    for op in ops:
        step(op)
    for op in epilogue(model.declared):
        result = step(op)
        while isinstance(op, Get) and result != ("empty",):
            result = step(op)


def unacked_on(broker: Broker) -> dict[str, int]:
    return {q.name: q.messages_unacknowledged for q in broker.queues() if q.name in s.QUEUES}


def run_on_memory(ops: Sequence[Operation]) -> None:
    broker = Broker()
    side = Side(lambda: MemoryTransport(broker), "", asynchronous=False)
    model = Model()

    def step(op: Operation) -> Result:
        seen = side.step(op)
        model.check(op, seen, side.arrivals, unacked_on(broker))
        return seen[0]

    try:
        with_epilogue(ops, model, step)
    finally:
        side.close()


def run_differential(url: str, ops: Sequence[Operation]) -> None:
    from transports.rabbitmq import RabbitMQTransport

    # unique across processes too: a run killed before its clean-up leaves queues behind
    names = Names(f"stateful-{uuid.uuid4().hex[:12]}")
    for q in s.QUEUES:
        names.queue(q)
    for x in s.EXCHANGES:
        names.exchange(x)
    broker = Broker()
    memory = Side(lambda: MemoryTransport(broker), "", asynchronous=False)
    try:
        rabbit = Side(lambda: RabbitMQTransport.from_url(url), names.prefix + ".",
                      asynchronous=True)
    except BaseException:
        memory.close()
        raise
    model = Model()
    done: list[Operation] = []

    def step(op: Operation) -> Result:
        done.append(op)
        seen = memory.step(op)
        on_server = rabbit.step(op, seen, memory.arrivals)
        if on_server != seen:
            with contextlib.suppress(AssertionError):
                model.check(op, seen, memory.arrivals, unacked_on(broker))
            raise AssertionError(
                f"after {len(done)} steps, {done[-1]}:\n  RabbitMQ: {on_server}\n"
                f"  memory:   {seen}\n  sequence: {done}")
        # the same observations: the model's checks hold on RabbitMQ as well
        model.check(op, seen, memory.arrivals, unacked_on(broker))
        return seen[0]

    try:
        with_epilogue(ops, model, step)
    finally:
        memory.close()
        rabbit.close()
        delete_on_server(url, names)


# -- the tests -------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(s.sequences(min_size=10, max_size=40))
def test_memory_broker_keeps_every_message_in_one_place(ops: list[Operation]) -> None:
    run_on_memory(ops)


differential = settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.rabbitmq
@settings(differential, max_examples=50)
@given(ops=s.sequences(consumers=False, max_size=30))
def test_rabbitmq_agrees_on_get_sequences(amqp_url: str, ops: list[Operation]) -> None:
    run_differential(amqp_url, ops)


@pytest.mark.rabbitmq
@settings(differential, max_examples=50)
@given(ops=s.sequences(max_size=20))
def test_rabbitmq_agrees_with_consumers(amqp_url: str, ops: list[Operation]) -> None:
    run_differential(amqp_url, ops)


# -- sequences Hypothesis found once, kept as regression tests ------------------------------

#: A message requeued into a queue at its ``x-max-length`` (drop-head): RabbitMQ requeues,
#: then drops from the head (here the requeued message itself, the oldest) before it
#: delivers again. The memory broker once kept the queue over its limit instead.
REQUEUE_OVERFLOW_SEQUENCES: dict[str, list[Operation]] = {
    "nack": [
        Declare(0, "q2"), Publish(0, "", "q2"), Get(0, "q2", auto_ack=False),
        Publish(0, "", "q2"), Publish(0, "", "q2"),
        Settle(0, "nack", 0, multiple=False, requeue=True),
    ],
    "close": [
        Declare(0, "q2"), Publish(0, "", "q2"), Get(0, "q2", auto_ack=False),
        Publish(0, "", "q2"), Publish(0, "", "q2"), Reopen(0),
    ],
    "consumer": [
        Declare(0, "q2"), Publish(0, "", "q2"), Consume(1, "q2", prefetch=1, auto_ack=False),
        Publish(0, "", "q2"), Publish(0, "", "q2"),
        Settle(1, "reject", 0, multiple=False, requeue=True),
    ],
}


@pytest.mark.parametrize("case", sorted(REQUEUE_OVERFLOW_SEQUENCES))
def test_memory_requeue_into_a_full_queue_drops_the_head(case: str) -> None:
    run_on_memory(REQUEUE_OVERFLOW_SEQUENCES[case])


@pytest.mark.rabbitmq
@pytest.mark.parametrize("case", sorted(REQUEUE_OVERFLOW_SEQUENCES))
def test_rabbitmq_agrees_on_requeue_into_a_full_queue(amqp_url: str, case: str) -> None:
    run_differential(amqp_url, REQUEUE_OVERFLOW_SEQUENCES[case])


#: After a consumer blocked by its prefetch gets room again (ack, nack), RabbitMQ serves the
#: consumers that were not blocked first: the unblocked one goes to the end of the round
#: robin. The memory broker once gave the next message to the unblocked consumer instead.
UNBLOCKED_ROTATION_SEQUENCES: dict[str, list[Operation]] = {
    "ack then publish": [
        Declare(0, "q1"), Publish(0, "", "q1"), Publish(0, "", "q1"),
        Consume(1, "q1", prefetch=1, auto_ack=False),
        Consume(0, "q1", prefetch=0, auto_ack=False),
        Settle(1, "ack", 0, multiple=False, requeue=False), Publish(0, "", "q1"),
    ],
    "nack requeue": [
        Declare(0, "q1"), Publish(0, "", "q1"), Publish(0, "", "q1"),
        Consume(1, "q1", prefetch=1, auto_ack=False),
        Consume(0, "q1", prefetch=0, auto_ack=False),
        Settle(1, "nack", 0, multiple=False, requeue=True),
    ],
}


@pytest.mark.rabbitmq
@pytest.mark.parametrize("case", sorted(UNBLOCKED_ROTATION_SEQUENCES))
def test_rabbitmq_agrees_on_round_robin_after_unblocking(amqp_url: str, case: str) -> None:
    run_differential(amqp_url, UNBLOCKED_ROTATION_SEQUENCES[case])
