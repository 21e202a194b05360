"""A busy morning and a quiet night on the emulated Pi, measured from inside the guest: the memory the whole
machine uses with ten staff browsing and writing at once (``vm_used_mb_10_staff``, budget 256 of 512 MB)
and what the card receives in writes (``sd_bytes_written_per_day``, budget 50 MB), with who writes most.

Memory is MemTotal - MemAvailable of the guest (page cache the kernel can drop is not "used"); writes
are the card's own sector counter (/sys/block/vda/stat) and each process's ``write_bytes``.
"""

from __future__ import annotations

import http.client
import threading
import time

from tests.boot.machine import Machine
from tests.boot.staff import Staff

FAMILIES = ("Diarra", "Traoré", "Coulibaly", "Keïta", "Konaté", "Sissoko", "Dembélé", "Sangaré", "Touré", "Cissé")
FIRST_NAMES = ("Mariam", "Oumou", "Fanta", "Kadiatou", "Aminata", "Rokia", "Salimata", "Djeneba", "Hawa", "Nana")
# A busy CSCom's day, as bench_backup's (DAY_VISITS: 150 visits of every kind).
VISITS_PER_DAY = 150

PROCESS_WRITES = r"""
for p in /proc/[0-9]*; do
  w=$(sed -n 's/^write_bytes: //p' $p/io 2>/dev/null) || continue
  [ -n "$w" ] && [ "$w" != 0 ] && echo "$w $(cat $p/comm 2>/dev/null)"
done
exit 0
"""


def memory_used_mb(machine: Machine) -> float:
    fields = dict(line.split(":", 1) for line in machine.ssh("cat /proc/meminfo").stdout.splitlines())
    kb = int(fields["MemTotal"].split()[0]) - int(fields["MemAvailable"].split()[0])
    return round(kb / 1024, 1)


def card_bytes_written(machine: Machine) -> int:
    return int(machine.ssh("cat /sys/block/vda/stat").stdout.split()[6]) * 512


def writers(machine: Machine) -> dict[str, int]:
    totals: dict[str, int] = {}
    for line in machine.ssh("sudo sh -s", stdin=PROCESS_WRITES).stdout.splitlines():
        amount, _, name = line.partition(" ")
        totals[name] = totals.get(name, 0) + int(amount)
    return totals


def team(admin: Staff, port: int, count: int) -> list[tuple[Staff, int]]:
    """``count`` colleagues created by the administrator, each logged in with one patient of her own."""
    members = []
    for number in range(count):
        provisional = admin.create_user(f"soignant{number}", "infirmier" if number % 2 else "sage_femme")
        member = Staff(port)
        member.first_login(f"soignant{number}", provisional)
        # Names far apart, so that the EMR's "is this the same person?" check does not stop the form.
        patient = member.register_patient(FAMILIES[number % len(FAMILIES)], FIRST_NAMES[number % len(FIRST_NAMES)],
                                          f"{1970 + 3 * number}-0{1 + number % 9}-1{number % 9}")
        members.append((member, patient))
    return members


def busy(members: list[tuple[Staff, int]], seconds: float) -> tuple[int, int]:
    """Every member browses and writes as fast as the EMR answers; returns (pages read, visits written)."""
    stop = time.monotonic() + seconds
    counts = {"read": 0, "written": 0, "errors": 0}
    lock = threading.Lock()

    def work(member: Staff, patient_id: int) -> None:
        turn = 0
        while time.monotonic() < stop:
            turn += 1
            try:
                for path in ("/", "/patients/?q=diarra", f"/patients/{patient_id}", "/a-revoir"):
                    member.request("GET", path)
                member.record_visit(patient_id, f"charge {turn}")
                with lock:
                    counts["read"] += 4
                    counts["written"] += 1
            except (OSError, http.client.HTTPException):
                with lock:
                    counts["errors"] += 1

    threads = [threading.Thread(target=work, args=member, daemon=True) for member in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts["read"], counts["written"]


def measure(machine: Machine, admin: Staff, *, staff: int = 10, busy_s: float = 300, idle_s: float = 300) -> dict:
    members = team(admin, machine.http_port, staff)
    samples: list[float] = []
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            samples.append(memory_used_mb(machine))
            sampling.wait(5)

    before_bytes, before_writers = card_bytes_written(machine), writers(machine)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.monotonic()
    pages, visits = busy(members, busy_s)
    busy_elapsed = time.monotonic() - began
    sampling.set()
    sampler.join()
    after_busy = card_bytes_written(machine)
    time.sleep(idle_s)
    after_idle, after_writers = card_bytes_written(machine), writers(machine)
    busy_per_hour = (after_busy - before_bytes) * 3600 / busy_elapsed
    idle_per_hour = (after_idle - after_busy) * 3600 / idle_s
    # Ten staff writing as fast as the EMR answers make far more visits an hour than a clinic's day: the card's
    # bytes per visit (its pages read included) times a busy CSCom's day, on top of the idle rate all day.
    per_visit = (after_busy - before_bytes - idle_per_hour * busy_elapsed / 3600) / max(visits, 1)
    per_day = per_visit * VISITS_PER_DAY + idle_per_hour * 24
    top = sorted(((after_writers.get(name, 0) - before_writers.get(name, 0), name) for name in after_writers),
                 reverse=True)[:5]
    oom = machine.ssh("sudo journalctl -k -b --no-pager | grep -ci 'out of memory' || true").stdout.strip()
    swap = machine.ssh("grep -E '^pswp(in|out) ' /proc/vmstat").stdout.split()
    return {
        "vm_used_mb_10_staff": max(samples),
        "vm_used_mb_idle": min(samples),
        "vm_oom_kills_10_staff": int(oom or 0),
        "vm_swap_pages_10_staff": int(swap[1]) + int(swap[3]),
        "vm_pages_read_10_staff": pages,
        "vm_visits_written_10_staff": visits,
        "sd_bytes_written_busy_hour": round(busy_per_hour),
        "sd_bytes_written_idle_hour": round(idle_per_hour),
        "sd_bytes_written_per_visit": round(per_visit),
        "sd_bytes_written_per_day": round(per_day),
        "sd_top_writers": {name: amount for amount, name in top if amount > 0},
    }
