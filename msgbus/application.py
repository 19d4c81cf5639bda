"""``GenericApplication``: a processor addressable by name, host, process and group.

An application named ``N`` running as process ``P`` on host ``H`` consumes three queues,
bound to :class:`GenericApplicationExchange` (a direct exchange):

====================  ==================  ==========================================
routing key           queue               reaches
====================  ==================  ==========================================
``N``                 uid ``P@H``         every instance named N (fanout)
``N/rr``              sid ``N``           one instance named N (round robin)
``@H``                uid ``P@H``         every instance on host H
``N@H``               uid ``P@H``         every instance named N on host H
``N@H/rr``            hid ``N@H``         one instance named N on host H
``P@H``               uid ``P@H``         this instance only
``N#G``               uid ``P@H``         every instance named N in group G
``N#G/rr``            ``N#G``             one instance named N in group G
====================  ==================  ==========================================

Queues are ``auto_delete``: they go away with the last instance using them. Groups are
joined and left at run time (:meth:`~GenericApplication.join_group`, or the ``join_group``
/ ``leave_group`` commands with ``{"group_name": G}``), round robin included: leaving a
group cancels this instance's consumer on the shared group queue instead of unbinding it,
so the other members keep receiving. ``rpc ping`` answers with the fingerprint.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from msgbus.codecs import Encoder
from msgbus.errors import ValidationError
from msgbus.exchanges import Exchange
from msgbus.fingerprint import Fingerprint
from msgbus.handlers import MessageHandler, ReplyFunction, RpcHandler
from msgbus.messages import MessageCommand, MessageResult, RpcCommand
from msgbus.processor import MessageProcessor, UnknownMessages
from msgbus.producer import GenericProducer
from msgbus.transport import Transport

__all__ = [
    "GenericApplication",
    "GenericApplicationExchange",
    "GenericApplicationProducer",
]

log = logging.getLogger("msgbus.application")


class GenericApplicationExchange(Exchange):
    """The exchange every :class:`GenericApplication` binds its queues to."""

    name = "msgbus.application"
    exchange_type = "direct"
    durable = True


class GenericApplicationProducer(GenericProducer):
    """Talks to applications: pass the address as ``_key`` (``"N/rr"``, ``"P@H"``, ...)."""

    eks = [(GenericApplicationExchange, "")]

    def build_message_join_group(self, group_name: str) -> MessageCommand:
        return MessageCommand("join_group", {"group_name": group_name})

    def build_message_leave_group(self, group_name: str) -> MessageCommand:
        return MessageCommand("leave_group", {"group_name": group_name})

    def build_rpc_ping(self) -> RpcCommand:
        return RpcCommand("ping", {})


class GenericApplication(MessageProcessor):
    """A :class:`MessageProcessor` with the queues and keys of the module docstring."""

    exchange_class: ClassVar[type[Exchange]] = GenericApplicationExchange
    queue_flags: ClassVar[Mapping[str, Any]] = {"auto_delete": True}

    def __init__(
        self,
        fingerprint: Fingerprint | Mapping[str, Any] | str,
        groups: Iterable[str] = (),
        *,
        transport: Transport | None = None,
        encoder: Encoder | None = None,
        prefetch: int | None = None,
        remote_control: bool | None = None,
        unknown_messages: UnknownMessages | None = None,
    ) -> None:
        if isinstance(fingerprint, str):
            fingerprint = Fingerprint(fingerprint, "application")
        super().__init__(
            fingerprint, (), transport=transport, encoder=encoder, prefetch=prefetch,
            remote_control=remote_control, unknown_messages=unknown_messages,
        )
        name = self.fingerprint["name"]
        if not name or not isinstance(name, str):
            raise ValidationError(
                f"GenericApplication needs a fingerprint with a name (a non-empty str), got "
                f"{name!r}")
        self.name: str = str(name)
        self.pid: str = str(self.fingerprint["pid"])
        self.host: str = str(self.fingerprint["host"])
        #: The system-wide queue, shared by every instance with this name.
        self.sid = f"{self.name}"
        #: The host-wide queue, shared by the instances with this name on this host.
        self.hid = f"{self.name}@{self.host}"
        #: This instance's own queue.
        self.uid = f"{self.pid}@{self.host}"
        self.groups: list[str] = []
        x = self.exchange_class
        for queue, key in (
            (self.sid, f"{self.name}/rr"),
            (self.uid, f"{self.name}"),
            (self.uid, f"@{self.host}"),
            (self.hid, f"{self.name}@{self.host}/rr"),
            (self.uid, f"{self.name}@{self.host}"),
            (self.uid, f"{self.pid}@{self.host}"),
        ):
            self.queue_bind(x, self._queue(queue), key)
        if isinstance(groups, (str, bytes)) or not isinstance(groups, Iterable):
            raise ValidationError(
                f"groups must be an iterable of group names (str), got "
                f"{type(groups).__name__}: {groups!r:.60}")
        for group in groups:
            self.join_group(group)

    def _queue(self, name: str) -> dict[str, Any]:
        return {"name": name, "flags": dict(self.queue_flags)}

    @staticmethod
    def group_queue(name: str, group: str) -> str:
        return f"{name}#{group}"

    # -- groups ------------------------------------------------------------------------

    def join_group(self, group: str) -> None:
        """Receive ``N#group`` (fanout) and ``N#group/rr`` (round robin)."""
        if not isinstance(group, str) or not group:
            raise ValidationError(f"a group name must be a non-empty str, got {group!r:.60}")
        if group in self.groups:
            return
        fanout = f"{self.name}#{group}"
        self.queue_bind(self.exchange_class, self.uid, fanout)
        self.queue_bind(
            self.exchange_class, self._queue(self.group_queue(self.name, group)), f"{fanout}/rr"
        )
        self.groups.append(group)
        log.info("%s joined group %s", self.uid, group)

    def leave_group(self, group: str) -> None:
        """Stop receiving the group's messages; the other members keep theirs."""
        if group not in self.groups:
            return
        fanout = f"{self.name}#{group}"
        self.queue_unbind(self.exchange_class, self.uid, fanout)
        # The round-robin queue is shared: stop consuming it, leave its binding alone.
        self.consumer.forget_queue(self.group_queue(self.name, group))
        self.groups.remove(group)
        log.info("%s left group %s", self.uid, group)

    # -- handlers ----------------------------------------------------------------------

    @MessageHandler("command", "join_group")
    def msg_join_group(self, content: Any) -> None:
        self.join_group(_group_name(content))

    @MessageHandler("command", "leave_group")
    def msg_leave_group(self, content: Any) -> None:
        self.leave_group(_group_name(content))

    @RpcHandler("command", "ping")
    def msg_ping(self, content: Any, reply: ReplyFunction) -> None:
        reply(MessageResult(self.fingerprint))


def _group_name(content: Any) -> str:
    """The group of a join/leave command: ``{"group_name": G}`` (or ``kwargs``/``args``)."""
    parameters = content.get("parameters") if isinstance(content, Mapping) else None
    if isinstance(parameters, Mapping):
        if isinstance(parameters.get("group_name"), str):
            return str(parameters["group_name"])
        kwargs = parameters.get("kwargs")
        if isinstance(kwargs, Mapping) and isinstance(kwargs.get("group_name"), str):
            return str(kwargs["group_name"])
        args = parameters.get("args")
        if isinstance(args, list) and args and isinstance(args[0], str):
            return args[0]
    raise ValidationError(f"expected parameters {{'group_name': str}}, got {content!r:.80}")
