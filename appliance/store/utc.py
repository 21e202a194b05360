"""The store's one time convention: moments are kept as naive UTC in SQLite, handled as aware UTC
in code. These two conversions are the only place it is written."""

from __future__ import annotations

import datetime as dt


def naive_utc(moment: dt.datetime) -> dt.datetime:
    """For a column: an aware moment in UTC without its zone; a naive one is taken as UTC already."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def aware_utc(moment: dt.datetime) -> dt.datetime:
    """From a column: a naive moment is UTC; an aware one is converted to UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """Now, as the columns keep it (naive UTC)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
