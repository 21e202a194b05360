"""The systemd notification protocol (sd_notify(3)), in a few lines and without a dependency.

systemd passes the path of a unix datagram socket in ``$NOTIFY_SOCKET`` (an abstract socket
when it starts with ``@``); each datagram is newline-separated ``KEY=VALUE`` assignments:
``READY=1`` once started, ``WATCHDOG=1`` at least every ``$WATCHDOG_USEC / 2`` when the unit
has ``WatchdogSec=``, ``STOPPING=1`` on the way out and ``STATUS=...`` for ``systemctl status``.
Outside systemd there is no socket and every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + path[1:] if path.startswith("@") else path
        watchdog_pid = env.get("WATCHDOG_PID")
        usec = env.get("WATCHDOG_USEC", "")
        mine = watchdog_pid is None or watchdog_pid == str(os.getpid())
        self.watchdog_usec = int(usec) if usec.isdigit() and mine else None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to ping: half the watchdog timeout, as sd_watchdog_enabled(3) advises."""
        return None if not self.watchdog_usec else self.watchdog_usec / 2_000_000

    def notify(self, *assignments: str) -> bool:
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self.address)
                sock.sendall("\n".join(assignments).encode())
        except OSError as exc:
            log.warning("sd_notify impossible (%s) : %s", self.address.lstrip("\0"), exc)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")
