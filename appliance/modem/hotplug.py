"""USB modem hotplug from udev events: the agent is woken by the kernel, it never polls.

A 3G stick first shows up as a CD-ROM; usb_modeswitch flips it and the modem's own devices
appear: serial ports (``tty``: ttyUSB*, driver ``option``/``qcserial``/``sierra``), a control
device (``usbmisc``: cdc-wdm*, for QMI/MBIM) and a network interface (``net``: wwan*, or
``DEVTYPE=wwan``), or ports of the kernel's ``wwan`` class. ModemManager's own udev rules tag
its candidates ``ID_MM_CANDIDATE=1``; that tag or the patterns above make a device a modem port.

Contract at the boundary (what tests fake): ``handle(device)`` takes any object with the
attributes of a ``pyudev.Device`` that the classifier reads: ``action`` ("add", "remove",
"change", "bind"...), ``subsystem``, ``sys_name``, ``sys_path`` and ``properties`` (a mapping of
udev properties). A modem is present while at least one of its ports is; a burst of five ports
at plug-in gives one "modem_added", the last port removed gives one "modem_removed".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from appliance.modem.base import ModemError

log = logging.getLogger(__name__)

SUBSYSTEMS = ("tty", "usbmisc", "net", "wwan")
SERIAL_MODEM_DRIVERS = {"option", "option1", "qcserial", "sierra", "huawei_cdc_ncm"}
NET_MODEM_DRIVERS = {"qmi_wwan", "cdc_mbim", "huawei_cdc_ncm", "sierra_net"}


class UdevDevice(Protocol):
    action: str | None
    subsystem: str
    sys_name: str
    sys_path: str
    properties: Mapping[str, str]


def is_modem_port(device: UdevDevice) -> bool:
    properties = device.properties
    if properties.get("ID_MM_CANDIDATE") == "1":
        return True
    subsystem, name = device.subsystem, device.sys_name
    if subsystem == "wwan":
        return True
    if subsystem == "usbmisc":
        return name.startswith("cdc-wdm")
    if subsystem == "net":
        return (properties.get("DEVTYPE") == "wwan" or name.startswith("wwan")
                or properties.get("ID_NET_DRIVER") in NET_MODEM_DRIVERS)
    if subsystem == "tty":
        return properties.get("ID_BUS") == "usb" and properties.get("ID_USB_DRIVER") in SERIAL_MODEM_DRIVERS
    return False


class ModemPresence:
    """Which modem ports exist now; tells listeners when the modem appears or goes."""

    def __init__(self) -> None:
        self._ports: dict[str, str] = {}
        self._lock = threading.Lock()
        self.listeners: list[Callable[[bool, str], None]] = []

    @property
    def present(self) -> bool:
        return bool(self._ports)

    @property
    def ports(self) -> list[str]:
        return sorted(self._ports.values())

    def port_added(self, sys_path: str, name: str) -> None:
        with self._lock:
            appeared = not self._ports
            self._ports[sys_path] = name
        if appeared:
            log.info("Modem branché (%s)", name)
            self._tell(True, name)

    def port_removed(self, sys_path: str) -> None:
        with self._lock:
            name = self._ports.pop(sys_path, None)
            gone = name is not None and not self._ports
        if gone:
            log.warning("Modem débranché (%s)", name)
            self._tell(False, name)

    def _tell(self, present: bool, name: str) -> None:
        for listener in self.listeners:
            try:
                listener(present, name)
            except Exception:
                log.exception("Écouteur de branchement du modem en erreur")


class UdevHotplugWatcher:
    """pyudev's netlink monitor on its own thread (blocked in poll, no CPU while nothing happens)."""

    def __init__(self, presence: ModemPresence, *, source: str = "udev") -> None:
        self.presence = presence
        self.source = source  # "udev": events after udevd's rules (with ID_MM_CANDIDATE...); "kernel": raw
        self._observer: Any = None

    def handle(self, device: UdevDevice) -> None:
        action = device.action
        if action in ("add", "bind", "change", None):
            if is_modem_port(device):
                self.presence.port_added(device.sys_path, device.sys_name)
        elif action in ("remove", "unbind"):
            self.presence.port_removed(device.sys_path)

    def start(self) -> None:
        try:
            import pyudev

            context = pyudev.Context()
            monitor = pyudev.Monitor.from_netlink(context, source=self.source)
            for subsystem in SUBSYSTEMS:
                monitor.filter_by(subsystem)
            self._observer = pyudev.MonitorObserver(monitor, callback=self._safe_handle, name="udev-modem")
            self._observer.daemon = True
            self._observer.start()  # before the scan: a port plugged in between is not missed
            for subsystem in SUBSYSTEMS:
                for device in context.list_devices(subsystem=subsystem):
                    if is_modem_port(device):
                        self.presence.port_added(device.sys_path, device.sys_name)
        except (ImportError, OSError) as exc:
            raise ModemError(f"surveillance udev impossible ({exc})") from exc

    def _safe_handle(self, device: UdevDevice) -> None:
        try:
            self.handle(device)
        except Exception:
            log.exception("Événement udev illisible : %r", device)

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer = None
