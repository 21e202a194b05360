"""How long an overdue item stays on the call lists before it lapses, per programme
(``data/followup_windows.toml``, with its sources)."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

from appliance.clinical.schedule_data import DATA_DIR, _Reader

FILE = "followup_windows.toml"


@functools.lru_cache(maxsize=1)
def _windows(path: Path = DATA_DIR / FILE) -> tuple[int, int, dict[str, int]]:
    reader = _Reader.open(path)
    default, shown = reader.get("default_days", int), reader.get("lapsed_shown_days", int)
    by_programme = dict(reader.get("call_window_days", dict))
    for code, days in (("default_days", default), ("lapsed_shown_days", shown), *by_programme.items()):
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise reader.error(code, "nombre de jours entier et positif attendu")
    return default, shown, by_programme


def call_window_days(programme: str) -> int:
    default, _shown, by_programme = _windows()
    return by_programme.get(programme, default)


def lapsed_shown_days() -> int:
    """How long a lapsed item stays on the lapsed list."""
    return _windows()[1]


def lapses_on(programme: str, overdue_on: dt.date) -> dt.date:
    """The first day the item counts as lapsed (off the daily lists)."""
    return overdue_on + dt.timedelta(days=call_window_days(programme))


def lapse_start(programme: str, today: dt.date) -> dt.date:
    """Items overdue on or before this day have lapsed by ``today``."""
    return today - dt.timedelta(days=call_window_days(programme))
