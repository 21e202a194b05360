"""The box's clock checked against what it has already written.

The Pi has no real-time clock: it boots with fake-hwclock's last save and chrony corrects it once the
modem reaches a time server. If that save is lost (a cut while it was written, a card left in a drawer),
the clock can start months or years behind. Every write is audited with the clock's time
(``AuditEntry.at``, indexed), so the latest of those is a floor the true time cannot be below: a clock
behind it is wrong, and "today" is taken as the later of the two until it is corrected.
"""

from __future__ import annotations

import datetime as dt

import peewee

from appliance.store.models import AuditEntry
from appliance.store.utc import utcnow

# Writes a few minutes "ahead" happen when chrony slews a slightly fast clock back: not worth a warning.
TOLERANCE = dt.timedelta(minutes=10)


def latest_write() -> dt.datetime | None:
    """The latest time (naive UTC) the box wrote anything, by the clock of that moment."""
    return AuditEntry.select(peewee.fn.MAX(AuditEntry.at)).scalar()


def behind_since(now: dt.datetime | None = None) -> dt.datetime | None:
    """The latest write when the clock is behind it (the clock is then known wrong), else None."""
    latest = latest_write()
    now = now or utcnow()
    return latest if latest is not None and now < latest - TOLERANCE else None


def trusted_today(today: dt.date | None = None) -> dt.date:
    """Today by the clock, or the day of the latest write if the clock is behind it: a form's default
    date and its "in the future" check never fall back to the wrong year."""
    today = today or dt.date.today()
    latest = latest_write()
    return max(today, latest.date()) if latest is not None else today
