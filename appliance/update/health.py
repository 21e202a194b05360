"""The appliance's own health after an update: the web answers, the agent runs, the database is whole.

Run by ``appliance update check`` (a systemd timer after boot, as root). Each probe says in French
what is wrong, so a rollback's reason reaches the fleet view as it is.
"""

from __future__ import annotations

import sqlite3
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Health:
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def web_answers(url: str, timeout_s: float = 10.0) -> str | None:
    """The login page served (any answer below 500: the app is up, its routes and templates load)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as reply:
            status = reply.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return f"le dossier médical ne répond pas ({exc})"
    return None if status < 500 else f"le dossier médical répond en erreur ({status})"


def service_active(unit: str) -> str | None:
    done = subprocess.run(["systemctl", "is-active", "--quiet", unit], check=False)
    return None if done.returncode == 0 else f"le service {unit} ne tourne pas"


def database_whole(path: Path, expected_version: int) -> str | None:
    """``PRAGMA quick_check`` and every migration this version knows applied."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            version = db.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
    except sqlite3.Error as exc:
        return f"base de données illisible ({exc})"
    if check != "ok":
        return f"base de données abîmée ({check})"
    if version < expected_version:
        return f"base de données pas à jour (version {version}, attendue {expected_version})"
    return None


def assess(probes: list[Callable[[], str | None]]) -> Health:
    return Health(tuple(problem for probe in probes if (problem := probe())))
