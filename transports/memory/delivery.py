"""The broker core's message flow once a message is queued: consumers, delivery, basic.get,
acknowledgements, requeueing, direct reply-to and transactions (sans-IO). Messages come in
through :mod:`transports.memory.publishing`; ``BrokerCore`` adds the topology."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgbus.errors import AccessRefused, AMQPNotImplemented, NotAllowed, PreconditionFailed
from msgbus.values import Delivery, Properties
from transports.memory import arguments as args
from transports.memory import queue_types
from transports.memory.entities import (
    ChannelState,
    ConsumerCancelled,
    ConsumerState,
    Deliver,
    DeliverMany,
    QueueState,
)
from transports.memory.publishing import REPLY_TO, PublishFlow, PublishResult, random_suffix
from transports.memory.queue import Message, QueuedMessage

__all__ = ["REPLY_TO", "MessageFlow", "PublishResult", "random_suffix"]


def _unknown_tag(delivery_tag: int) -> PreconditionFailed:
    return PreconditionFailed(f"PRECONDITION_FAILED - unknown delivery tag {delivery_tag}")


def _by_priority(consumer: ConsumerState) -> int:
    return -consumer.priority


def _by_queue_and_consumer(taken: list[QueuedMessage]) -> list[list[QueuedMessage]]:
    """Deliveries grouped as RabbitMQ's channel settles them: by queue and consumer, in
    the order of the queue's vhost and name, then the consumer tag (basic.get's first)."""
    if len(taken) == 1:
        return [taken]
    groups: dict[tuple[bytes, bytes, int, bytes], list[QueuedMessage]] = {}
    for entry in taken:
        consumer = entry.consumer
        key = (entry.queue.vhost.encode(), entry.queue.name.encode(),
               0 if consumer is None else 1, b"" if consumer is None else consumer.tag.encode())
        groups.setdefault(key, []).append(entry)
    return [groups[key] for key in sorted(groups)]


class MessageFlow(PublishFlow):
    """Messages in queues: consumers, delivery, acknowledgements, requeueing, transactions."""

    # -- consumers and delivery -------------------------------------------------------

    def basic_qos(self, channel: ChannelState, prefetch_count: int, *, global_: bool,
                  prefetch_size: int = 0) -> None:
        if prefetch_size:
            raise AMQPNotImplemented(f"NOT_IMPLEMENTED - prefetch_size!=0 ({prefetch_size})")
        if not global_:
            channel.prefetch = prefetch_count  # for the channel's next consumers
            if not channel.global_prefetch:
                return
            prefetch_count = 0  # RabbitMQ: a per-consumer basic.qos lifts the channel's limit
        if not channel.global_prefetch:  # the limiter's count starts at every unacked one
            channel.global_uncounted = len(channel.unacked) - channel.counted_unacked
        channel.global_prefetch = prefetch_count
        channel.resume()
        self._unblock(channel)
        for consumer in list(channel.consumers.values()):
            self._dispatch(consumer.queue)

    def basic_consume(self, channel: ChannelState, queue_name: str, consumer_tag: str, *,
                      no_ack: bool, exclusive: bool, arguments: Mapping[str, Any]) -> str:
        self.tick()
        if consumer_tag in channel.consumers:  # RabbitMQ checks this first
            raise NotAllowed(f"NOT_ALLOWED - attempt to reuse consumer tag '{consumer_tag}'")
        if queue_name == REPLY_TO:
            return self._consume_reply_to(channel, consumer_tag, no_ack=no_ack)
        queue = self._queue(channel, queue_name)
        vh = self._vhost(channel)
        args.check_consumer_arguments(queue.name, vh.name, arguments, queue.queue_type)
        if queue.queue_type != "classic":
            queue_types.check_consume(queue, prefetch=channel.prefetch,
                                      global_prefetch=channel.global_prefetch, no_ack=no_ack)
        if queue.queue_type == "quorum":
            exclusive = False  # a quorum queue ignores basic.consume's exclusive flag
        elif ((exclusive and (queue.consumers or queue.single_active))  # never with SAC
              or any(c.exclusive for c in queue.consumers)):
            raise AccessRefused(
                f"ACCESS_REFUSED - queue '{queue.name}' in vhost '{vh.name}' in exclusive use")
        if not consumer_tag:
            consumer_tag = "amq.ctag-" + random_suffix()
        consumer = ConsumerState(consumer_tag, channel, queue, no_ack=no_ack, exclusive=exclusive,
                                 prefetch=channel.prefetch, arguments=arguments)
        channel.consumers[consumer_tag] = consumer
        queue.consumers.append(consumer)
        queue.had_consumer = True
        self._dispatch(queue)
        return consumer_tag

    def _consume_reply_to(self, channel: ChannelState, consumer_tag: str, *, no_ack: bool
                          ) -> str:
        if not no_ack:
            raise PreconditionFailed("PRECONDITION_FAILED - reply consumer cannot acknowledge")
        if channel.reply_consumer is not None:
            raise PreconditionFailed("PRECONDITION_FAILED - reply consumer already set")
        channel.reply_consumer = consumer_tag or "amq.ctag-" + random_suffix()
        token = f"{REPLY_TO}.g1h2AA{channel.connection.id}.{channel.id}.{random_suffix()}"
        channel.reply_token = token
        self._reply_channels[token] = channel
        return channel.reply_consumer

    def _publish_reply(self, channel: ChannelState, routing_key: str, body: bytes,
                       properties: Properties) -> bool:
        """Deliver a reply published to ``amq.rabbitmq.reply-to.*``; False if nobody waits."""
        target = self._reply_channels.get(routing_key)
        waiting = target is not None and target.open and target.reply_consumer is not None
        if self.tracing:
            vhost = channel.connection.vhost
            self._emit("published", vhost, routing_key=routing_key, body=body,
                       properties=properties, connection=channel.connection.id,
                       channel=channel.id)
            self._emit("routed", vhost, routing_key=routing_key,
                       queues=(routing_key,) if waiting else (),
                       connection=channel.connection.id, channel=channel.id)
        if target is None or target.reply_consumer is None or not waiting:
            return False
        tag = target.next_tag  # RabbitMQ does not move the channel's tags on for a reply
        target.connection.outbox.append(Deliver(
            target.id, target.reply_consumer, tag, False,
            Message(body, "", routing_key, properties)))
        if self.tracing:
            self._emit("delivered", target.connection.vhost, queue=routing_key,
                       consumer_tag=target.reply_consumer, delivery_tag=tag, body=body,
                       connection=target.connection.id, channel=target.id, no_ack=True)
        return True

    def basic_cancel(self, channel: ChannelState, consumer_tag: str) -> None:
        if consumer_tag == channel.reply_consumer:
            self._forget_reply_to(channel)
            return
        consumer = channel.consumers.get(consumer_tag)
        if consumer is not None:
            self._remove_consumer(consumer, notify=False)

    def _remove_consumer(self, consumer: ConsumerState, *, notify: bool) -> None:
        channel, queue = consumer.channel, consumer.queue
        channel.consumers.pop(consumer.tag, None)
        if consumer in queue.consumers:
            queue.consumers.remove(consumer)
        if consumer.blocked:
            consumer.blocked = False
            channel.blocked.remove(consumer)
        if notify and channel.open:
            channel.connection.outbox.append(ConsumerCancelled(channel.id, consumer.tag))
        if queue.queue_type == "quorum" and queue.consumers:
            # a quorum queue serves its other consumers at once (a single active consumer's
            # successor takes over), before a closing channel's messages come back
            vh = self.vhosts.get(queue.vhost)
            if vh is not None and vh.queues.get(queue.name) is queue:
                self._dispatch(queue)
        if not queue.consumers:
            queue.last_used = self.clock.monotonic()
            if queue.expires_ms is not None:
                self._watch(queue, queue.last_used + queue.expires_ms / 1000)
            vh = self.vhosts.get(queue.vhost)
            if queue.auto_delete and vh is not None:
                self._delete_queue(vh, queue)

    def _pick_consumer(self, queue: QueueState) -> ConsumerState | None:
        """The consumer the next message goes to, tried as RabbitMQ does: highest priority
        first, in round-robin order. One tried while its prefetch is full is blocked: it
        leaves the round robin until it has room again (see :meth:`_unblock`)."""
        consumers = queue.consumers
        if queue.single_active:
            active = consumers[0] if consumers else None
            return active if active is not None and active.has_capacity() else None
        if len(consumers) > 1 and any(c.priority for c in consumers):
            consumers = sorted(consumers, key=_by_priority)
        for consumer in consumers:
            if consumer.blocked:
                continue
            if consumer.has_capacity():
                return consumer
            consumer.blocked = True
            channel = consumer.channel
            channel.blocked.append(consumer)
            if channel.global_prefetch and consumer.own_room():
                channel.suspended.add(queue)  # refused by the channel's limiter
        return None

    def _unblock(self, channel: ChannelState) -> None:
        """Blocked consumers of ``channel`` that have room again rejoin the end of their
        queue's round robin, in the order they blocked."""
        if not channel.blocked:
            return
        still: list[ConsumerState] = []
        for consumer in channel.blocked:
            if consumer.has_capacity():
                consumer.blocked = False
                consumers = consumer.queue.consumers
                consumers.remove(consumer)
                consumers.append(consumer)
            else:
                still.append(consumer)
        channel.blocked = still

    def _dispatch(self, queue: QueueState) -> None:
        store = queue.store
        consumers = queue.consumers
        if not consumers or not store._count:
            return
        timed = queue in self._timed
        if len(consumers) == 1 and not timed and not self.tracing:
            # one consumer: hand it all it has room for at once
            only = consumers[0]
            if only.blocked:
                return
            room = only.room(store._count)
            if room:
                self._deliver_many(only, room)
            if not store._count:
                return
        now = self.clock.monotonic()
        while len(store):
            if timed:
                for expired in store.pop_expired(now):
                    self._dead_letter(queue, expired, "expired")
            consumer = self._pick_consumer(queue)
            if consumer is None:
                break
            queued = store.pop()
            if queued is None:
                break
            self._deliver(consumer, queued)
        if timed:
            for expired in store.pop_expired(now):  # what the last delivery uncovered
                self._dead_letter(queue, expired, "expired")
            self._watch_head(queue)

    def _watch_head(self, queue: QueueState) -> None:
        """After a fetch, expire the queue's new head when its time comes (RabbitMQ sets the
        queue's timer by the head message)."""
        deadline = queue.store.next_expiry()
        if deadline is not None and deadline < self._next_check:
            self._next_check = deadline

    def _deliver(self, consumer: ConsumerState, queued: QueuedMessage) -> None:
        channel = consumer.channel
        tag = channel.next_tag
        channel.next_tag += 1
        if not consumer.no_ack:
            queued.tag = tag
            queued.consumer = consumer
            channel.unacked[tag] = queued
            consumer.unacked += 1
            channel.counted_unacked += 1
        message = queued
        channel.connection.outbox.append(
            Deliver(channel.id, consumer.tag, tag, queued.redelivered, message))
        consumers = consumer.queue.consumers
        if len(consumers) > 1 and not consumer.queue.single_active:
            consumers.remove(consumer)
            consumers.append(consumer)
        if self.tracing:
            self._emit("delivered", consumer.queue.vhost, queue=consumer.queue.name,
                       consumer_tag=consumer.tag, delivery_tag=tag,
                       redelivered=queued.redelivered, body=message.body,
                       connection=channel.connection.id, channel=channel.id,
                       no_ack=consumer.no_ack)

    def _deliver_many(self, consumer: ConsumerState, count: int) -> None:
        """Deliver the next ``count`` ready messages of the consumer's queue to it (it is
        the queue's only consumer and has room for them; nothing is being traced)."""
        channel = consumer.channel
        pop = consumer.queue.store.pop
        messages: list[QueuedMessage] = []
        take = messages.append
        for _ in range(count):
            queued = pop()
            if queued is None:  # the caller counted the ready messages, under the lock
                break
            take(queued)
        count = len(messages)
        first = channel.next_tag
        channel.next_tag = first + count
        unacked = None if consumer.no_ack else channel.unacked
        if unacked is not None:
            for tag, queued in enumerate(messages, first):
                queued.tag = tag
                queued.consumer = consumer
                unacked[tag] = queued
        channel.connection.outbox.append(DeliverMany(
            channel.id, consumer.tag, first, messages,
            [queued.redelivered for queued in messages]))
        if unacked is not None:
            consumer.unacked += count
            channel.counted_unacked += count

    def basic_get(self, channel: ChannelState, queue_name: str, *, no_ack: bool
                  ) -> Delivery | None:
        self.tick()
        queue = self._queue(channel, queue_name)
        if queue.queue_type != "classic":
            queue_types.check_get(queue)
        queue.last_used = self.clock.monotonic()
        for expired in queue.store.pop_expired(queue.last_used):
            self._dead_letter(queue, expired, "expired")
        queued = queue.store.pop()
        if queued is None:
            if self.tracing:
                self._emit("get-empty", queue.vhost, queue=queue.name,
                           connection=channel.connection.id, channel=channel.id, no_ack=no_ack)
            return None
        if queue in self._timed:  # RabbitMQ drops the expired messages the fetch uncovered
            for expired in queue.store.pop_expired(queue.last_used):
                self._dead_letter(queue, expired, "expired")
            self._watch_head(queue)
        if queue.queue_type == "quorum":  # a quorum queue's basic.get counts deliveries
            queue_types.with_delivery_count(queued, queue.delivery_counts.get(queued.seq, 0))
        tag = channel.next_tag
        channel.next_tag += 1
        if not no_ack:
            queued.tag = tag
            queued.consumer = None
            channel.unacked[tag] = queued
        message = queued
        if self.tracing:
            self._emit("delivered", queue.vhost, queue=queue.name, delivery_tag=tag,
                       redelivered=queued.redelivered, body=message.body,
                       connection=channel.connection.id, channel=channel.id, no_ack=no_ack)
        return Delivery(message.body, tag, message.exchange, message.routing_key,
                        queued.redelivered, message.properties, None, len(queue.store))

    # -- acknowledgements -------------------------------------------------------------

    def _release(self, channel: ChannelState, taken: list[QueuedMessage]) -> None:
        for entry in taken:
            if entry.consumer is not None:
                entry.consumer.unacked -= 1
                channel.counted_unacked -= 1

    def _collect(self, channel: ChannelState, delivery_tag: int, multiple: bool
                 ) -> list[QueuedMessage]:
        unacked = channel.unacked
        if multiple and delivery_tag == 0:
            tags = list(unacked)
        elif delivery_tag not in unacked:
            raise _unknown_tag(delivery_tag)
        elif multiple:
            tags = [t for t in unacked if t <= delivery_tag]
        else:
            tags = [delivery_tag]
        return [unacked.pop(t) for t in tags]

    def _after_settle(self, channel: ChannelState, taken: list[QueuedMessage]) -> None:
        """Settled deliveries free prefetch capacity: feed the queues that may use it (with
        a global prefetch, every queue the channel consumes from)."""
        if channel.suspended:
            channel.resume()
        if channel.blocked:
            self._unblock(channel)
        if len(taken) == 1 and not channel.global_prefetch:
            self._dispatch(taken[0].queue)
            return
        queues = {id(e.queue): e.queue for e in taken}
        if channel.global_prefetch:
            for consumer in channel.consumers.values():
                queues.setdefault(id(consumer.queue), consumer.queue)
        for queue in queues.values():
            self._dispatch(queue)

    def _settle(self, channel: ChannelState, taken: list[QueuedMessage], requeue: bool | None
                ) -> None:
        """Ack (``requeue`` None) or nack deliveries taken off ``channel.unacked``.

        RabbitMQ's channel settles them with one call per queue and consumer (in the order
        of queue name, then consumer tag, basic.get's first), and each queue serves the
        consumers an earlier call unblocked before it takes the next call. That order only
        shows when several consumers of this channel wait for room (or requeued messages
        may go to another of its consumers), so only then is the work split."""
        if channel.global_prefetch:
            self._settle_limited(channel, taken, requeue)
        elif (len(taken) > 1 and len(channel.consumers) > 1
              and (channel.blocked or requeue)):
            for group in _by_queue_and_consumer(taken):
                self._settle_now(channel, group, requeue)
        else:
            self._settle_now(channel, taken, requeue)

    def _settle_now(self, channel: ChannelState, taken: list[QueuedMessage],
                    requeue: bool | None) -> None:
        self._release(channel, taken)
        self._apply_settlement(channel, taken, requeue)
        self._after_settle(channel, taken)

    def _apply_settlement(self, channel: ChannelState, taken: list[QueuedMessage],
                          requeue: bool | None) -> None:
        if requeue is None:
            if self.tracing:
                for entry in taken:
                    self._emit("acked", entry.queue.vhost, queue=entry.queue.name,
                               delivery_tag=entry.tag, connection=channel.connection.id,
                               channel=channel.id)
            return
        for entry in taken:
            if requeue:
                self._requeue(entry, back=True)
            else:
                self._dead_letter(entry.queue, entry, "rejected")

    def _settle_limited(self, channel: ChannelState, taken: list[QueuedMessage],
                        requeue: bool | None) -> None:
        """Settling under a global prefetch, as RabbitMQ does it: the channel's count
        (which its limiter keeps) goes down first; then queue by queue and consumer by
        consumer (see :meth:`_settle`), each queue lets the channel's blocked consumers
        whose own prefetch has room again rejoin its round robin and serves them; a queue
        the limiter suspended serves none (they block again, at the end of the line) until
        the limiter resumes it, after the last of them."""
        channel.counted_unacked -= sum(1 for entry in taken if entry.consumer is not None)
        for group in _by_queue_and_consumer(taken):
            consumer = group[0].consumer
            credited = False
            if consumer is not None:
                credited = (0 < consumer.prefetch <= consumer.unacked
                            and channel.consumers.get(consumer.tag) is consumer)
                consumer.unacked -= len(group)
            self._apply_settlement(channel, group, requeue)
            queue = group[0].queue
            if credited:
                self._unblock_credited(channel, queue)
            if credited or requeue:
                self._dispatch(queue)
        self._after_settle(channel, taken)

    def _unblock_credited(self, channel: ChannelState, queue: QueueState) -> None:
        """The channel's blocked consumers of ``queue`` whose own prefetch has room rejoin
        the end of its round robin, in the order they blocked, whatever the channel's
        global prefetch says."""
        still: list[ConsumerState] = []
        for consumer in channel.blocked:
            if consumer.queue is queue and consumer.own_room():
                consumer.blocked = False
                queue.consumers.remove(consumer)
                queue.consumers.append(consumer)
            else:
                still.append(consumer)
        channel.blocked = still

    def basic_ack(self, channel: ChannelState, delivery_tag: int, *, multiple: bool) -> None:
        if channel.tx_acks is not None:
            channel.tx_acks.append((self._collect(channel, delivery_tag, multiple), None))
            return
        self._settle(channel, self._collect(channel, delivery_tag, multiple), None)

    def basic_ack_each(self, channel: ChannelState, delivery_tags: list[int]) -> None:
        """basic.ack of each of ``delivery_tags`` in turn (none ``multiple``), at once."""
        if channel.tx_acks is not None:
            for tag in delivery_tags:
                self.basic_ack(channel, tag, multiple=False)
            return
        unacked = channel.unacked
        if len(channel.consumers) > 1 and (channel.blocked or channel.global_prefetch):
            # a waiting consumer may be served between two of the acks: one at a time (with
            # one consumer, taking them all at once makes no difference)
            for tag in delivery_tags:
                if tag not in unacked:
                    raise _unknown_tag(tag)  # the ones before it stand
                self._settle(channel, [unacked.pop(tag)], None)
            return
        taken: list[QueuedMessage] = []
        try:
            for tag in delivery_tags:
                if tag not in unacked:
                    raise _unknown_tag(tag)  # the ones before it stand
                taken.append(unacked.pop(tag))
        finally:
            self._settle_now(channel, taken, None)

    def basic_nack(self, channel: ChannelState, delivery_tag: int, *, multiple: bool,
                   requeue: bool) -> None:
        if channel.tx_acks is not None:
            channel.tx_acks.append((self._collect(channel, delivery_tag, multiple), requeue))
            return
        self._settle(channel, self._collect(channel, delivery_tag, multiple), requeue)

    def basic_recover(self, channel: ChannelState, *, requeue: bool = True) -> None:
        """basic.recover: every unacknowledged message goes back to its queue, redelivered
        (not those an open transaction acknowledged: its commit still settles them).
        RabbitMQ does not implement ``requeue=False`` and closes the connection (540)."""
        if not requeue:
            raise AMQPNotImplemented("NOT_IMPLEMENTED - requeue=false")
        taken = list(channel.unacked.values())
        channel.unacked.clear()
        if taken:
            self._settle(channel, taken, True)

    def _requeue(self, entry: QueuedMessage, *, back: bool = False) -> None:
        """Put a delivered message back: at its place (``back``: a nack, reject or recover,
        which sends a quorum queue's message to the back unless it has a delivery limit)."""
        queue = entry.queue
        vh = self.vhosts.get(queue.vhost)
        if vh is None or vh.queues.get(queue.name) is not queue:
            return
        entry.consumer = None
        if queue.queue_type == "classic":
            queue.store.requeue(entry)
        elif not queue_types.count_return(queue, entry):
            self._dead_letter(queue, entry, "delivery_limit")
            return
        elif back and queue_types.requeues_to_back(queue):
            queue.store.append(entry)
            if entry.expires_at is not None:  # behind messages newer than itself
                queue.store.expiring_seq = max(qm.seq for qm in queue.store)
        else:
            queue.store.requeue(entry)
        if entry.expires_at is not None:
            queue.store.expiring_seq = max(queue.store.expiring_seq, entry.seq)
            self._watch(queue, entry.expires_at)
        if self.tracing:
            self._emit("requeued", queue.vhost, queue=queue.name, delivery_tag=entry.tag)
        if queue.overflow == "drop-head":
            self._drop_over_limit(queue)

    def _drop_over_limit(self, queue: QueueState) -> None:
        """Drop (dead-letter, reason maxlen) from the head until within x-max-length(-bytes)."""
        while queue.over_limit():
            head = queue.store.pop()
            if head is None:
                return
            self._dead_letter(queue, head, "maxlen")

    # -- transactions -----------------------------------------------------------------

    def tx_select(self, channel: ChannelState) -> None:
        if channel.confirm:
            raise PreconditionFailed(
                "PRECONDITION_FAILED - cannot switch from confirm to tx mode")
        if channel.tx_publishes is None:
            channel.tx_publishes = []
            channel.tx_acks = []

    def _check_tx(self, channel: ChannelState) -> None:
        if channel.tx_publishes is None:
            raise PreconditionFailed("PRECONDITION_FAILED - channel is not transactional")

    def tx_commit(self, channel: ChannelState) -> None:
        """Apply the transaction's publishes, then its acknowledgements, in order. When a
        queue refused a publish (overflow), RabbitMQ applies all of them and then fails the
        commit, closing the channel."""
        self._check_tx(channel)
        publishes, acks = channel.tx_publishes or [], channel.tx_acks or []
        channel.tx_publishes, channel.tx_acks = [], []
        refused = False
        for exchange, routing_key, body, properties, mandatory in publishes:
            if self._publish_checked(channel, exchange, routing_key, body, properties,
                                     mandatory=mandatory).nacked:
                refused = True
        for taken, requeue in acks:
            self._settle(channel, taken, requeue)
        if refused:
            raise PreconditionFailed("PRECONDITION_FAILED - partial tx completion")

    def tx_rollback(self, channel: ChannelState) -> None:
        """Forget the transaction's publishes; its acknowledged messages are unacked again."""
        self._check_tx(channel)
        channel.tx_publishes = []
        self._restore_tx_acks(channel)

    def _restore_tx_acks(self, channel: ChannelState) -> None:
        if not channel.tx_acks:
            return
        entries = [e for taken, _ in channel.tx_acks for e in taken]
        channel.tx_acks = []
        entries.extend(channel.unacked.values())
        channel.unacked.clear()
        for entry in sorted(entries, key=lambda e: e.tag):
            channel.unacked[entry.tag] = entry

    def _requeue_all(self, channel: ChannelState, *, back: bool = False,
                     settled_too: bool = True) -> None:
        """Requeue the channel's unacknowledged messages; ``settled_too``: also those that
        an uncommitted transaction acknowledged (the channel is going away)."""
        if settled_too:
            self._restore_tx_acks(channel)
        taken = list(channel.unacked.values())
        channel.unacked.clear()
        for entry in taken:
            if entry.consumer is not None:
                entry.consumer.unacked -= 1
                channel.counted_unacked -= 1
            self._requeue(entry, back=back)
        self._unblock(channel)
        for queue in {id(e.queue): e.queue for e in taken}.values():
            self._dispatch(queue)

    def _forget_reply_to(self, channel: ChannelState) -> None:
        if channel.reply_token is not None:
            self._reply_channels.pop(channel.reply_token, None)
        channel.reply_consumer = channel.reply_token = None
