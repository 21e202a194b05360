"""Power cuts on the emulated Pi: a nurse records visits while the whole machine is killed at a random
moment, then the card boots again with nobody touching it. Shared by tests/boot and ``make soak``.

The ledger holds every visit whose 302 came back (acknowledged) and the one whose answer never came
(in flight when the power went: it may or may not be there, but never twice).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from tests.boot.machine import Machine, boot_partition_dirty
from tests.boot.staff import Staff

# Read as the service user, while the EMR runs (WAL lets a reader in): the ledger's rows, integrity.
CHECK_SCRIPT = """
import json, sqlite3
db = sqlite3.connect("file:/var/lib/appliance/appliance.db?mode=ro", uri=True)
rows = db.execute("SELECT reason, count(*) FROM consultation WHERE reason LIKE 'coupure %' GROUP BY reason").fetchall()
print(json.dumps({"integrity": db.execute("PRAGMA integrity_check").fetchone()[0], "visits": dict(rows)}))
"""
# Everything checked after a boot, in one SSH round trip (each costs seconds on the emulated Pi): run as
# root, the database read as the service user (a root reader would leave root-owned -wal/-shm files).
AFTER_BOOT_SCRIPT = f"""
import json, subprocess
def run(*command):
    return subprocess.run(command, capture_output=True, text=True).stdout.strip()
state = run("systemctl", "is-system-running", "--wait")
card = run("runuser", "-u", "appliance", "--", "/opt/appliance/venv/bin/python", "-c", {CHECK_SCRIPT!r})
print(json.dumps({{"state": state, "failed": run("systemctl", "--failed", "--no-legend", "--plain"),
                  "fsck": run("journalctl", "-b", "-o", "cat", "-u", "systemd-fsck*", "--no-pager"),
                  "boot_mount": run("findmnt", "-no", "OPTIONS", "/boot/firmware"), **json.loads(card)}}))
"""


@dataclass
class Cycle:
    number: int
    cut_after_s: float
    acknowledged: int
    in_flight: int
    boot_s: float
    lost: list[str]
    doubled: list[str]
    integrity: str
    system_state: str
    failed_units: str
    fsck: list[str]
    boot_fat_dirty: bool  # the cut caught the boot partition mounted read-write
    boot_mount: str  # its mount options after the boot ("ro,…")

    @property
    def ok(self) -> bool:
        return (not self.lost and not self.doubled and self.integrity == "ok" and self.system_state == "running"
                and not self.failed_units and not self.boot_fat_dirty and self.boot_mount.startswith("ro,"))


@dataclass
class Writer:
    """One nurse recording visits as fast as the EMR answers, until the power goes."""

    staff: Staff
    patient_id: int
    cycle: int | str
    acknowledged: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        number = 0
        while not self.stop.is_set():
            number += 1
            reason = f"coupure {self.cycle}-{number}"
            self.in_flight = [reason]
            try:
                self.staff.record_visit(self.patient_id, reason)
            except (OSError, http.client.HTTPException):
                return  # the machine is gone: this one's answer never came
            self.acknowledged.append(reason)
            self.in_flight = []


@contextlib.contextmanager
def nurse_writing(staff: Staff, patient_id: int, cycle: int | str, ledger: dict[str, int]) -> Iterator[Writer]:
    """A nurse records visits from another thread while the block runs (the power cut, or the box rebooting
    by itself, happens inside it). Leaving it, the ledger holds each acknowledged visit as 1 and the one
    whose answer never came as 0."""
    writer = Writer(staff, patient_id, cycle)
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    try:
        yield writer
    finally:
        writer.stop.set()
        thread.join(timeout=120)
        ledger.update(dict.fromkeys(writer.acknowledged, 1))
        ledger.update(dict.fromkeys(writer.in_flight, 0))


def lost_visits(ledger: dict[str, int], visits: dict[str, int]) -> list[str]:
    """The acknowledged visits (1 in the ledger) the card does not hold exactly once. An in-flight visit
    that did land is part of the record from now on, like any other."""
    lost = sorted(reason for reason, expected in ledger.items() if expected == 1 and visits.get(reason, 0) != 1)
    ledger.update({reason: 1 for reason in visits if reason in ledger})
    return lost


def check_card(machine: Machine) -> dict:
    """Once every unit has started: system state, failed units, fsck's words, the boot partition's
    mount and the database (integrity, the ledger's visits)."""
    result = machine.ssh("sudo /opt/appliance/venv/bin/python -", stdin=AFTER_BOOT_SCRIPT, timeout=400)
    return json.loads(result.stdout)


def fsck_lines(machine: Machine, journal: str) -> list[str]:
    """What fsck said at this boot: the root's in the initramfs (console), the others in the journal."""
    console = [line for line in machine.console().splitlines() if "fsck" in line.lower() or "recover" in line]
    return [line.strip() for line in [*console, *journal.splitlines()] if line.strip()][-20:]


def power_cut_cycle(machine: Machine, staff: Staff, patient_id: int, number: int, ledger: dict[str, int],
                    rng: random.Random, *, cut_between: tuple[float, float] = (2.0, 25.0)) -> Cycle:
    """Write, cut the power at a random instant, boot again and check everything the ledger holds.

    ``ledger`` maps each acknowledged visit to 1 across cycles; in-flight ones are kept with 0 (either
    count is fine for them, 2 never is).
    """
    with nurse_writing(staff, patient_id, number, ledger) as writer:
        cut_after = round(rng.uniform(*cut_between), 1)
        time.sleep(cut_after)
        machine.power_cut()
    fat_dirty = boot_partition_dirty(machine.card)

    machine.start()
    boot_s = machine.wait_for_http(timeout=900)
    machine.wait_for_ssh()
    found = check_card(machine)
    visits: dict[str, int] = found["visits"]
    doubled = sorted(reason for reason, count in visits.items() if count > 1 or reason not in ledger)
    lost = lost_visits(ledger, visits)
    return Cycle(number=number, cut_after_s=cut_after, acknowledged=len(writer.acknowledged),
                 in_flight=len(writer.in_flight), boot_s=boot_s, lost=lost, doubled=doubled,
                 integrity=found["integrity"], system_state=found["state"], failed_units=found["failed"],
                 fsck=fsck_lines(machine, found["fsck"]), boot_fat_dirty=fat_dirty, boot_mount=found["boot_mount"])


def admin_on(machine: Machine, sheet_admin_password: str) -> Staff:
    """The administrator's first login with the sheet's provisional password."""
    admin = Staff(machine.http_port)
    admin.first_login("admin", sheet_admin_password)
    return admin


def nurse_on(machine: Machine, sheet_admin_password: str, admin: Staff | None = None) -> tuple[Staff, int]:
    """A nurse account made by the administrator, her first login and one patient to write on."""
    admin = admin or admin_on(machine, sheet_admin_password)
    provisional = admin.create_user("infirmier1", "infirmier")
    nurse = Staff(machine.http_port)
    nurse.first_login("infirmier1", provisional)
    patient_id = nurse.register_patient("Coulibaly", "Awa")
    return nurse, patient_id


def wait_ready(machine: Machine, staff: Staff) -> None:
    """After a boot, the nurse's session (signed with the card's own secret key) still opens the EMR."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            if staff.request("GET", "/")[0] == 200:
                return
        time.sleep(1)
    raise machine.fail("l'EMR ne répond plus à l'infirmière après le redémarrage")
