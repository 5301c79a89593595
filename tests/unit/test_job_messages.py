"""The conversion queue's messages, pure: what is sent is read back as the same type, the wire
format is the one messages already in flight carry, and anything else is refused with a reason."""

from __future__ import annotations

import pytest

from shared.jobs.messages import ConvertStep, EraseBook, parse_conversion_queue_message

# Fixed, not drawn: the id names parametrised tests, and parallel test processes must collect alike.
JOB = "4bCPs9CfOtd7JyGcUC96wA"


@pytest.mark.parametrize(
    "message", [ConvertStep(JOB), ConvertStep(JOB, "images:3"), ConvertStep(JOB, "package"), EraseBook(JOB)]
)
def test_a_message_reads_back_as_what_was_sent(message: ConvertStep | EraseBook) -> None:
    assert parse_conversion_queue_message(message.to_message()) == message
    assert parse_conversion_queue_message(message.to_message().encode()) == message


def test_the_wire_format_is_the_one_in_flight_messages_carry() -> None:
    assert ConvertStep(JOB).to_message() == f'{{"v":1,"job":"{JOB}","step":"plan"}}'
    assert EraseBook(JOB).to_message() == f'{{"v":1,"erase":"{JOB}"}}'


def test_a_step_says_what_it_runs() -> None:
    assert ConvertStep(JOB, "images:12").image_batch == 12
    assert ConvertStep(JOB, "images:x").image_batch is None and ConvertStep(JOB, "plan").image_batch is None
    assert ConvertStep(JOB, "package").is_package and not ConvertStep(JOB, "images:1").is_package


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff", "not JSON"),
        ("[1]", "unknown format"),
        (f'{{"v":2,"job":"{JOB}","step":"plan"}}', "unknown format"),
        ('{"v":1,"erase":"../x"}', "no valid job id"),
        ('{"v":1,"job":"short","step":"plan"}', "no valid job id"),
        (f'{{"v":1,"job":"{JOB}","step":""}}', "no step"),
    ],
)
def test_a_message_this_app_cannot_read_is_refused_with_its_reason(body: bytes | str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_conversion_queue_message(body)
