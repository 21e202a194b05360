"""The 3G bill of a month, from bytes measured on the booted card: ``threeg_bytes_per_month`` (budget 5 MB).

What leaves through the modem's path, counted by nftables on the card itself (IP packets both ways, TCP
and TLS included) during one real upload window of the agent: the telemetry connection to the fleet's
broker and the delivery of one sealed monthly report to DHIS2. A month is then:

- every upload window's telemetry (two windows a day, ``UploadSettings.windows``), thirty days;
- the monthly report, twice (the first version and one correction, as a month often has);
- the off-site copy: restic's bytes added by a busy week (``offsite_backup_bytes_week`` of ``make bench``,
  bench_backup.py: seven days of work, sent once), 30 / ``backup.offsite_every_days`` times a month, as
  the agent queues it (weekly by default); the local and stick copies stay nightly and cost no 3G.

Merged into build/bench/results.json with each part's share (``threeg_share_*``); ``make bench`` computes
the month again once it has measured the off-site week (``month_bill``).
"""

from __future__ import annotations

import json
import re

from appliance.settings.backup import BackupSettings
from appliance.settings.uploads import UploadSettings
from tests.bench.run import RESULTS
from tests.boot.machine import HOST_FROM_GUEST, Machine
from tests.boot.soak import merge_results

DAYS = 30
REPORT_VERSIONS_PER_MONTH = 2
# bench_backup's offsite_backup_bytes_day as last measured (issue #14: "about 154 KB a day"), used when
# build/bench/results.json does not hold a fresher one.
OFFSITE_BYTES_DAY_LAST_MEASURED = 154_000
TABLE = "appliance_bill"


def start_counting(machine: Machine, ports: dict[str, int]) -> None:
    """A table of counters on the card: bytes to and from each of the host's servers, by name."""
    rules = [f"add table inet {TABLE}",
             f"add chain inet {TABLE} out {{ type filter hook output priority -10 ; }}",
             f"add chain inet {TABLE} in {{ type filter hook input priority -10 ; }}"]
    for name, port in ports.items():
        rules.append(f'add rule inet {TABLE} out ip daddr {HOST_FROM_GUEST} tcp dport {port} counter comment "{name}"')
        rules.append(f'add rule inet {TABLE} in ip saddr {HOST_FROM_GUEST} tcp sport {port} counter comment "{name}"')
    machine.ssh("sudo nft -f -", stdin="\n".join(rules) + "\n")


def counted(machine: Machine) -> dict[str, int]:
    """Bytes both ways per server since ``start_counting``; the table is removed."""
    listing = json.loads(machine.ssh(f"sudo nft -j list table inet {TABLE}").stdout)
    machine.ssh(f"sudo nft delete table inet {TABLE}")
    totals: dict[str, int] = {}
    for item in listing["nftables"]:
        rule = item.get("rule")
        if not rule:
            continue
        counter = next(expr["counter"] for expr in rule["expr"] if "counter" in expr)
        name = re.sub(r"\W", "", rule.get("comment", ""))
        totals[name] = totals.get(name, 0) + counter["bytes"]
    return totals


def month_bill(results: dict) -> dict:
    """The month's bill from the figures in ``results``: the window's telemetry and the report measured on
    the card (``record``), the off-site week measured by ``make bench``. Whichever of the two runs last
    computes it, so the total always uses the weekly copy once bench has measured it (``make test`` runs
    the boot tests before ``make bench`` on a fresh clone)."""
    window_telemetry_bytes = results["threeg_window_telemetry_bytes"]
    report_bytes = results["threeg_dhis2_report_bytes"]
    windows = len(UploadSettings().windows) * DAYS
    offsite_week = results.get("offsite_backup_bytes_week")
    if offsite_week:
        offsite = round(offsite_week * DAYS / BackupSettings().offsite_every_days)
    else:
        # No measured week yet: the nightly rhythm's bill, an upper bound, until bench measures the week.
        # A week is not seven days scaled down, so no figure is derived from the day's.
        offsite = DAYS * (results.get("offsite_backup_bytes_day") or OFFSITE_BYTES_DAY_LAST_MEASURED)
    parts = {"telemetry": windows * window_telemetry_bytes,
             "dhis2": REPORT_VERSIONS_PER_MONTH * report_bytes,
             "offsite_backup": offsite}
    total = sum(parts.values())
    return {
        "threeg_bytes_per_month": total,
        "threeg_offsite_measured_weekly": bool(offsite_week),
        **{f"threeg_share_{name}": round(amount / total, 3) for name, amount in parts.items()},
    }


def record(window_telemetry_bytes: int, report_bytes: int) -> dict:
    """Merge the bytes measured on the card, and the month they make with what bench measured."""
    merge_results({"threeg_window_telemetry_bytes": window_telemetry_bytes,
                   "threeg_dhis2_report_bytes": report_bytes})
    results = json.loads(RESULTS.read_text())
    figures = month_bill(results)
    merge_results(figures)
    return figures
