from __future__ import annotations

import pytest

from msgbus import errors


@pytest.mark.parametrize(
    ("code", "cls", "soft"),
    [
        (403, errors.AccessRefused, True),
        (404, errors.NotFound, True),
        (405, errors.ResourceLocked, True),
        (406, errors.PreconditionFailed, True),
        (320, errors.ConnectionForced, False),
        (503, errors.CommandInvalid, False),
        (530, errors.NotAllowed, False),
    ],
)
def test_reply_codes_map_to_soft_and_hard_errors(
    code: int, cls: type[errors.AMQPError], soft: bool
) -> None:
    err = errors.error_for_reply(code, "SOME_TEXT - detail")
    assert type(err) is cls
    assert err.reply_code == code
    assert err.reply_text == "SOME_TEXT - detail"
    assert isinstance(err, errors.ChannelClosed) is soft
    assert isinstance(err, errors.ConnectionClosed) is not soft
    assert str(err) == f"({code}) SOME_TEXT - detail"


def test_unknown_codes_keep_their_code() -> None:
    err = errors.error_for_reply(599, "ODD")
    assert isinstance(err, errors.ConnectionClosed)
    assert err.reply_code == 599


def test_validation_errors_are_value_errors() -> None:
    assert issubclass(errors.ValidationError, ValueError)
    assert issubclass(errors.ConnectionLost, ConnectionError)
