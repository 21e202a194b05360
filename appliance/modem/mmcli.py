"""ModemManager through ``mmcli -J``: commands, and parsers for its documented JSON output.

mmcli's JSON (ModemManager ≥ 1.10, ``cli/mmcli-output.c``) nests each documented key
(``modem.generic.state``, ``modem.3gpp.registration-state``, ``bearer.status.interface``...)
into objects; every value is a string or a list of strings, and a value ModemManager does not
know is printed ``"--"``. The parsers below read only those keys, turn ``"--"`` into None, and
raise MmcliError with the start of the answer when it is not that shape: a modem or a
ModemManager that answers garbage must give a clear message, never crash the agent.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.modem.base import ModemError

log = logging.getLogger(__name__)

REGISTERED = {"home", "roaming", "home-sms-only", "roaming-sms-only", "home-csfb-not-preferred",
              "roaming-csfb-not-preferred", "attached-rlos"}


class MmcliError(ModemError):
    pass


@dataclass(frozen=True)
class ModemInfo:
    path: str
    index: int
    state: str
    manufacturer: str | None = None
    model: str | None = None
    failed_reason: str | None = None
    power_state: str | None = None
    unlock_required: str | None = None
    signal_pct: int | None = None
    signal_recent: bool = False
    access_technologies: list[str] = field(default_factory=list)
    registration: str | None = None
    operator_name: str | None = None
    operator_code: str | None = None
    ports: list[str] = field(default_factory=list)
    bearers: list[str] = field(default_factory=list)

    @property
    def registered(self) -> bool:
        return self.registration in REGISTERED or self.state in ("registered", "connecting", "connected")


@dataclass(frozen=True)
class BearerInfo:
    path: str
    connected: bool
    interface: str | None
    ip_method: str | None = None  # static, dhcp or ppp (MMBearerIpMethod)
    address: str | None = None
    prefix: int | None = None
    gateway: str | None = None
    dns: list[str] = field(default_factory=list)
    mtu: int | None = None


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return None if value in ("", "--", "unknown", "none") else value
    if isinstance(value, list):
        return [item for item in (_clean(v) for v in value) if item is not None]
    return value


def _load(text: str, root: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise MmcliError(f"réponse de mmcli illisible (pas du JSON) : {_excerpt(text)}") from exc
    if not isinstance(document, dict) or not isinstance(document.get(root), dict | list):
        raise MmcliError(f"réponse de mmcli inattendue (clé « {root} » absente) : {_excerpt(text)}")
    return document


def _described(text: str, root: str, noun: str) -> dict[str, Any]:
    """The one object ``mmcli -J`` describes under ``root`` (a modem, a bearer), or MmcliError naming it in
    French (``noun``) and quoting the answer: every ``parse_*`` of a single object refuses the same way."""
    value = _load(text, root)[root]
    if not isinstance(value, dict):
        raise MmcliError(f"description de {noun} inattendue : {_excerpt(text)}")
    return value


def _excerpt(text: Any) -> str:
    shown = str(text).strip().replace("\n", " ")
    return repr(shown[:120] + ("…" if len(shown) > 120 else ""))


def _section(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key, {})
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    value = _clean(value)
    try:
        return None if value is None else int(str(value).split(".")[0])
    except ValueError:
        return None


def modem_index(path: str) -> int:
    """``/org/freedesktop/ModemManager1/Modem/3`` → 3."""
    try:
        return int(path.rstrip("/").rsplit("/", 1)[1])
    except (IndexError, ValueError) as exc:
        raise MmcliError(f"chemin de modem inattendu : {path!r}") from exc


def parse_modem_list(text: str) -> list[str]:
    """``mmcli -L -J`` → the modems' D-Bus paths."""
    paths = _load(text, "modem-list")["modem-list"]
    if not isinstance(paths, list) or not all(isinstance(item, str) for item in paths):
        raise MmcliError(f"liste de modems inattendue : {_excerpt(text)}")
    return [path for path in (_clean(item) for item in paths) if path]


