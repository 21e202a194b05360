"""The month-end story of ``make run``: months received by DHIS2, one refused, one waiting.

Told once through the real sealing and outbox (no row written around them), so a newcomer sees
the whole journey of a report before typing a command.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from appliance.outbox import Outbox
from appliance.reports.builder import Month
from appliance.reports.models import ReportVersion
from appliance.reports.sealing import seal
from appliance.settings.reports import ReportSettings
from appliance.store.audit import Actor
from appliance.store.models import User


@dataclass(frozen=True)
class MonthEndStory:
    """The months ``make run`` seals, oldest first. DHIS2 has locked ``refused`` (sealed after the data
    set's expiry days: E7640 on each value); ``waiting`` is last month, sealed but not yet sent."""

    delivered: tuple[str, ...]
    refused: str
    waiting: str


def month_end_story(today: dt.date) -> MonthEndStory:
    last = Month.of(today).previous()
    refused = last.previous()
    first = refused.previous()
    return MonthEndStory(delivered=(first.previous().period, first.period), refused=refused.period,
                         waiting=last.period)


def tell_month_end_story(outbox: Outbox, settings: ReportSettings, *, today: dt.date | None = None) -> bool:
    """Seal the story's months as the médecin, send all but the last through ``outbox`` (to the
    demonstration DHIS2, which must lock the refused month), then seal the last one.

    The real sealing and delivery code writes every row. Does nothing (False) once a month is sealed
    or without the médecin's account, so a demo database tells its story once.
    """
    today = today or dt.date.today()
    story = month_end_story(today)
    head = User.get_or_none(User.username == "medecin")
    if head is None or ReportVersion.select().exists():
        return False
    actor = Actor(head.id, head.username, head.role)
    for period in (*story.delivered, story.refused):
        seal(actor, period, settings, today=today)
    outbox.flush()
    seal(actor, story.waiting, settings, today=today)
    return True
