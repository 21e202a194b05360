"""French slips of issue 17: a waiting item's age in words ("moins d'une heure", "3 h", "2 j", not
"0.0 h") and decimals with the user's decimal mark through one helper (``number_text``, the ``num`` filter)."""

from __future__ import annotations

import datetime as dt

from appliance.emr.outbox import waiting_text
from appliance.outbox import queue
from appliance.outbox.models import OutboxItem
from tests.conftest import text_of


def _age_outbox(hours: float) -> None:
    then = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=hours)
    OutboxItem.update(created_at=then).execute()


def test_the_outbox_says_how_long_the_oldest_item_waits_in_words(login_as):
    queue.enqueue("event", {"what": "test"})
    admin = login_as("admin")
    page = text_of(admin.get("/envois/"))
    assert "le plus ancien attend depuis moins d'une heure" in page and "0.0 h" not in page
    _age_outbox(3.5)
    assert "le plus ancien attend depuis 3 h" in text_of(admin.get("/envois/"))
    _age_outbox(50)
    assert "le plus ancien attend depuis 2 j" in text_of(admin.get("/envois/"))


def test_waiting_text_and_decimals_follow_the_language(app):
    with app.test_request_context("/", headers={"Cookie": "lang=fr"}):
        assert [waiting_text(s) for s in (0, 59 * 60, 3600, 47 * 3600, 49 * 3600)] == [
            "moins d'une heure", "moins d'une heure", "1 h", "47 h", "2 j"]
        render = app.jinja_env.from_string('{{ 12.345|num(".2f") }} · {{ 61.5|num }} · {{ none|num }}|').render
        assert render() == "12,35 · 61,5 · |"
    with app.test_request_context("/", headers={"Cookie": "lang=en"}):
        assert waiting_text(30) == "less than an hour" and waiting_text(3 * 86400) == "3 d"
        assert app.jinja_env.from_string('{{ 12.345|num(".2f") }}').render() == "12.35"
