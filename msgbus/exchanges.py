"""``Exchange``: an AMQP exchange declared by subclassing.

::

    class EchoExchange(Exchange):
        name = "echo-exchange"
        exchange_type = "direct"
        durable = True

The class itself is the exchange: producers and consumers take the class (never an
instance) and declare it before use with :meth:`Exchange.declare`. ``parameters`` is the
dictionary of its declaration arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from msgbus.errors import ValidationError
from msgbus.transport import Transport
from msgbus.values import ExchangeType

__all__ = ["DefaultExchange", "Exchange"]


class Exchange:
    """Subclass and set the class attributes; the subclass is the exchange."""

    name: ClassVar[str] = ""
    exchange_type: ClassVar[ExchangeType | str] = ExchangeType.DIRECT
    passive: ClassVar[bool] = False
    durable: ClassVar[bool] = True
    auto_delete: ClassVar[bool] = False
    internal: ClassVar[bool] = False
    arguments: ClassVar[Mapping[str, Any] | None] = None

    #: The declaration arguments, computed for every subclass.
    parameters: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(cls.name, str):
            raise ValidationError(
                f"Exchange {cls.__qualname__}.name must be a string, got {cls.name!r}"
            )
        kind = cls.exchange_type
        if isinstance(kind, str) and not isinstance(kind, ExchangeType):
            try:
                kind = ExchangeType(kind.lower())
            except ValueError:
                if not kind.startswith("x-"):
                    known = ", ".join(t.value for t in ExchangeType)
                    raise ValidationError(
                        f"Exchange {cls.__qualname__}.exchange_type must be one of {known} "
                        f"(or a plugin type 'x-...'), got {kind!r}"
                    ) from None
        elif not isinstance(kind, ExchangeType):
            raise ValidationError(
                f"Exchange {cls.__qualname__}.exchange_type must be a string, got {kind!r}"
            )
        cls.exchange_type = kind
        cls.parameters = {
            "name": cls.name,
            "type": str(kind),
            "passive": cls.passive,
            "durable": cls.durable,
            "auto_delete": cls.auto_delete,
            "internal": cls.internal,
            "arguments": dict(cls.arguments) if cls.arguments else None,
        }

    def __init__(self) -> None:
        raise TypeError(
            f"{type(self).__qualname__} is an exchange class: use the class itself, "
            "do not instantiate it"
        )

    @classmethod
    def declare(cls, transport: Transport) -> None:
        """Declare the exchange on ``transport``.

        The default exchange (``""``) is never declared; the predeclared ``amq.*`` ones are
        checked passively (RabbitMQ refuses to redeclare them).
        """
        if cls.name == "":
            return
        transport.declare_exchange(
            cls.name,
            cls.exchange_type,
            passive=cls.passive or cls.name.startswith("amq."),
            durable=cls.durable,
            auto_delete=cls.auto_delete,
            internal=cls.internal,
            arguments=cls.arguments,
        )


class DefaultExchange(Exchange):
    """The nameless direct exchange: the routing key is the name of the queue."""

    name = ""
    exchange_type = ExchangeType.DIRECT
