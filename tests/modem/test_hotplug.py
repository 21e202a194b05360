"""Modem hotplug from udev events: synthetic devices at the boundary (the attributes of a
pyudev.Device the classifier reads), real pyudev devices from sysfs, and a real kernel event."""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass, field

import pytest

from appliance.modem.hotplug import ModemPresence, UdevHotplugWatcher, is_modem_port


@dataclass
class FakeDevice:
    """What pyudev.Device exposes and the watcher reads; nothing else."""

    action: str | None
    subsystem: str
    sys_name: str
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def sys_path(self) -> str:
        return f"/sys/devices/platform/soc/usb1/1-1/1-1.2/{self.subsystem}/{self.sys_name}"


def stick_ports(action: str) -> list[FakeDevice]:
    """A Huawei stick after usb_modeswitch: two serial ports, a control device, a network interface."""
    serial = {"ID_BUS": "usb", "ID_USB_DRIVER": "option", "ID_VENDOR_ID": "12d1"}
    return [
        FakeDevice(action, "tty", "ttyUSB0", serial),
        FakeDevice(action, "tty", "ttyUSB2", serial),
        FakeDevice(action, "usbmisc", "cdc-wdm0", {"DEVNAME": "/dev/cdc-wdm0"}),
        FakeDevice(action, "net", "wwan0", {"ID_NET_DRIVER": "huawei_cdc_ncm"}),
    ]


@pytest.fixture
def watched():
    presence = ModemPresence()
    changes: list[tuple[bool, str]] = []
    presence.listeners.append(lambda present, name: changes.append((present, name)))
    return UdevHotplugWatcher(presence), presence, changes


def test_a_burst_of_ports_is_one_modem_arriving_and_leaving(watched):
    watcher, presence, changes = watched
    watcher.handle(FakeDevice("add", "block", "sr0", {"ID_CDROM": "1", "ID_BUS": "usb"}))  # before modeswitch
    assert not presence.present
    for device in stick_ports("add"):
        watcher.handle(device)
    assert presence.present and presence.ports == ["cdc-wdm0", "ttyUSB0", "ttyUSB2", "wwan0"]
    for device in stick_ports("remove"):
        device.properties = {}  # remove events carry few properties: the path is what counts
        watcher.handle(device)
    assert changes == [(True, "ttyUSB0"), (False, "wwan0")]
    assert not presence.present


@pytest.mark.parametrize(
    ("device", "modem"),
    [
        (FakeDevice("add", "tty", "ttyAMA0", {"ID_BUS": "platform"}), False),  # the Pi's serial console
        (FakeDevice("add", "tty", "ttyACM0", {"ID_BUS": "usb", "ID_USB_DRIVER": "cdc_acm"}), False),  # an Arduino
        (FakeDevice("add", "tty", "ttyACM0", {"ID_MM_CANDIDATE": "1"}), True),  # ModemManager's rules say so
        (FakeDevice("add", "net", "eth0", {"ID_NET_DRIVER": "smsc95xx"}), False),
        (FakeDevice("add", "net", "usb0", {"DEVTYPE": "wwan"}), True),
        (FakeDevice("add", "net", "wwan0", {}), True),
        (FakeDevice("add", "wwan", "wwan0at0", {}), True),
        (FakeDevice("add", "usbmisc", "hiddev0", {}), False),
        (FakeDevice("add", "tty", "ttyUSB0", {"ID_BUS": "usb", "ID_USB_DRIVER": "qcserial"}), True),
    ],
)
def test_what_counts_as_a_modem_port(device, modem):
    assert is_modem_port(device) is modem


def test_real_pyudev_devices_of_this_machine_are_not_modems():
    pyudev = pytest.importorskip("pyudev")
    context = pyudev.Context()
    devices = list(context.list_devices(subsystem="net"))
    assert devices, "sysfs lists at least the loopback"
    assert not any(is_modem_port(device) for device in devices if not device.sys_name.startswith("wwan"))


def test_a_listener_that_raises_does_not_stop_the_others(watched):
    watcher, presence, changes = watched
    presence.listeners.insert(0, lambda present, name: 1 / 0)
    watcher.handle(stick_ports("add")[0])
    assert changes == [(True, "ttyUSB0")]


def _can_make_tun() -> bool:
    return os.geteuid() == 0 and os.path.exists("/dev/net/tun")


@pytest.mark.skipif(not _can_make_tun(), reason="needs root and /dev/net/tun to create a network interface")
def test_a_real_kernel_event_wakes_the_watcher():
    """A tun interface named like a modem's (wwan*) is created and removed: the kernel's own uevents
    reach the watcher through pyudev's netlink monitor; nothing polls."""
    presence = ModemPresence()
    arrived, left = threading.Event(), threading.Event()
    presence.listeners.append(lambda present, name: (arrived if present else left).set())
    watcher = UdevHotplugWatcher(presence, source="kernel")  # no udevd in a container: raw kernel events
    name = f"wwant{os.getpid() % 100000}"
    watcher.start()
    try:
        created = subprocess.run(["ip", "tuntap", "add", "dev", name, "mode", "tun"], capture_output=True, check=False)
        if created.returncode != 0:
            pytest.skip(f"cannot create a tun interface: {created.stderr.decode().strip()}")
        try:
            assert arrived.wait(5), "no udev event for the new interface"
            assert name in presence.ports
        finally:
            subprocess.run(["ip", "tuntap", "del", "dev", name, "mode", "tun"], check=False)
        assert left.wait(5)
        assert not presence.present
    finally:
        watcher.stop()
