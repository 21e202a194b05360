"""The real modem: ModemManager does the radio (enable, register, connect a bearer with the
APN); this class brings the bearer's IP settings onto its network interface.

ModemManager leaves IP configuration to its caller (NetworkManager usually; here, us). A bearer
reports one of three methods (MMBearerIpMethod): ``static`` (QMI, MBIM and most NCM sticks: the
address, gateway and DNS are given and we apply them with ``ip``), ``dhcp`` (we run a DHCP
client on the interface), ``ppp`` (old serial-only 3G sticks: pppd would have to run on the
port; not supported, and said so clearly, so the technician picks a QMI/NCM-capable stick or
switches the stick's mode).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from appliance.modem.base import Link, ModemError, ModemStatus
from appliance.modem.hotplug import ModemPresence
from appliance.modem.mmcli import BearerInfo, Mmcli, MmcliError, ModemInfo, Runner, modem_index, run_command
from appliance.settings.modem import ModemSettings

log = logging.getLogger(__name__)

FAILED_REASONS = {
    "sim-missing": "pas de carte SIM dans le modem",
    "sim-error": "carte SIM illisible",
    "unknown-capabilities": "modem non reconnu",
    "esim-without-profiles": "eSIM sans profil",
}


class ModemManagerModem:
    def __init__(
        self,
        settings: ModemSettings,
        presence: ModemPresence,
        *,
        now: Callable[[], datetime],
        runner: Runner = run_command,
    ) -> None:
        self.settings = settings
        self.presence = presence
        self._now = now
        self._runner = runner
        self._mmcli = Mmcli(settings.mmcli, runner=runner, timeout_s=settings.command_timeout_s)
        self._lock = threading.Lock()
        self._index: int | None = None
        self._link: Link | None = None
        self._bearer: BearerInfo | None = None

    def status(self) -> ModemStatus:
        if not self.presence.present:
            return ModemStatus(present=False)
        try:
            info = self._find()
        except ModemError as exc:
            return ModemStatus(present=True, state="unknown", error=str(exc))
        return ModemStatus(
            present=True,
            state=info.state,
            signal_pct=info.signal_pct,
            registration=info.registration,
            operator=info.operator_name,
            access_technology=info.access_technologies[0] if info.access_technologies else None,
            connected=info.state == "connected",
        )

    def connect(self, *, timeout_s: float) -> Link:
        with self._lock:
            info = self._find()
            self._check_usable(info)
            properties = {
                "apn": self.settings.apn,
                "ip-type": self.settings.ip_type,
                "user": self.settings.apn_user,
                "password": self.settings.apn_password,
            }
            log.info("Connexion du modem %s (APN %s)", info.model or info.index, self.settings.apn)
            self._mmcli.simple_connect(info.index, properties, timeout=timeout_s)
            bearer = self._connected_bearer(self._mmcli.modem(info.index))
            self._configure(bearer)
            self._bearer = bearer
            self._link = Link(interface=bearer.interface, connected_at=self._now())
            return self._link

    def link_up(self) -> bool:
        if self._link is None or self._index is None:
            return False
        try:
            return self._mmcli.modem(self._index).state == "connected"
        except ModemError:
            return False

    def disconnect(self) -> None:
        with self._lock:
            bearer, self._bearer, self._link = self._bearer, None, None
            if bearer is not None and bearer.interface:
                self._unconfigure(bearer)
            if self._index is not None:
                self._quietly(self._mmcli.simple_disconnect, self._index)

    def power_down(self) -> None:
        with self._lock:
            if self._index is not None and self.presence.present:
                self._quietly(self._mmcli.disable, self._index)

    def close(self) -> None:
        self.disconnect()

    def _find(self) -> ModemInfo:
        paths = self._mmcli.list_modems()
        if not paths:
            self._index = None
            raise ModemError("ModemManager ne voit aucun modem (branché, mais pas encore reconnu ?)")
        info = self._mmcli.modem(modem_index(paths[0]))
        self._index = info.index
        return info

    @staticmethod
    def _check_usable(info: ModemInfo) -> None:
        if info.state == "failed":
            reason = FAILED_REASONS.get(info.failed_reason or "", info.failed_reason or "raison inconnue")
            raise ModemError(f"modem hors service : {reason}")
        if info.state == "locked" or (info.unlock_required and info.unlock_required != "sim-pin2"):
            lock = info.unlock_required or "code PIN"
            raise ModemError(f"carte SIM verrouillée ({lock}) : retirez le code PIN de la carte")

    def _connected_bearer(self, info: ModemInfo) -> BearerInfo:
        for path in info.bearers:
            bearer = self._mmcli.bearer(path)
            if bearer.connected:
                if not bearer.interface:
                    raise MmcliError(f"porteuse {path} connectée sans interface réseau")
                return bearer
        raise ModemError(f"connexion refusée ou perdue (état du modem : {info.state})")

    def _configure(self, bearer: BearerInfo) -> None:
        interface = bearer.interface
        if bearer.ip_method == "static":
            if not bearer.address or bearer.prefix is None:
                raise ModemError("porteuse sans adresse IP")
            self._ip("addr", "flush", "dev", interface)
            self._ip("addr", "add", f"{bearer.address}/{bearer.prefix}", "dev", interface)
            if bearer.mtu:
                self._ip("link", "set", "dev", interface, "mtu", str(bearer.mtu))
            self._ip("link", "set", "dev", interface, "up")
            route = ["route", "replace", "default"]
            if bearer.gateway:
                route += ["via", bearer.gateway]
            self._ip(*route, "dev", interface)
            if bearer.dns:
                self._quietly(self._runner, ["resolvectl", "dns", interface, *bearer.dns], 15)
        elif bearer.ip_method == "dhcp":
            self._ip("link", "set", "dev", interface, "up")
            self._runner(["dhclient", "-1", interface], float(self.settings.connect_timeout_s))
        else:
            raise ModemError(
                f"méthode IP « {bearer.ip_method} » non prise en charge : utilisez un modem en mode "
                "QMI, MBIM ou NCM (les clés série en PPP seul ne sont pas gérées)"
            )

    def _unconfigure(self, bearer: BearerInfo) -> None:
        if bearer.ip_method == "dhcp":
            self._quietly(self._runner, ["dhclient", "-r", bearer.interface], 30)
        self._quietly(self._ip, "addr", "flush", "dev", bearer.interface)
        self._quietly(self._ip, "link", "set", "dev", bearer.interface, "down")

    def _ip(self, *args: str) -> None:
        self._runner(["ip", *args], float(self.settings.command_timeout_s))

    @staticmethod
    def _quietly(action: Callable[..., object], *args: object) -> None:
        try:
            action(*args)
        except ModemError as exc:
            log.warning("Modem : %s", exc)
