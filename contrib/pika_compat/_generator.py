"""pika's ``BlockingChannel.consume()`` generator, and what goes with it: the count of
messages it holds and ``cancel()``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any

from contrib.pika_compat._consumers import ConsumerInfo, GeneratorInfo, Message

if TYPE_CHECKING:
    from contrib.pika_compat._connection import BlockingConnection
    from transports.memory import Channel

__all__ = ["GeneratorMethods"]


class GeneratorMethods:
    """Mixed into :class:`~contrib.pika_compat.BlockingChannel`, which provides these."""

    if TYPE_CHECKING:
        _impl: Channel
        _number: int
        _connection: BlockingConnection
        _generator: GeneratorInfo | None
        _consumers: dict[str, ConsumerInfo]

        def _raise_if_not_open(self) -> None: ...

        def _consume(self, queue: str, auto_ack: bool, exclusive: bool,
                     consumer_tag: str | None, arguments: dict[str, Any] | None,
                     callback: Any) -> str: ...

        def _process_data_events(self, time_limit: float | None) -> None: ...

        def _basic_cancel(self, consumer_tag: str, generator_keeps: int = 0
                          ) -> Sequence[Message]: ...

        def _async(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> None: ...

    def consume(self, queue: str, auto_ack: bool = False, exclusive: bool = False,
                arguments: dict[str, Any] | None = None,
                inactivity_timeout: float | None = None, consumer_tag: str | None = None
                ) -> Generator[tuple[Any, Any, Any], None, None]:
        """Yield (method, properties, body) per message; (None, None, None) after
        ``inactivity_timeout`` seconds without one. Ends when the consumer is cancelled.

        As with pika (whose ``consume`` is a generator function), nothing is checked or
        sent to the broker until the first ``next()``: a failing basic.consume, or
        parameters that differ from those of this channel's running generator, raise
        there."""
        params = (queue, auto_ack, exclusive)
        return self._consume_generator(params, arguments, inactivity_timeout, consumer_tag)

    def _check_generator_params(self, params: tuple[str, bool, bool]) -> None:
        if self._generator is not None and params != self._generator.params:
            raise ValueError(
                "Consume with different params not allowed on existing queue consumer "
                f"generator; previous params: {self._generator.params!r}; new params: "
                f"{params!r}")

    def _consume_generator(self, params: tuple[str, bool, bool],
                           arguments: dict[str, Any] | None,
                           inactivity_timeout: float | None, consumer_tag: str | None
                           ) -> Generator[tuple[Any, Any, Any], None, None]:
        self._raise_if_not_open()
        self._check_generator_params(params)
        if self._generator is None:
            queue, auto_ack, exclusive = params
            if not consumer_tag:
                consumer_tag = f"ctag{self._number}.{uuid.uuid4().hex}"
            self._generator = GeneratorInfo(params, consumer_tag)
            try:
                self._consume(queue, auto_ack, exclusive, consumer_tag, arguments, None)
            except BaseException:
                self._generator = None
                raise
        yield from self._consume_loop(inactivity_timeout)

    def _consume_loop(self, inactivity_timeout: float | None
                      ) -> Generator[tuple[Any, Any, Any], None, None]:
        while self._generator is not None:
            generator = self._generator
            self._connection._pump()
            if generator.pending:
                message = generator.pending.popleft()
                if message is None:
                    # cancelled by the broker; like pika, the consumer stays listed in
                    # consumer_tags until basic_cancel(tag) or the channel closes
                    self._generator = None
                    break
                yield message
                continue
            if inactivity_timeout is None:
                self._process_data_events(None)
                continue
            deadline = time.monotonic() + inactivity_timeout
            wait = inactivity_timeout  # the first wait is as given: pika refuses a negative
            while self._generator is not None and not self._generator.pending:
                self._process_data_events(wait)
                wait = max(0.0, deadline - time.monotonic())
                if self._generator is None or self._generator.pending:
                    break
                if time.monotonic() >= deadline:
                    yield (None, None, None)
                    break

    def get_waiting_message_count(self) -> int:
        if self._generator is None:
            return 0
        self._connection._pump()
        return sum(1 for message in self._generator.pending if message is not None)

    def cancel(self) -> int:
        """Cancel the ``consume()`` consumer, requeueing what it has not yielded yet."""
        generator = self._generator
        if generator is None:
            return 0
        try:
            if generator.consumer_tag in self._consumers:
                self._basic_cancel(generator.consumer_tag)
            elif not generator.params[1]:  # its consumer is gone: reject what it holds
                for message in generator.pending:
                    if message is not None:
                        self._async(self._impl.basic_reject, message[0].delivery_tag,
                                    requeue=True)
        finally:
            self._generator = None
        return 0
