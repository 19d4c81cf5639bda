"""``MessageProcessor``: consumes messages and hands them to its handlers.

Handlers are the methods (or :class:`~msgbus.handlers.Handler` classes) decorated with
:class:`~msgbus.handlers.MessageHandler`, :class:`~msgbus.handlers.MessageHandlerFullBody`
or :class:`~msgbus.handlers.RpcHandler`.

Remote control is off by default: a processor made with ``remote_control=True`` (or whose
class sets ``remote_control = True``) also obeys ``command quit`` (stop) and ``command
restart`` (stop, then :meth:`MessageProcessor.restart`, which re-executes the program —
override it to do something else). Without it those two commands are messages no handler
takes, like any other: anyone who can publish to the processor's queues could otherwise
stop or re-execute it.

Running: :meth:`~MessageProcessor.run` blocks until ``quit`` or :meth:`stop`;
:meth:`start` runs it in a thread; :meth:`process_events` handles what has arrived and
returns, so a test drives a processor step by step on the thread it likes.

Failure policy, per message:

- a body that cannot be decoded, or is not a message, is logged and rejected
  (``requeue=False``: to the queue's dead-letter exchange if it has one);
- an exception in a handler is logged with its traceback and the message is rejected
  without requeue once all its handlers ran; in an RPC handler it is also answered with
  ``MessageResultException(name, text)``;
- a filter that raises skips its handler; an RPC that no handler takes is answered with
  ``MessageResultError``; a reply that cannot be encoded is logged and answered with
  ``MessageResultException("EncodeError", ...)``;
- a message that no handler takes is logged at WARNING and rejected without requeue (to
  the dead-letter exchange if the queue has one), unless the processor was made with
  ``unknown_messages="ignore"``: then it is acknowledged and dropped with a DEBUG line;
- a message is acknowledged only after its handlers ran; messages delivered after a
  ``quit`` are requeued untouched.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from msgbus.codecs import DecodeError, EncodeError, Encoder
from msgbus.consumer import EQK, GenericConsumer, QueueSpec
from msgbus.errors import ValidationError
from msgbus.exchanges import Exchange
from msgbus.fingerprint import Fingerprint, fingerprint_dict
from msgbus.handlers import (
    FilterSpec,
    Handler,
    HandlerSpec,
    MessageHandler,
    ReplyFunction,
    filter_specs,
    handler_specs,
)
from msgbus.messages import InvalidMessage, Message, MessageResultError, MessageResultException
from msgbus.transport import Transport
from msgbus.values import Delivery

__all__ = ["HandlerEntry", "MessageProcessor"]

log = logging.getLogger("msgbus.processor")

HandlerKey = tuple[str, str, str]
UnknownMessages = Literal["reject", "ignore"]
_UNKNOWN_POLICIES = ("reject", "ignore")


@dataclass(frozen=True, slots=True)
class HandlerEntry:
    """One registered handler: its attribute name, the function or class, what it takes."""

    attribute: str
    target: Any
    spec: HandlerSpec
    filters: tuple[FilterSpec, ...]
    #: True for a :class:`~msgbus.handlers.Handler` class, False for a function.
    is_class: bool = False

    @property
    def label(self) -> str:
        return getattr(self.target, "__qualname__", self.attribute)


class MessageProcessor:
    """Consumes the queues of ``eqk`` and dispatches each message to its handlers."""

    consumer_class: ClassVar[type[GenericConsumer]] = GenericConsumer
    eqk: ClassVar[EQK] = ()
    #: Real seconds ``run()`` waits for events per turn (it checks ``stop()`` in between).
    poll_interval: ClassVar[float] = 0.1
    #: Whether ``command quit`` and ``command restart`` are obeyed (the constructor's
    #: ``remote_control`` overrides it).
    remote_control: bool = False
    #: What to do with a message no handler takes: ``"reject"`` (WARNING, rejected without
    #: requeue: dead-lettered where the queue has a DLX) or ``"ignore"`` (DEBUG, acked).
    unknown_messages: UnknownMessages = "reject"
    _handler_entries: ClassVar[tuple[HandlerEntry, ...]] = ()
    _handler_cache: ClassVar[dict[HandlerKey, tuple[HandlerEntry, ...]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._collect_handlers()

    @classmethod
    def _collect_handlers(cls) -> None:
        attributes: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            attributes.update(vars(klass))
        entries = [
            HandlerEntry(
                attr,
                target,
                spec,
                filter_specs(target),
                isinstance(target, type) and issubclass(target, Handler),
            )
            for attr, target in attributes.items()
            for spec in handler_specs(target)
        ]
        cls._handler_entries = tuple(entries)
        cls._handler_cache = {}

    @classmethod
    def handlers_for(cls, category: str, type: str, name: str) -> tuple[HandlerEntry, ...]:
        """The handlers of a message, in definition order."""
        found = cls._handler_cache.get((category, type, name))
        if found is None:
            found = tuple(e for e in cls._handler_entries if e.spec.matches(category, type, name))
            if len(cls._handler_cache) < 10_000:  # bounded: names come from the network
                cls._handler_cache[(category, type, name)] = found
        return found

    def __init__(
        self,
        fingerprint: Fingerprint | Mapping[str, Any] | None = None,
        eqk: EQK | None = None,
        *,
        transport: Transport | None = None,
        consumer: GenericConsumer | None = None,
        encoder: Encoder | None = None,
        prefetch: int | None = None,
        remote_control: bool | None = None,
        unknown_messages: UnknownMessages | None = None,
    ) -> None:
        if remote_control is not None:
            if not isinstance(remote_control, bool):
                raise ValidationError(
                    f"remote_control must be True or False, got {_short(remote_control)}")
            self.remote_control = remote_control
        if unknown_messages is not None:
            self.unknown_messages = unknown_messages
        if self.unknown_messages not in _UNKNOWN_POLICIES:
            raise ValidationError(
                f"unknown_messages must be 'reject' or 'ignore', got "
                f"{_short(self.unknown_messages)}")
        self.consumer: GenericConsumer = (
            consumer
            if consumer is not None
            else self.consumer_class(
                eqk if eqk is not None else self.eqk,
                transport=transport,
                encoder=encoder,
                prefetch=prefetch,
            )
        )
        self.fingerprint: dict[str, Any] = fingerprint_dict(
            fingerprint, self.consumer.transport.vhost)
        #: Deliveries handled so far (decoded or not, acked or rejected).
        self.handled = 0
        #: The error that ended the thread of ``start()``, if one did.
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._restart_requested = False
        self._thread: threading.Thread | None = None

    # -- bindings ----------------------------------------------------------------------

    @property
    def transport(self) -> Transport:
        return self.consumer.transport

    def add_eqk(self, eqk: EQK) -> None:
        self.consumer.add_eqk(eqk)

    def queue_bind(
        self, exchange: type[Exchange], queue: QueueSpec, key: str, **flags: Any
    ) -> str:
        return self.consumer.queue_bind(exchange, queue, key, **flags)

    def queue_unbind(self, exchange: type[Exchange], queue: QueueSpec, key: str) -> None:
        self.consumer.queue_unbind(exchange, queue, key)

    # -- built-in handlers -------------------------------------------------------------

    @MessageHandler("command", "quit")
    def msg_quit(self, content: Any) -> None:
        """``command quit``: stop running once this message is acknowledged (obeyed only
        with ``remote_control``)."""
        log.info("%s: quit requested", type(self).__name__)
        self._stop.set()

    @MessageHandler("command", "restart")
    def msg_restart(self, content: Any) -> None:
        """``command restart``: stop, then call :meth:`restart` (obeyed only with
        ``remote_control``)."""
        log.info("%s: restart requested", type(self).__name__)
        self._restart_requested = True
        self._stop.set()

    def restart(self) -> None:
        """Replace the process with a new run of the same program (``os.execv``)."""
        log.warning("%s: restarting %s %s", type(self).__name__, sys.executable, sys.argv)
        self.consumer.stop_consuming()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, *sys.argv])

    # -- running -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """False once ``quit``, ``restart`` or ``stop()`` was asked."""
        return not self._stop.is_set()

    def start_consuming(self) -> None:
        if not self.consumer.consuming:
            self.consumer.start_consuming(self._on_delivery)

    def stop_consuming(self) -> None:
        self.consumer.stop_consuming()

    def process_events(self, timeout: float | None = 0.0) -> int:
        """Handle what has arrived (waiting up to ``timeout``); return how many messages."""
        self.start_consuming()
        before = self.handled
        self.consumer.process_events(timeout)
        if self._restart_requested:
            self._restart_requested = False
            self.restart()
        return self.handled - before

    def run(self) -> None:
        """Consume and dispatch until ``command quit`` or :meth:`stop`."""
        self._stop.clear()
        self._loop()

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self.process_events(self.poll_interval)
        finally:
            if self.transport.is_open:
                self.consumer.stop_consuming()

    def start(self) -> MessageProcessor:
        """Run in a daemon thread; :meth:`stop` ends it."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError(f"{type(self).__name__} is already running in a thread")
        self._stop.clear()
        self.error = None
        self._thread = threading.Thread(
            target=self._thread_main, name=f"msgbus-{type(self).__name__}", daemon=True
        )
        self._thread.start()
        return self

    def _thread_main(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # reported by stop(), not lost in the thread
            log.exception("%s stopped by an error", type(self).__name__)
            self.error = exc

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread of :meth:`start` to end (after ``quit``); True if it did."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return not self.running

    def stop(self, timeout: float | None = 10.0) -> None:
        """Ask the processor to stop; wait for its thread (if ``start()``-ed) to end.

        Re-raises the error that ended the thread, if one did.
        """
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(
                    f"{type(self).__name__} thread did not stop within {timeout}s"
                )
            self._thread = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def close(self) -> None:
        """Stop and release the consumer (and its transport, if the processor opened it)."""
        self.stop()
        self.consumer.close()

    def __enter__(self) -> MessageProcessor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- dispatch ----------------------------------------------------------------------

    def _on_delivery(self, delivery: Delivery) -> None:
        self.handled += 1
        consumer = self.consumer
        if self._stop.is_set():
            consumer.reject(delivery, requeue=True)  # not ours any more
            return
        try:
            body = Message.validate(consumer.decode(delivery))
        except (DecodeError, InvalidMessage) as exc:
            log.error(
                "%s: rejecting a message from exchange %r with routing key %r: %s",
                type(self).__name__,
                delivery.exchange,
                delivery.routing_key,
                exc,
            )
            self.consumer.reject(delivery, requeue=False)
            return
        if body["category"] == "rpc":
            ok = self._dispatch_rpc(delivery, body)
        else:
            ok = self._dispatch_message(body, delivery)
        if ok:
            consumer.transport.ack(delivery.delivery_tag)
        else:
            consumer.reject(delivery, requeue=False)

    def _dispatch_message(self, body: dict[str, Any], delivery: Delivery) -> bool:
        entries = self.handlers_for("message", body["type"], body["name"])
        if entries and not self.remote_control and body["name"] in _REMOTE_COMMANDS:
            entries = tuple(e for e in entries if e.target not in _REMOTE_HANDLERS)
        if not entries:
            return self._unknown(body, delivery)
        ok = True
        shared = len(entries) > 1  # then each handler gets its own copy
        for entry in entries:
            try:
                data = body if entry.spec.full_body else body.get("content", {})
                if shared:
                    data = copy.deepcopy(data)
                if entry.filters:
                    filtered, data = self._filter(entry, data, body)
                    if not filtered:
                        continue
                if entry.is_class:
                    entry.target(self, data, None).call()
                else:
                    entry.target(self, data)
            except Exception:
                log.exception(
                    "%s: handler %s failed on %s %r; the message will be rejected",
                    type(self).__name__,
                    entry.label,
                    body["type"],
                    body["name"],
                )
                ok = False
        return ok

    def _unknown(self, body: dict[str, Any], delivery: Delivery) -> bool:
        """A message no handler takes: False (reject it) unless told to ignore such."""
        name = type(self).__name__
        if self.unknown_messages == "ignore":
            log.debug("%s: no handler for %s %r; ignored", name, body["type"], body["name"])
            return True
        if body["name"] in _REMOTE_COMMANDS and self.handlers_for(
                "message", body["type"], body["name"]):
            why = "remote control is off (remote_control=True turns it on)"
        else:
            why = "no handler takes it"
        log.warning(  # type and name come from the network: shortened
            "%s: rejecting %s %s from exchange %r with routing key %r: %s "
            "(unknown_messages='ignore' acknowledges and drops such messages instead)",
            name, _short(body["type"]), _short(body["name"]), delivery.exchange,
            delivery.routing_key, why,
        )
        return False

    def _dispatch_rpc(self, delivery: Delivery, body: dict[str, Any]) -> bool:
        replied = False

        def reply(value: Any) -> None:
            nonlocal replied
            if replied:
                log.warning("RPC %r answered twice; the second reply is dropped", body["name"])
                return
            replied = True
            try:
                self.consumer.rpc_reply(delivery, value)
            except EncodeError as exc:  # the caller gets why instead of timing out
                log.error("%s: cannot send the reply to RPC %r: %s",
                          type(self).__name__, body["name"], exc)
                self.consumer.rpc_reply(delivery, MessageResultException.from_exception(exc))

        entries = self.handlers_for("rpc", body["type"], body["name"])
        if not entries:
            reply(
                MessageResultError(
                    f"{type(self).__name__} has no RPC handler for {body['type']} {body['name']!r}"
                )
            )
            return True
        entry = entries[-1]
        try:
            data = body if entry.spec.full_body else body.get("content", {})
            if entry.filters:
                filtered, data = self._filter(entry, data, body)
                if not filtered:
                    reply(MessageResultError(
                        f"RPC {body['name']!r} refused by a filter of {entry.label}"))
                    return True
            returned = self._call(entry, data, reply)
        except Exception as exc:
            log.exception(
                "%s: RPC handler %s failed on %r; answering with the exception",
                type(self).__name__,
                entry.label,
                body["name"],
            )
            if not replied:
                reply(MessageResultException.from_exception(exc))
            return False
        if not replied:
            if returned is not None:
                reply(returned)
            else:
                log.warning(
                    "%s: RPC handler %s returned without replying to %r; the caller will "
                    "time out",
                    type(self).__name__,
                    entry.label,
                    body["name"],
                )
        return True

    def _filter(
        self, entry: HandlerEntry, data: Any, body: Mapping[str, Any]
    ) -> tuple[bool, Any]:
        if not entry.filters:
            return True, data
        data = copy.deepcopy(data)
        for spec in entry.filters:
            try:
                data = spec.apply(data)
            except Exception as exc:
                log.info(
                    "%s: filter %s skipped handler %s for %s %r: %r",
                    type(self).__name__,
                    getattr(spec.function, "__qualname__", spec.function),
                    entry.label,
                    body["type"],
                    body["name"],
                    exc,
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )
                return False, None
        return True, data

    def _call(self, entry: HandlerEntry, data: Any, reply: ReplyFunction | None) -> Any:
        target = entry.target
        if entry.is_class:
            return target(self, data, reply).call()
        function: Callable[..., Any] = target
        if entry.spec.category == "rpc":
            return function(self, data, reply)
        return function(self, data)


MessageProcessor._collect_handlers()
_REMOTE_COMMANDS = frozenset({"quit", "restart"})
_REMOTE_HANDLERS = (MessageProcessor.msg_quit, MessageProcessor.msg_restart)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
