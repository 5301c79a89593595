"""Redaction, pure: no credential a request or a feed carries reaches a log line or a traceback."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from shared import logs
from shared.logs import Redacting, install_redaction, redact, url_for_logs

KEY = "quire_owner_Q2xhc3NpZmllZC1rZXktbm90LWEtcmVhbC1vbmUtYXQtYWxs"
SAS = "https://acct.blob.core.windows.net/quire-manuscripts/u1/manuscript?se=2026-01-01T00%3A00%3A00Z&sp=cw&sv=2025-01-05&sr=b&sig=AbCdEf%2Bg%3D"


@pytest.mark.parametrize(
    ("text", "secrets"),
    [
        (f"Authorization: Bearer {KEY}", [KEY]),
        (f"{{'authorization': 'Bearer {KEY}\\udce9', 'host': 'x'}}", [KEY, "Q2xhc3Np"]),
        (f"authorization={KEY}é and more", [KEY, "Q2xhc3Np"]),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", ["dXNlcjpwYXNzd29yZA"]),
        (f"bearer {KEY[:20]}", [KEY[:20]]),
        (f"the key was {KEY}\udce9.", ["Q2xhc3Np"]),
        (f"handed out {SAS} until noon", ["AbCdEf", "sig="]),
        ("a relative ?sv=1&sig=AbCdEf%2Bg%3D&sp=r", ["AbCdEf"]),
        ("feed https://feeds.example/news.xml?token=SUBSCRIBER-SECRET failed", ["SUBSCRIBER-SECRET"]),
        ("feed 'http://127.0.0.1:8080/a.xml?a=1&token=SUBSCRIBER-SECRET#x': 404", ["SUBSCRIBER-SECRET"]),
    ],
)
def test_credentials_are_masked(text: str, secrets: list[str]) -> None:
    shown = redact(text)
    for secret in secrets:
        assert secret not in shown, shown


def test_what_names_the_secret_stays_readable() -> None:
    assert redact(f"Authorization: Bearer {KEY}") == "Authorization: [redacted]"
    assert redact(f"owner key {KEY} rotated") == "owner key quire_owner_[redacted] rotated"
    assert redact(f"GET {SAS}") == "GET https://acct.blob.core.windows.net/quire-manuscripts/u1/manuscript?…"
    assert redact("?sp=cw&se=2026&sig=abc") == "?sp=cw&se=2026&sig=[redacted]"
    plain = "step committed (3/5 done) [invocation=6f1c job=Xk2 step=images:2] https://example.com/feed.xml"
    assert redact(plain) == plain


def test_a_feed_url_is_logged_without_its_query() -> None:
    assert url_for_logs("https://f.example/news.xml?token=SECRET#top") == "https://f.example/news.xml?…"
    assert url_for_logs("https://f.example/news.xml") == "https://f.example/news.xml"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of its own that writes to a buffer through an ordinary Formatter, with every
    record made while it runs redacted as the app makes them."""
    factory = logging.getLogRecordFactory()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("tests.unit.test_logs")
    logger.addHandler(handler)
    logger.propagate, logger.level = False, logging.INFO
    install_redaction()
    install_redaction()  # again: nothing more
    try:
        yield logger, buffer
    finally:
        logging.setLogRecordFactory(factory)
        logger.removeHandler(handler)


def test_every_record_is_redacted_message_arguments_and_traceback(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = captured
    logs.get_logger(logger.name).info("refused %s for %s", f"Bearer {KEY}\udce9", SAS)
    try:
        (f"Bearer {KEY}\udce9").encode()
    except UnicodeEncodeError:
        try:
            raise ValueError(f"bad header Authorization: Bearer {KEY} at {SAS}")
        except ValueError:
            logger.exception("the request failed with %d%%", 500)
    logger.warning("feed https://feeds.example/news.xml?token=SUBSCRIBER-SECRET failed", stack_info=True)
    shown = buffer.getvalue()
    assert "the request failed with 500%" in shown and "Traceback" in shown and "ValueError" in shown
    for secret in (KEY[12:], "AbCdEf", "SUBSCRIBER-SECRET", "\udce9"):
        assert secret not in shown, shown


def test_a_handler_filter_redacts_records_made_elsewhere() -> None:
    record = logging.LogRecord("worker", logging.ERROR, "", 0, f"got Bearer {KEY}", None, None)
    record.exc_text = f"Traceback ...\nValueError: {SAS}"
    assert Redacting().filter(record)
    assert KEY not in record.getMessage() and "AbCdEf" not in record.exc_text
