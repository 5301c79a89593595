"""Reading the owner key from a request, pure: a malformed Authorization header is no key at all."""

from __future__ import annotations

import azure.functions as func
import pytest

from shared.web.editions import presented_owner_key

KEY = "quire_owner_" + "k" * 43


def request(authorization: str | None) -> func.HttpRequest:
    headers = {} if authorization is None else {"Authorization": authorization}
    return func.HttpRequest("POST", "http://localhost/api/books/x/editions", headers=headers, body=b"")


def test_a_bearer_token_is_the_presented_key() -> None:
    assert presented_owner_key(request(f"Bearer {KEY}")) == KEY
    assert presented_owner_key(request(f"bearer   {KEY}  ")) == KEY


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        KEY,
        f"Basic {KEY}",
        "Bearer ",
        f"Bearer {KEY} extra",
        f"Bearer {KEY}\udce9",  # a raw 0xE9 byte, as the host decodes it
        f"Bearer {KEY}é",
        f"Bearer {KEY}\x00",
        f"Bearer {KEY}\x7f",
        "Bearer " + "k" * 201,
    ],
)
def test_a_missing_or_malformed_header_presents_no_key(authorization: str | None) -> None:
    assert presented_owner_key(request(authorization)) is None
