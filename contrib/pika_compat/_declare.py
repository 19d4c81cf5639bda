"""The synchronous methods of pika's ``BlockingChannel`` that only send a frame and return
its reply: exchanges, queues, bindings and transactions."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import pika.frame
import pika.spec
from pika import validators

from contrib.pika_compat._consumers import wire

if TYPE_CHECKING:
    from transports.memory import Channel

__all__ = ["ChannelMethods"]

T = TypeVar("T")


class ChannelMethods:
    """Mixed into :class:`~contrib.pika_compat.BlockingChannel`, which provides these."""

    if TYPE_CHECKING:
        _impl: Channel

        def _raise_if_not_open(self) -> None: ...

        def _sync(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

        def _frame(self, method: Any) -> pika.frame.Method[Any]: ...

    # -- exchanges ------------------------------------------------------------------

    def exchange_declare(self, exchange: str, exchange_type: Any = "direct",
                         passive: bool = False, durable: bool = False,
                         auto_delete: bool = False, internal: bool = False,
                         arguments: dict[str, Any] | None = None
                         ) -> pika.frame.Method[pika.spec.Exchange.DeclareOk]:
        validators.require_string(exchange, "exchange")
        self._raise_if_not_open()
        if hasattr(exchange_type, "value"):
            exchange_type = exchange_type.value
        m = wire(pika.spec.Exchange.Declare(
            exchange=exchange, type=exchange_type, passive=passive, durable=durable,
            auto_delete=auto_delete, internal=internal, arguments=arguments))
        self._sync(self._impl.exchange_declare, m.exchange, m.type, passive=m.passive,
                   durable=m.durable, auto_delete=m.auto_delete, internal=m.internal,
                   arguments=m.arguments)
        return self._frame(pika.spec.Exchange.DeclareOk())

    def exchange_delete(self, exchange: str | None = None, if_unused: bool = False
                        ) -> pika.frame.Method[pika.spec.Exchange.DeleteOk]:
        self._raise_if_not_open()
        m = wire(pika.spec.Exchange.Delete(exchange=exchange, if_unused=if_unused))
        self._sync(self._impl.exchange_delete, m.exchange, if_unused=m.if_unused)
        return self._frame(pika.spec.Exchange.DeleteOk())

    def exchange_bind(self, destination: str, source: str, routing_key: str = "",
                      arguments: dict[str, Any] | None = None
                      ) -> pika.frame.Method[pika.spec.Exchange.BindOk]:
        validators.require_string(destination, "destination")
        validators.require_string(source, "source")
        self._raise_if_not_open()
        m = wire(pika.spec.Exchange.Bind(destination=destination, source=source,
                                          routing_key=routing_key, arguments=arguments))
        self._sync(self._impl.exchange_bind, m.destination, m.source, m.routing_key,
                   m.arguments)
        return self._frame(pika.spec.Exchange.BindOk())

    def exchange_unbind(self, destination: str | None = None, source: str | None = None,
                        routing_key: str = "", arguments: dict[str, Any] | None = None
                        ) -> pika.frame.Method[pika.spec.Exchange.UnbindOk]:
        self._raise_if_not_open()
        m = wire(pika.spec.Exchange.Unbind(destination=destination, source=source,
                                            routing_key=routing_key, arguments=arguments))
        self._sync(self._impl.exchange_unbind, m.destination, m.source, m.routing_key,
                   m.arguments)
        return self._frame(pika.spec.Exchange.UnbindOk())

    # -- queues ---------------------------------------------------------------------

    def queue_declare(self, queue: str, passive: bool = False, durable: bool = False,
                      exclusive: bool = False, auto_delete: bool = False,
                      arguments: dict[str, Any] | None = None
                      ) -> pika.frame.Method[pika.spec.Queue.DeclareOk]:
        validators.require_string(queue, "queue")
        self._raise_if_not_open()
        m = wire(pika.spec.Queue.Declare(
            queue=queue, passive=passive, durable=durable, exclusive=exclusive,
            auto_delete=auto_delete, arguments=arguments))
        name, messages, consumers = self._sync(
            self._impl.queue_declare, m.queue, passive=m.passive, durable=m.durable,
            exclusive=m.exclusive, auto_delete=m.auto_delete, arguments=m.arguments)
        return self._frame(pika.spec.Queue.DeclareOk(
            queue=name, message_count=messages, consumer_count=consumers))

    def queue_delete(self, queue: str, if_unused: bool = False, if_empty: bool = False
                     ) -> pika.frame.Method[pika.spec.Queue.DeleteOk]:
        validators.require_string(queue, "queue")
        self._raise_if_not_open()
        m = wire(pika.spec.Queue.Delete(queue=queue, if_unused=if_unused, if_empty=if_empty))
        count = self._sync(self._impl.queue_delete, m.queue, if_unused=m.if_unused,
                           if_empty=m.if_empty)
        return self._frame(pika.spec.Queue.DeleteOk(message_count=count))

    def queue_purge(self, queue: str) -> pika.frame.Method[pika.spec.Queue.PurgeOk]:
        validators.require_string(queue, "queue")
        self._raise_if_not_open()
        m = wire(pika.spec.Queue.Purge(queue=queue))
        count = self._sync(self._impl.queue_purge, m.queue)
        return self._frame(pika.spec.Queue.PurgeOk(message_count=count))

    def queue_bind(self, queue: str, exchange: str, routing_key: str | None = None,
                   arguments: dict[str, Any] | None = None
                   ) -> pika.frame.Method[pika.spec.Queue.BindOk]:
        validators.require_string(queue, "queue")
        validators.require_string(exchange, "exchange")
        self._raise_if_not_open()
        if routing_key is None:
            routing_key = queue
        m = wire(pika.spec.Queue.Bind(queue=queue, exchange=exchange,
                                       routing_key=routing_key, arguments=arguments))
        self._sync(self._impl.queue_bind, m.queue, m.exchange, m.routing_key, m.arguments)
        return self._frame(pika.spec.Queue.BindOk())

    def queue_unbind(self, queue: str, exchange: str | None = None,
                     routing_key: str | None = None, arguments: dict[str, Any] | None = None
                     ) -> pika.frame.Method[pika.spec.Queue.UnbindOk]:
        validators.require_string(queue, "queue")
        self._raise_if_not_open()
        if routing_key is None:
            routing_key = queue
        m = wire(pika.spec.Queue.Unbind(queue=queue, exchange=exchange,
                                         routing_key=routing_key, arguments=arguments))
        self._sync(self._impl.queue_unbind, m.queue, m.exchange, m.routing_key, m.arguments)
        return self._frame(pika.spec.Queue.UnbindOk())

    # -- transactions ---------------------------------------------------------------

    def tx_select(self) -> pika.frame.Method[pika.spec.Tx.SelectOk]:
        self._sync(self._impl.tx_select)
        return self._frame(pika.spec.Tx.SelectOk())

    def tx_commit(self) -> pika.frame.Method[pika.spec.Tx.CommitOk]:
        self._sync(self._impl.tx_commit)
        return self._frame(pika.spec.Tx.CommitOk())

    def tx_rollback(self) -> pika.frame.Method[pika.spec.Tx.RollbackOk]:
        self._sync(self._impl.tx_rollback)
        return self._frame(pika.spec.Tx.RollbackOk())
