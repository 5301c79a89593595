"""Every book the corpus makes passes EPUBCheck 5 with 0 errors and 0 warnings."""

from __future__ import annotations

import pytest

from tests.book.conftest import GOOD_BOOKS, message_counts


@pytest.mark.parametrize("name", list(GOOD_BOOKS))
def test_epubcheck_reports_no_errors_and_no_warnings(name: str, epubcheck_reports: dict[str, str]) -> None:
    report = epubcheck_reports[name]
    assert "EPUB version 3.3 rules" in report
    assert message_counts(report) == (0, 0, 0), report
