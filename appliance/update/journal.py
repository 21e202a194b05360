"""What the box knows of its updates, in one small JSON file on the data partition.

It must outlive a switch of root slot (the trial of a new system is judged by that new system),
so it lives beside the database, written atomically: the version running, the slot booted, the
update on trial (if any) and the last update's outcome. Telemetry and ``appliance update status``
read it; only the updater (root) writes it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance.files import write_atomically

OUTCOMES = ("installing", "trial", "kept", "rolled_back", "refused", "failed")


@dataclass
class Attempt:
    version: str
    kind: str  # "system" or "app"
    channel: str  # "usb", "3g" or "cli"
    outcome: str
    detail: str = ""
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    previous_version: str = ""
    trial_until: float = 0.0  # epoch seconds: past it without a healthy check → rollback


@dataclass
class Journal:
    pending: Attempt | None = None  # installed, on trial, not yet judged
    last: Attempt | None = None  # the last judged or refused attempt


def journal_path(data_dir: Path) -> Path:
    return data_dir / "update-journal.json"


def read_journal(data_dir: Path) -> Journal:
    try:
        raw = json.loads(journal_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Journal()
    known = set(Attempt.__dataclass_fields__)

    def attempt(value: Any) -> Attempt | None:
        return Attempt(**{k: v for k, v in value.items() if k in known}) if isinstance(value, dict) else None

    return Journal(pending=attempt(raw.get("pending")), last=attempt(raw.get("last")))


def write_journal(data_dir: Path, journal: Journal) -> None:
    write_atomically(journal_path(data_dir), json.dumps(asdict(journal), ensure_ascii=False, indent=1), 0o644)
