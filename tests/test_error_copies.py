"""Every msgbus error survives ``pickle`` and ``copy``: errors cross process boundaries
(worker pools, test runners) and get copied by frameworks. Checked for every subclass of
``MsgbusError`` the project defines, found by walking the class tree."""

from __future__ import annotations

import contextlib
import copy
import importlib
import inspect
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from msgbus import errors
from msgbus.values import Publication

# the modules that define errors of their own, imported so that the walk finds them
for _module in ("msgbus", "msgbus.codecs", "msgbus.messages", "transports.memory",
                "transports.rabbitmq", "contrib.management.errors"):
    with contextlib.suppress(ImportError):  # an optional extra that is not installed
        importlib.import_module(_module)


def _all_errors(cls: type[errors.MsgbusError] = errors.MsgbusError
                ) -> Iterator[type[errors.MsgbusError]]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _all_errors(sub)


def _nacked() -> errors.PublishNacked:
    return errors.PublishNacked("orders", "new")


#: How to build the errors whose constructor takes more than a message, by class name
#: (some live in optional extras).
SAMPLES: dict[str, Callable[[Any], errors.MsgbusError]] = {
    "Unroutable": lambda cls: cls("orders", "new", 312, "NO_ROUTE"),
    "PublishNacked": lambda cls: cls("orders", "new"),
    "PublishBatchFailed": lambda cls: cls(
        [(1, Publication("orders", "new", b"body"), _nacked())], 3),
    "ApiError": lambda cls: cls(404, "Object Not Found", "Not Found", headers={"a": "b"}),
}

ERRORS = sorted(set(_all_errors()), key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _sample(cls: type[errors.MsgbusError]) -> errors.MsgbusError:
    if cls.__qualname__ in SAMPLES:
        return SAMPLES[cls.__qualname__](cls)
    if issubclass(cls, errors.AMQPError):
        return cls("SOMETHING - went wrong", 599)
    try:
        signature = inspect.signature(cls)
    except ValueError:  # the builtin Exception.__init__: takes a message
        signature = None
    if signature is not None:
        required = [p for p in signature.parameters.values()
                    if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        assert len(required) <= 1, f"add a sample of {cls.__qualname__} to SAMPLES"
    return cls("something went wrong")


def _state(error: BaseException) -> tuple[Any, ...]:
    """What must survive: class, text, args and attributes (nested errors by their text)."""
    attributes = {k: repr(v) if isinstance(v, (BaseException, list)) else v
                  for k, v in vars(error).items()}
    return type(error), str(error), error.args, attributes


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__qualname__)
@pytest.mark.parametrize("how", ["pickle", "copy", "deepcopy"])
def test_every_error_survives_pickle_and_copy(cls: type[errors.MsgbusError], how: str) -> None:
    error = _sample(cls)
    if how == "pickle":
        again = pickle.loads(pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301
    else:
        again = getattr(copy, how)(error)
    assert _state(again) == _state(error)
    assert isinstance(again, errors.MsgbusError)


def test_the_walk_finds_the_errors_of_every_layer() -> None:
    names = {cls.__qualname__ for cls in ERRORS}
    assert {"Unroutable", "PublishNacked", "PublishBatchFailed", "NotFound",
            "DecodeError", "InvalidMessage", "ConnectionLost"} <= names


def test_an_amqp_error_keeps_its_code_and_text() -> None:
    error = errors.error_for_reply(404, "NOT_FOUND - no queue 'q' in vhost '/'")
    again = pickle.loads(pickle.dumps(error))  # noqa: S301
    assert (again.reply_code, again.reply_text, str(again)) == (
        404, "NOT_FOUND - no queue 'q' in vhost '/'", str(error))
    odd = pickle.loads(pickle.dumps(errors.error_for_reply(599, "ODD - code")))  # noqa: S301
    assert (type(odd), odd.reply_code, odd.reply_text) == (errors.ConnectionClosed, 599,
                                                           "ODD - code")
