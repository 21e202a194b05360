"""The soak: 1,000 monthly reports to the fake DHIS2 under 30 % injected faults, while the flusher (a
real ``python -m appliance outbox flush`` process) is killed with SIGKILL at random moments.

At the end the fake must hold every report's newest version exactly (each value created once), the
queue must hold nothing but the dead letters that must be (reports for an org unit DHIS2 does not
know), and attempts must show the kills really struck mid-delivery.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance import config as config_module
from appliance.dhis2.mapping import load_mapping
from appliance.reports.delivery import enqueue_report
from appliance.reports.figures import ReportFigures
from appliance.settings.dhis2 import DEMO_MAPPING
from appliance.store import open_and_migrate
from appliance.store.db import database
from tests.fakes.dhis2_fixtures import write_config
from tests.fakes.fake_dhis2 import FakeDhis2, FaultPlan, Metadata

REPO = Path(__file__).resolve().parents[2]
MAPPING = load_mapping(DEMO_MAPPING)
CELLS = [cell.key for cell in MAPPING.cells()]
UID_OF = {cell.key: (cell.indicator.data_element, cell.category_option_combo) for cell in MAPPING.cells()}
REPORTS = 1000
UNKNOWN_ORG_UNITS = 2  # × 5 months: ten reports DHIS2 must refuse (E7603), hence ten dead letters
SOAK_LIMIT_S = 240


def org_unit(n: int) -> str:
    return f"Ou{n:09d}"


def random_figures(rng: random.Random, period: str, unit: str) -> ReportFigures:
    chosen = rng.sample(CELLS, rng.randint(5, 60))
    return ReportFigures(period, {cell: rng.randint(1, 250) for cell in chosen}, org_unit=unit)


def corrected(rng: random.Random, figures: ReportFigures) -> ReportFigures:
    """A late correction: some cells back to zero, some changed, a few new."""
    values = dict(figures.values)
    for cell in rng.sample(sorted(values), max(1, len(values) // 4)):
        values[cell] = rng.choice([0, values[cell] + 1])
    for cell in rng.sample(CELLS, 3):
        values.setdefault(cell, rng.randint(1, 9))
    return ReportFigures(figures.period, values, org_unit=figures.org_unit)


def waiting_items(db_path: Path) -> int:
    connection = sqlite3.connect(db_path, timeout=10)
    try:
        query = "SELECT COUNT(*) FROM outbox_item WHERE state IN ('pending', 'sending')"
        return connection.execute(query).fetchone()[0]
    finally:
        connection.close()


@pytest.mark.slow
@pytest.mark.timeout(SOAK_LIMIT_S + 60)
def test_a_thousand_reports_arrive_exactly_once_despite_faults_and_kill_9(tmp_path: Path) -> None:
    rng = random.Random(20240501)
    months = [f"{year}-{month:02d}" for year in range(2022, 2025) for month in range(1, 13)][:25]
    units = [org_unit(n) for n in range(REPORTS // len(months))]
    metadata = Metadata.from_mapping_file()
    for unit in units:
        metadata.add_org_unit(unit, f"CSCom {unit}")
    plan = FaultPlan(rate=0.30, seed=11, timeout_s=0.5)
    with FakeDhis2(metadata, faults=plan) as fake:
        config_path = write_config(
            tmp_path, fake.url, timeout_s=0.25,
            outbox="max_attempts = 40\nbase_delay_s = 0.005\nmax_delay_s = 0.1\nlink_failures_before_stop = 4",
        )
        cfg = config_module.load(config_path)
        db = open_and_migrate(cfg.paths.database)
        newest: dict[tuple[str, str], ReportFigures] = {}
        with database.atomic():
            for unit in units:
                for month in months:
                    figures = random_figures(rng, month, unit)
                    enqueue_report(figures, report_ref=f"report:{unit}:{month}", version=1)
                    newest[(unit, month)] = figures
            doomed = [org_unit(900 + n) for n in range(UNKNOWN_ORG_UNITS)]
            for unit in doomed:
                for month in months[:5]:
                    enqueue_report(random_figures(rng, month, unit), report_ref=f"report:{unit}:{month}", version=1)
        corrections = rng.sample(sorted(newest), 60)

        kills = 0
        started = time.monotonic()
        command = [sys.executable, "-m", "appliance", "outbox", "flush", "--config", str(config_path),
                   "--deadline", "120"]
        while waiting_items(cfg.paths.database) and time.monotonic() - started < SOAK_LIMIT_S:
            flusher = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if kills < 25:
                time.sleep(rng.uniform(0.2, 1.2))  # short enough that 25 kills land before the queue drains
                if flusher.poll() is None:
                    os.kill(flusher.pid, signal.SIGKILL)
                    kills += 1
                flusher.wait()
                if kills == 5:  # late corrections sealed while deliveries are going on
                    with database.atomic():
                        for unit, month in corrections:
                            previous = newest[(unit, month)]
                            newest[(unit, month)] = corrected(rng, previous)
                            enqueue_report(newest[(unit, month)], report_ref=f"report:{unit}:{month}", version=2,
                                           previous=[previous])
            else:
                _, errors = flusher.communicate(timeout=SOAK_LIMIT_S)
                assert flusher.returncode == 0, errors.decode()[-2000:]

        assert waiting_items(cfg.paths.database) == 0, "the soak ran out of time with reports still waiting"
        assert kills >= 20
        assert plan.rate and fake.request_count > REPORTS * 1.3  # faults made retries happen

        for (unit, month), figures in newest.items():
            expected = {UID_OF[cell]: str(value) for cell, value in figures.values.items() if value}
            assert fake.values_for(unit, month.replace("-", "")) == expected, (unit, month)
        assert max(fake.created.values()) == 1  # no value was ever created twice

        states = dict(database.execute_sql("SELECT state, COUNT(*) FROM outbox_item GROUP BY state").fetchall())
        assert set(states) <= {"delivered", "superseded", "dead"}
        assert states["delivered"] + states.get("superseded", 0) == REPORTS + len(corrections)
        assert states["dead"] == UNKNOWN_ORG_UNITS * 5
        dead_refs = {ref for (ref,) in database.execute_sql("SELECT ref FROM outbox_item WHERE state = 'dead'")}
        assert dead_refs == {f"report:{unit}:{month}" for unit in doomed for month in months[:5]}
        interrupted = database.execute_sql(
            "SELECT COUNT(*) FROM outbox_attempt WHERE outcome = 'interrupted'").fetchone()[0]
        assert interrupted >= 1  # some kills struck between "sending" and the reply
        attempts = database.execute_sql("SELECT outcome, COUNT(*) FROM outbox_attempt GROUP BY outcome").fetchall()
        print(f"soak: {time.monotonic() - started:.0f} s, {kills} kills, {fake.request_count} requests, "
              f"attempts {dict(attempts)}, items {states}")
        db.close()