def parse_modem(text: str) -> ModemInfo:
    """``mmcli -m N -J`` → ModemInfo."""
    modem = _described(text, "modem", "modem")
    generic, threegpp = _section(modem, "generic"), _section(modem, "3gpp")
    path = _clean(modem.get("dbus-path"))
    state = _clean(generic.get("state"))
    if not path or not state:
        raise MmcliError(f"description de modem incomplète (dbus-path ou state absent) : {_excerpt(text)}")
    signal = _section(generic, "signal-quality")
    return ModemInfo(
        path=path,
        index=modem_index(path),
        state=state,
        manufacturer=_clean(generic.get("manufacturer")),
        model=_clean(generic.get("model")),
        failed_reason=_clean(generic.get("state-failed-reason")),
        power_state=_clean(generic.get("power-state")),
        unlock_required=_clean(generic.get("unlock-required")),
        signal_pct=_int(signal.get("value")),
        signal_recent=_clean(signal.get("recent")) == "yes",
        access_technologies=_clean(generic.get("access-technologies") or []),
        registration=_clean(threegpp.get("registration-state")),
        operator_name=_clean(threegpp.get("operator-name")),
        operator_code=_clean(threegpp.get("operator-code")),
        ports=_clean(generic.get("ports") or []),
        bearers=_clean(generic.get("bearers") or []),
    )


def parse_bearer(text: str) -> BearerInfo:
    """``mmcli -b PATH -J`` → BearerInfo."""
    bearer = _described(text, "bearer", "porteuse")
    status, ipv4 = _section(bearer, "status"), _section(bearer, "ipv4-config")
    path = _clean(bearer.get("dbus-path"))
    if not path:
        raise MmcliError(f"description de porteuse incomplète : {_excerpt(text)}")
    return BearerInfo(
        path=path,
        connected=_clean(status.get("connected")) == "yes",
        interface=_clean(status.get("interface")),
        ip_method=_clean(ipv4.get("method")),
        address=_clean(ipv4.get("address")),
        prefix=_int(ipv4.get("prefix")),
        gateway=_clean(ipv4.get("gateway")),
        dns=_clean(ipv4.get("dns") or []),
        mtu=_int(ipv4.get("mtu")),
    )


Runner = Callable[[list[str], float], str]


def run_command(argv: list[str], timeout: float) -> str:
    """Run a command and return its standard output; any failure is a ModemError in French."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise MmcliError(f"{argv[0]} introuvable : installez le paquet (modemmanager, iproute2)") from exc
    except subprocess.TimeoutExpired as exc:
        raise MmcliError(f"{Path(argv[0]).name} ne répond pas après {timeout:.0f} s") from exc
    except OSError as exc:
        raise MmcliError(f"{argv[0]} : {exc}") from exc
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().replace("\n", " ")[:300]
        raise MmcliError(f"{Path(argv[0]).name} {' '.join(argv[1:3])} a échoué : {detail}")
    return result.stdout


class Mmcli:
    """The few mmcli calls the agent makes, each bounded by a timeout."""

    def __init__(self, binary: Path, *, runner: Runner = run_command, timeout_s: float = 30) -> None:
        self.binary = str(binary)
        self.runner = runner
        self.timeout_s = timeout_s

    def _run(self, *args: str, timeout: float | None = None) -> str:
        timeout = timeout or self.timeout_s
        return self.runner([self.binary, *args, f"--timeout={int(timeout)}"], timeout + 5)

    def list_modems(self) -> list[str]:
        return parse_modem_list(self._run("-L", "-J"))

    def modem(self, index: int) -> ModemInfo:
        return parse_modem(self._run("-m", str(index), "-J"))

    def bearer(self, path: str) -> BearerInfo:
        return parse_bearer(self._run("-b", path, "-J"))

    def enable(self, index: int) -> None:
        self._run("-m", str(index), "--enable")

    def disable(self, index: int) -> None:
        self._run("-m", str(index), "--disable")

    def simple_connect(self, index: int, properties: dict[str, str], timeout: float) -> None:
        joined = ",".join(f"{key}={value}" for key, value in properties.items() if value)
        self._run("-m", str(index), f"--simple-connect={joined}", timeout=timeout)

    def simple_disconnect(self, index: int) -> None:
        self._run("-m", str(index), "--simple-disconnect")
