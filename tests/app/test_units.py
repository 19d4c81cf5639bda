"""The application layer's pure parts: no transport involved."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from typing import Any

import pytest

import msgbus
from msgbus import (
    DecodeError,
    EncodeError,
    Exchange,
    ExchangeType,
    Fingerprint,
    Handler,
    InvalidMessage,
    JsonEncoder,
    Message,
    MessageCommand,
    MessageFilter,
    MessageHandler,
    MessageHandlerFullBody,
    MessageProcessor,
    MessageResult,
    MessageResultError,
    MessageResultException,
    MessageStatus,
    MsgpackEncoder,
    RpcCommand,
    RpcHandler,
    ValidationError,
)
from msgbus.codecs import decoder_for

PROMISED = [
    "Fingerprint", "JsonEncoder", "Message", "MessageCommand", "RpcCommand", "MessageStatus",
    "MessageResult", "MessageResultError", "MessageResultException", "Exchange",
    "GenericProducer", "GenericConsumer", "MessageProcessor", "Handler", "MessageHandler",
    "MessageHandlerFullBody", "RpcHandler", "MessageFilter", "GenericApplication",
]


def test_promised_names_are_exported() -> None:
    for name in PROMISED:
        assert name in msgbus.__all__
        assert getattr(msgbus, name).__name__ == name


def test_msgbus_imports_with_the_standard_library_only() -> None:
    code = (
        "import sys, msgbus; bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pika', 'transports', 'contrib', 'msgpack')); print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- fingerprint ---------------------------------------------------------------------------


def test_fingerprint_reads_the_process_when_created() -> None:
    fp = Fingerprint("billing", "worker")
    assert fp.as_dict() == {
        "name": "billing",
        "type": "worker",
        "pid": str(os.getpid()),
        "host": socket.gethostname(),
        "user": fp.user,
        "vhost": None,  # the vhost of the transport it is used with (filled there)
    }
    assert fp.as_tuple() == ("billing", "worker", str(os.getpid()), socket.gethostname(),
                             fp.user, None)
    assert fp.uid == f"{os.getpid()}@{socket.gethostname()}"
    assert Fingerprint.from_dict(fp.as_dict()) == fp


def test_fingerprint_values_are_strings() -> None:
    assert Fingerprint("a", pid=42).pid == "42"  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"Fingerprint.host expects a string, got list"):
        Fingerprint("a", host=["h"])  # type: ignore[arg-type]


# -- encoders ------------------------------------------------------------------------------


def test_json_encoder_round_trips_and_names_its_content_type() -> None:
    enc = JsonEncoder()
    assert enc.content_type == "application/json"
    data = {"a": [1, 2.5, "é", None, True]}
    assert enc.decode(enc.encode(data)) == data
    with pytest.raises(EncodeError, match="JsonEncoder cannot encode"):
        enc.encode({"a": object()})
    with pytest.raises(DecodeError, match=r"expects a UTF-8 JSON document, got b'\\x80"):
        enc.decode(b"\x80\x81")


def test_json_encoder_writes_what_json_dumps_writes() -> None:
    enc = JsonEncoder()
    body = MessageCommand("echo", {"text": "é\u2028\"", "n": [1, 2.5, None, True, -0.0]}).body
    assert enc.encode(body) == json.dumps(
        body, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def test_json_encoder_refuses_circular_values_and_bad_keys() -> None:
    enc = JsonEncoder()
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(EncodeError, match="circular or nested too deeply"):
        enc.encode(loop)
    with pytest.raises(EncodeError, match="keys must be str, int, float, bool or None"):
        enc.encode({(1, 2): "tuple key"})
    assert enc.encode({"after": "errors"}) == b'{"after":"errors"}'  # nothing left dirty


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"a":1}', {"a": 1}),
        (b' {"a": 1}\n', {"a": 1}),
        (b"[1, 2]", [1, 2]),
        (b'"text"', "text"),
    ],
)
def test_json_decoder_takes_any_document(data: bytes, expected: Any) -> None:
    assert JsonEncoder().decode(data) == expected


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", r"got b'' \(0 bytes\): Expecting value"),
        (b'{"a":1} {}', r"Extra data: line 1 column 9"),
        (b'{"a":', r"Expecting value: line 1 column 6"),
        (b"{'a': 1}", r"Expecting property name enclosed in double quotes"),
    ],
)
def test_json_decoder_says_what_is_wrong(data: bytes, error: str) -> None:
    with pytest.raises(DecodeError, match=error):
        JsonEncoder().decode(data)


def test_msgpack_encoder_is_chosen_by_content_type_on_receipt() -> None:
    enc = MsgpackEncoder()
    data = {"a": [1, "b"], "c": {"d": None}}
    packed = enc.encode(data)
    assert decoder_for("application/msgpack").decode(packed) == data
    assert decoder_for("application/json; charset=utf-8").decode(b'{"x":1}') == {"x": 1}
    assert isinstance(decoder_for(None), JsonEncoder)
    with pytest.raises(DecodeError, match=r"no decoder for content type 'application/x-pickle'"):
        decoder_for("application/x-pickle")


# -- messages ------------------------------------------------------------------------------


def test_message_wire_form() -> None:
    m = MessageCommand("echo", {"text": "hi"})
    m.set_fingerprint(Fingerprint("sender", "app", pid="1", host="h", user="u", vhost="/"))
    assert m.body == {
        "type": "command",
        "name": "echo",
        "category": "message",
        "version": "2",
        "fingerprint": {"name": "sender", "type": "app", "pid": "1", "host": "h",
                        "user": "u", "vhost": "/"},
        "content": {"parameters": {"text": "hi"}},
        "_reserved": {},
    }
    assert json.loads(JsonEncoder().encode(m.body)) == m.body
    assert RpcCommand("add", [1, 2]).category == "rpc"
    assert MessageStatus("online").body["name"] == "online"
    assert MessageStatus("online").status == "online"


def test_results_and_their_truth() -> None:
    ok = MessageResult(5, "fine")
    err = MessageResultError("no such user")
    exc = MessageResultException("KeyError", "'x'")
    assert ok and not err and not exc
    assert ok.content == {"type": "success", "value": 5, "message": "fine"}
    assert err.content == {"type": "error", "value": None, "message": "no such user"}
    assert exc.content == {"type": "exception", "value": "KeyError", "message": "'x'"}
    assert exc.exception_name == "KeyError"
    assert MessageResultException.from_exception(ValueError("bad")).content["value"] == "ValueError"


@pytest.mark.parametrize(
    "message",
    [
        MessageCommand("c", {"p": 1}),
        RpcCommand("r", {"p": 1}),
        MessageStatus("online"),
        MessageResult([1, 2]),
        MessageResultError("e"),
        MessageResultException("E", "m"),
        Message("custom", "thing", {"x": 1}),
    ],
)
def test_from_dict_rebuilds_the_class(message: Message) -> None:
    again = Message.from_dict(JsonEncoder().decode(JsonEncoder().encode(message.body)))
    assert type(again) is type(message)
    assert again == message
    assert bool(again) == bool(message)


def test_from_wire_keeps_a_complete_body_and_copies_any_other() -> None:
    body = JsonEncoder().decode(JsonEncoder().encode(MessageResult(3).body))
    adopted = Message.from_wire(body)
    assert type(adopted) is MessageResult and adopted.value == 3
    assert adopted.body is body
    partial = {"type": "result", "name": "result", "category": "message",
               "content": {"type": "error", "value": None, "message": "m"}}
    rebuilt = Message.from_wire(partial)
    assert type(rebuilt) is MessageResultError and rebuilt.body is not partial
    assert rebuilt.body["version"] == "2" and rebuilt.body["_reserved"] == {}
    odd = {**MessageResult(1).body, "content": {"type": ["not", "hashable"]}}
    assert type(Message.from_wire(odd)) is Message
    with pytest.raises(InvalidMessage, match="'category' must be 'message' or 'rpc'"):
        Message.from_wire({**MessageResult(1).body, "category": "other"})


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([1, 2], r"a message must be a JSON object/mapping, got list \[1, 2\]"),
        ({"type": "command", "name": "x"}, r"a message needs the key 'category'"),
        ({"type": 1, "name": "x", "category": "message"}, r"'type' must be a string, got int 1"),
        ({"type": "c", "name": "x", "category": "other"},
         r"'category' must be 'message' or 'rpc', got 'other'"),
        ({"type": "c", "name": "x", "category": "rpc", "content": [1]},
         r"'content' must be an object/mapping, got list"),
    ],
)
def test_not_a_message(body: Any, error: str) -> None:
    with pytest.raises(InvalidMessage, match=error):
        Message.from_dict(body)


# -- exchanges -----------------------------------------------------------------------------


def test_exchange_by_subclassing() -> None:
    class Logs(Exchange):
        name = "logs"
        exchange_type = "topic"
        durable = False

    assert Logs.exchange_type is ExchangeType.TOPIC
    assert Logs.parameters == {
        "name": "logs", "type": "topic", "passive": False, "durable": False,
        "auto_delete": False, "internal": False, "arguments": None,
    }
    with pytest.raises(TypeError, match="use the class itself"):
        Logs()
    with pytest.raises(ValidationError, match=r"exchange_type must be one of direct, fanout"):
        type("Bad", (Exchange,), {"name": "b", "exchange_type": "round-robin"})


# -- producer building ---------------------------------------------------------------------


class _X(Exchange):
    name = "units-x"


class _Y(Exchange):
    name = "units-y"
    exchange_type = "fanout"


def _producer_class() -> type[msgbus.GenericProducer]:
    class P(msgbus.GenericProducer):
        eks = [(_X, "k1"), (_Y, "")]

        def build_message_online(self) -> Message:
            return MessageStatus("online")

        def build_rpc_add(self, a: int, b: int) -> Message:
            return RpcCommand("add", {"a": a, "b": b})

        def build_message_bad(self) -> Any:
            return {"not": "a message"}

    return P


def test_producer_builds_messages_without_a_transport() -> None:
    P = _producer_class()
    p = P.__new__(P)  # building needs no transport
    p.fingerprint = Fingerprint("p", pid="1", host="h", user="u").as_dict()
    online = p.build("message", "online")
    assert isinstance(online, MessageStatus) and online.fingerprint["name"] == "p"
    echo = p.build("message", "echo", "hi", name="bob", kind="x")
    assert isinstance(echo, MessageCommand)
    assert echo.content == {"parameters": {"args": ["hi"], "kwargs": {"name": "bob", "kind": "x"}}}
    assert p.build("rpc", "add", 2, 3).content == {"parameters": {"a": 2, "b": 3}}
    assert isinstance(p.build("rpc", "other"), RpcCommand)
    with pytest.raises(ValidationError, match=r"build_message_bad must return a Message, got dict"):
        p.build("message", "bad")
    assert p.resolve_eks() == [(_X, "k1"), (_Y, "")]
    assert p.resolve_eks(_key="k2") == [(_X, "k2")]
    assert p.resolve_eks(_key="ignored", _eks=[(_Y, "z")]) == [(_Y, "z")]
    with pytest.raises(AttributeError, match=r"has no attribute 'send_echo'"):
        p.send_echo()


# -- handler collection --------------------------------------------------------------------


def _upper(content: dict[str, Any]) -> dict[str, Any]:
    return {**content, "text": content["text"].upper()}


def test_handlers_are_collected_with_inheritance() -> None:
    class Base(MessageProcessor):
        @MessageHandler("command", "a")
        def on_a(self, content: Any) -> None: ...

        @RpcHandler("command", "r")
        def on_r(self, content: Any, reply: Any) -> None: ...

    class Child(Base):
        @MessageFilter(_upper)
        @MessageHandlerFullBody("command", "a")
        def on_a_full(self, body: Any) -> None: ...

        @RpcHandler("command", "r")
        def on_r2(self, content: Any, reply: Any) -> None: ...

        @MessageHandler("status")
        class AnyStatus(Handler):
            def call(self) -> None: ...

    a = Child.handlers_for("message", "command", "a")
    assert [e.attribute for e in a] == ["on_a", "on_a_full"]
    assert a[1].spec.full_body and len(a[1].filters) == 1
    assert [e.attribute for e in Child.handlers_for("rpc", "command", "r")] == ["on_r", "on_r2"]
    assert [e.attribute for e in Child.handlers_for("message", "status", "x")] == ["AnyStatus"]
    assert [e.attribute for e in Child.handlers_for("message", "command", "quit")] == ["msg_quit"]
    assert Base.handlers_for("message", "status", "x") == ()

    with pytest.raises(ValidationError, match="decorates a function or a Handler subclass"):
        MessageHandler("command", "x")(int)


def test_fingerprint_is_read_when_created_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "elsewhere")
    assert Fingerprint("late").host == "elsewhere"
