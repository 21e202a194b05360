"""What the agent needs from a modem, whatever drives it (ModemManager or the simulation)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class ModemError(RuntimeError):
    """The modem cannot do what was asked; the message says why, for a person."""


class LinkDropped(ModemError):
    """The data link went down in the middle of a transfer."""


@dataclass(frozen=True)
class Link:
    interface: str  # the network interface carrying the data (wwan0, ppp0, sim0...)
    connected_at: datetime


@dataclass(frozen=True)
class ModemStatus:
    present: bool
    state: str = "absent"  # ModemManager's MMModemState names: disabled, registered, connected...
    signal_pct: int | None = None
    registration: str | None = None  # MMModem3gppRegistrationState: home, roaming, searching, denied...
    operator: str | None = None
    access_technology: str | None = None
    connected: bool = False
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class Modem(Protocol):
    def status(self) -> ModemStatus: ...

    def connect(self, *, timeout_s: float) -> Link: ...  # raises ModemError

    def link_up(self) -> bool: ...

    def disconnect(self) -> None: ...

    def power_down(self) -> None: ...  # disable the radio between windows (battery LOW)

    def close(self) -> None: ...
