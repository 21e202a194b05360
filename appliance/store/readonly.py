"""The read-only flag: how the agent tells the web to stop accepting writes before a shutdown.

It sits beside the database it protects and is read by both processes, so it lives with the store
(the agent's shutdown writes it, the web's request guard and Battery page read it).

Contract (for the web and any other writer): the file ``<data_dir>/read-only`` exists while
writes must be refused. It holds a small JSON document ``{"reason", "since", "message"}``; a
reader that cannot parse it must still treat the box as read-only. The web checks it before
every POST (a ``stat``, microseconds) and answers with the French ``message`` instead of saving.
The agent writes it atomically (temporary file, fsync, rename, fsync of the folder) before it
checkpoints SQLite and powers off, and removes it at its next start once the battery is no
longer critical.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from appliance.files import fsync_folder, write_atomically

FLAG_NAME = "read-only"
DEFAULT_MESSAGE = (
    "Batterie critique : l'appareil s'éteint pour protéger les données. Aucun enregistrement n'est "
    "possible pour le moment ; notez sur papier et saisissez au redémarrage."
)


@dataclass(frozen=True)
class ReadOnly:
    reason: str
    since: str
    message: str


def flag_path(data_dir: Path) -> Path:
    return Path(data_dir) / FLAG_NAME


def read_only_state(data_dir: Path) -> ReadOnly | None:
    """None when writes are allowed; otherwise why not, in French (the web shows ``message``)."""
    path = flag_path(data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError:
        return ReadOnly("unreadable", "", DEFAULT_MESSAGE)
    try:
        data = json.loads(text)
        message = str(data.get("message") or DEFAULT_MESSAGE)
        return ReadOnly(str(data["reason"]), str(data.get("since", "")), message)
    except (ValueError, KeyError, TypeError):
        return ReadOnly("unknown", "", DEFAULT_MESSAGE)


def set_read_only(data_dir: Path, reason: str, *, message: str = DEFAULT_MESSAGE,
                  since: datetime | None = None) -> Path:
    path = flag_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"reason": reason, "since": (since or datetime.now(UTC)).isoformat(), "message": message}
    write_atomically(path, json.dumps(document, ensure_ascii=False))
    return path


def clear_read_only(data_dir: Path) -> bool:
    """Remove the flag; True if there was one."""
    path = flag_path(data_dir)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    with contextlib.suppress(OSError):
        fsync_folder(path.parent)
    return True
