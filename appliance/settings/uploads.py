"""Settings of the ``[uploads]`` section: when the store-and-forward windows open."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import tzinfo

_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def parse_window_time(text: str) -> tuple[int, int]:
    """``"06:00"`` → ``(6, 0)``; anything else is a ValueError worded for the technician."""
    match = _TIME.fullmatch(text.strip())
    if not match:
        raise ValueError(f"heure de fenêtre invalide « {text} » : format HH:MM attendu, ex. « 06:00 »")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class UploadSettings:
    windows: list[str] = field(default_factory=lambda: ["06:00", "13:00"])
    max_minutes: int = 10  # a window never keeps the modem up longer than this
    misfire_grace_minutes: int = 60  # a window woken late (suspend, clock jump) still runs within this
    catch_up_delay_s: int = 90  # after start-up, lets ModemManager find the modem before the catch-up
    timezone: str = ""  # empty: the system's zone (Africa/Bamako on the image)
    # Urgent items (a suspected SIMR case, a shutdown event) do not wait for a window: the agent looks
    # for one every urgent_check_s (one indexed query) and sends it at once over a short connection.
    # After a failed connection it tries again after urgent_retry_s, or as soon as a modem is plugged in.
    urgent_check_s: int = 10
    urgent_retry_s: int = 300

    def zone(self) -> tzinfo:
        """The site's time zone: windows, months of data and the chart's days are counted in it."""
        if self.timezone:
            return zoneinfo.ZoneInfo(self.timezone)
        from tzlocal import get_localzone  # APScheduler's own dependency: the system's zone

        return get_localzone()

    @property
    def times(self) -> list[tuple[int, int]]:
        return sorted(parse_window_time(text) for text in self.windows)

    def validate(self) -> list[str]:
        errors = []
        if not self.windows:
            errors.append("uploads.windows : au moins une fenêtre, par exemple [\"06:00\", \"13:00\"]")
        parsed = []
        for text in self.windows:
            try:
                parsed.append(parse_window_time(text))
            except ValueError as exc:
                errors.append(f"uploads.windows : {exc}")
        if len(set(parsed)) != len(parsed):
            errors.append("uploads.windows : la même heure apparaît deux fois")
        minutes = sorted(hour * 60 + minute for hour, minute in parsed)
        following = [*minutes[1:], minutes[0] + 1440] if minutes else []
        gaps = [b - a for a, b in zip(minutes, following, strict=True)]
        if gaps and min(gaps) <= self.max_minutes:
            errors.append("uploads : deux fenêtres se chevauchent (écart inférieur à max_minutes)")
        if not 1 <= self.max_minutes <= 120:
            errors.append("uploads.max_minutes : entre 1 et 120 minutes")
        if not 0 <= self.misfire_grace_minutes <= 720 or not 0 <= self.catch_up_delay_s <= 3600:
            errors.append("uploads : misfire_grace_minutes entre 0 et 720, catch_up_delay_s entre 0 et 3600")
        if not 1 <= self.urgent_check_s <= 600 or not 1 <= self.urgent_retry_s <= 6 * 3600:
            errors.append("uploads : urgent_check_s entre 1 et 600 secondes, urgent_retry_s entre 1 et 21600")
        if self.timezone:
            try:
                zoneinfo.ZoneInfo(self.timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                errors.append(f"uploads.timezone : fuseau inconnu « {self.timezone} » (ex. Africa/Bamako)")
        return errors
