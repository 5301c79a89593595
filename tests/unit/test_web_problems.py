"""The one place errors become problem+json, pure: every refusal drawn in shared/errors.py has its
answer, the drawing names exactly the refusals the code defines, and a handler that raises answers."""

from __future__ import annotations

import json
import re

import azure.functions as func
import pytest

from shared import errors
from shared.errors import OwnerKeyRequired, Refused, WrongOwnerKey
from shared.intake.rejections import Refusal, UploadRejected
from shared.storage import StorageUnavailable
from shared.web.problems import Problem, answer_for, answers_problems, answers_problems_sending

REFUSALS = sorted(Refused.__subclasses__(), key=lambda kind: kind.__name__)


def test_the_drawn_tree_names_exactly_the_refusals_the_code_defines() -> None:
    drawn = errors.__doc__ or ""
    branch = drawn[drawn.index("    Refused ") : drawn.index("Outside the tree")]
    assert sorted(re.findall(r"[├└]── (\w+)", branch)) == [kind.__name__ for kind in REFUSALS]


@pytest.mark.parametrize("kind", REFUSALS, ids=lambda kind: kind.__name__)
def test_every_refusal_has_its_problem_answer(kind: type[Refused]) -> None:
    response = answer_for(kind())
    body = json.loads(response.get_body())
    assert response.mimetype == "application/problem+json" and 400 <= response.status_code < 500
    assert body["status"] == response.status_code and body["title"] and body["detail"]


def test_owner_key_refusals_say_which_key_and_how_to_send_it() -> None:
    required = answer_for(OwnerKeyRequired(of_upload=True))
    assert required.status_code == 401 and required.headers["WWW-Authenticate"] == 'Bearer realm="quire"'
    assert "Submitting an upload" in json.loads(required.get_body())["detail"]
    assert "Changing a book" in json.loads(answer_for(OwnerKeyRequired()).get_body())["detail"]
    wrong = json.loads(answer_for(WrongOwnerKey(of_upload=True)).get_body())
    assert wrong["status"] == 403 and "the upload's book" in wrong["detail"]


def test_a_handler_that_raises_answers_with_its_problem() -> None:
    @answers_problems
    def gone() -> func.HttpResponse:
        raise Problem(404, "Not found", "No such page.", headers={"Retry-After": "5"})

    @answers_problems_sending
    def refused() -> tuple[func.HttpResponse, str | None]:
        raise UploadRejected(Refusal.TOO_LARGE, "Too large", "Send less.")

    @answers_problems
    def unreachable() -> func.HttpResponse:
        raise StorageUnavailable("down")

    response = gone()
    assert response.status_code == 404 and response.headers["Retry-After"] == "5"
    assert json.loads(response.get_body())["title"] == "Not found"
    answer, message = refused()
    assert answer.status_code == 413 and message is None
    assert unreachable().status_code == 503


def test_an_error_outside_the_tree_is_not_answered() -> None:
    @answers_problems
    def broken() -> func.HttpResponse:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        broken()
