"""Settings of the ``[modem]`` section: the APN, ModemManager and the monthly data budget."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SimulatedModemSettings:
    """The simulated 3G stick (``simulation = true``): what the field throws at a real one."""

    plugged: bool = True
    coverage: bool = True
    signal_pct: int = 55
    bytes_per_s: int = 8000  # a slow 3G link
    drop_after_s: float = 0.0  # the link drops this long after connecting; 0 = never

    def validate(self) -> list[str]:
        errors = []
        if not 0 <= self.signal_pct <= 100:
            errors.append("modem.simulation.signal_pct : entre 0 et 100")
        if self.bytes_per_s <= 0 or self.drop_after_s < 0:
            errors.append("modem.simulation : bytes_per_s positif, drop_after_s ≥ 0")
        return errors


@dataclass(frozen=True)
class ModemSettings:
    apn: str = "internet"
    apn_user: str = ""
    apn_password: str = ""
    ip_type: str = "ipv4"
    mmcli: Path = Path("/usr/bin/mmcli")
    command_timeout_s: int = 30
    connect_timeout_s: int = 120
    # Disable the modem between windows even when the battery is fine (LOW always does).
    off_between_windows: bool = False
    monthly_budget_mb: int = 500
    warning_pct: int = 80
    sysfs_net: Path = Path("/sys/class/net")
    simulation: SimulatedModemSettings = field(default_factory=SimulatedModemSettings)

    @property
    def monthly_budget_bytes(self) -> int:
        return self.monthly_budget_mb * 1_000_000

    def validate(self) -> list[str]:
        errors = []
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,99}", self.apn):
            errors.append(f"modem.apn : point d'accès invalide {self.apn!r} (lettres, chiffres, . et -)")
        if any(char in value for value in (self.apn_user, self.apn_password) for char in ",=\"'\n"):
            errors.append("modem.apn_user / apn_password : les caractères , = \" ' sont interdits")
        if self.ip_type not in ("ipv4", "ipv6", "ipv4v6"):
            errors.append("modem.ip_type : « ipv4 », « ipv6 » ou « ipv4v6 »")
        if not 5 <= self.command_timeout_s <= 300 or not 10 <= self.connect_timeout_s <= 600:
            errors.append("modem : command_timeout_s entre 5 et 300, connect_timeout_s entre 10 et 600")
        if self.monthly_budget_mb < 1:
            errors.append("modem.monthly_budget_mb : au moins 1 Mo")
        if not 1 <= self.warning_pct < 100:
            errors.append("modem.warning_pct : entre 1 et 99")
        return errors
