"""The agent's memory across power cuts, in SQLite (WAL, synchronous=FULL), one fact per row.

Only small facts live here (the time of the last upload window, the modem's last interface
counters, which budget alert was already sent): each is written in its own transaction, so a
power cut leaves either the old value or the new one. The scheduler's jobs are never persisted
(APScheduler's memory job store): they are rebuilt from the configuration at every start, and
the missed window is computed from ``last_window_at``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from appliance.store.db import database
from appliance.store.device import AgentState
from appliance.store.utc import aware_utc, utcnow

LAST_WINDOW_KEY = "uploads.last_window_at"


class StateStore:
    def get(self, key: str, default: Any = None) -> Any:
        row = AgentState.get_or_none(AgentState.key == key)
        if row is None:
            return default
        try:
            return json.loads(row.value)
        except ValueError:
            return default

    def put(self, key: str, value: Any) -> None:
        with database.atomic():
            AgentState.replace(key=key, value=json.dumps(value, ensure_ascii=False, sort_keys=True),
                               updated_at=utcnow()).execute()

    def last_window_at(self) -> datetime | None:
        value = self.get(LAST_WINDOW_KEY)
        try:
            return aware_utc(datetime.fromisoformat(value)) if value else None
        except (TypeError, ValueError):
            return None

    def set_last_window_at(self, moment: datetime) -> None:
        self.put(LAST_WINDOW_KEY, aware_utc(moment).isoformat())
