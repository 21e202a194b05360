"""The clean shutdown before a brownout corrupts the SD card: once, logged and announced.

Order matters: announce first (telemetry may still record the event in the outbox), then the
read-only flag so the web stops writing, then fold the WAL into the database file, ``sync``,
and only then ask systemd to power off. Each step's failure is logged and the next step still
runs: a half-done shutdown is worse than a complete one with a warning.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from appliance.store import readonly

log = logging.getLogger(__name__)

CHECKPOINT_ATTEMPTS = 5
CHECKPOINT_RETRY_S = 0.5


class PowerOff(Protocol):
    def poweroff(self) -> None: ...


class PowerOffError(RuntimeError):
    pass


class CommandPowerOff:
    """``systemctl poweroff`` (or the configured command): systemd stops every unit cleanly."""

    def __init__(self, command: list[str], *, timeout_s: float = 60) -> None:
        self.command = list(command)
        self.timeout_s = timeout_s

    def poweroff(self) -> None:
        try:
            result = subprocess.run(self.command, capture_output=True, text=True, timeout=self.timeout_s,
                                    check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PowerOffError(f"{' '.join(self.command)} : {exc}") from exc
        if result.returncode != 0:
            raise PowerOffError(
                f"{' '.join(self.command)} a échoué ({result.returncode}) : {result.stderr.strip()}"
            )


class SimulatedPowerOff:
    """Simulation: nothing is switched off; the agent stops as it would with the box."""

    def __init__(self, on_poweroff: Callable[[], None] | None = None) -> None:
        self.on_poweroff = on_poweroff
        self.calls = 0

    def poweroff(self) -> None:
        self.calls += 1
        log.warning("SIMULATION : extinction demandée (aucune commande exécutée)")
        if self.on_poweroff is not None:
            self.on_poweroff()


def checkpoint_database() -> str:
    """Fold the WAL into the database; retried while a reader (the web) holds an old snapshot."""
    from appliance.store.db import database

    result = (1, -1, -1)
    for attempt in range(CHECKPOINT_ATTEMPTS):
        result = tuple(database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
        if result[0] == 0:
            break
        if attempt < CHECKPOINT_ATTEMPTS - 1:
            time.sleep(CHECKPOINT_RETRY_S)
    busy, log_frames, done = result
    return f"busy={busy} wal_frames={log_frames} checkpointed={done}"


class ShutdownController:
    def __init__(
        self,
        data_dir: Path,
        poweroff: PowerOff,
        *,
        announce: Callable[[str], None],
        before_checkpoint: Callable[[], None] = lambda: None,
        checkpoint: Callable[[], str] = checkpoint_database,
        sync: Callable[[], None] = os.sync,
    ) -> None:
        self.data_dir = Path(data_dir)
        self._poweroff = poweroff
        self._announce = announce
        self._before_checkpoint = before_checkpoint
        self._checkpoint = checkpoint
        self._sync = sync
        self._lock = threading.Lock()
        self.reason: str | None = None

    @property
    def started(self) -> bool:
        return self.reason is not None

    def shutdown(self, reason: str) -> bool:
        """Run the sequence; True for the one call that did it, False for every later call."""
        with self._lock:
            if self.reason is not None:
                log.info("Extinction déjà en cours (%s) : demande « %s » ignorée", self.reason, reason)
                return False
            self.reason = reason
        log.critical("Extinction propre : %s", reason)
        self._step("annonce", lambda: self._announce(reason))
        self._step("drapeau lecture seule", lambda: readonly.set_read_only(self.data_dir, reason))
        self._step("dernières mesures", self._before_checkpoint)
        self._step("checkpoint SQLite", lambda: log.info("Checkpoint : %s", self._checkpoint()))
        self._step("sync", self._sync)
        self._step("poweroff", self._poweroff.poweroff)
        return True

    @staticmethod
    def _step(name: str, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception:
            log.exception("Extinction : l'étape « %s » a échoué, on continue", name)
        else:
            log.info("Extinction : étape « %s » faite", name)
