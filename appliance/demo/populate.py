"""One demo run: the accounts' authors, the generated households in one transaction, the
follow-up lists derived once, and the area's population for the coverage page."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass, field

import peewee

from appliance.config import Config
from appliance.demo.accounts import ensure_demo_users
from appliance.demo.generator import Generator
from appliance.followup.service import recompute_all
from appliance.patients.models import LocalNumberSequence, Patient
from appliance.store.audit import record_event, system_actor
from appliance.store.db import database
from appliance.store.models import User

DEFAULT_SITE = "demo-cscom"


@dataclass
class DemoReport:
    patients: int = 0
    households: int = 0
    rows: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    skipped: bool = False


def seed_demo(target: Config | peewee.Database, patients: int, seed: int, *,
              today: dt.date | None = None) -> dict[str, str]:
    """Demo accounts (if missing) and ``patients`` synthetic patients (if the record is empty).

    ``target`` is the configuration (its database is opened and migrated if not already) or an
    open database. Returns the credentials of the accounts created now.
    """
    site_id = target.site.id if isinstance(target, Config) else DEFAULT_SITE
    own = _bind(target)
    try:
        credentials = ensure_demo_users()
        populate(patients, seed, site_id=site_id, today=today)
    finally:
        if own is not None:
            own.close()
    return credentials


def _bind(target: Config | peewee.Database) -> peewee.Database | None:
    """Use ``target``'s database; return it if this call opened it (so it closes it)."""
    if not isinstance(target, Config):
        database.initialize(target)
        return None
    path = str(target.paths.database)
    if database.obj is not None and getattr(database.obj, "database", None) == path and not database.is_closed():
        return None
    from appliance.store import open_and_migrate

    return open_and_migrate(target.paths.database)


def populate(patients: int, seed: int, *, site_id: str = DEFAULT_SITE, today: dt.date | None = None,
             years: int = 3) -> DemoReport:
    """Generate about ``patients`` patients (whole households, so a few more) with ``years`` of
    visits, unless the record already holds patients. All in one transaction."""
    report = DemoReport()
    if patients <= 0 or Patient.select().exists():
        report.skipped = True
        return report
    began = time.perf_counter()
    users: dict[str, list[int]] = {}
    for user in User.select(User.id, User.role).where(User.active == True):  # noqa: E712
        users.setdefault(user.role, []).append(user.id)
    generator = Generator(seed, today or dt.date.today(), years, site_id, users)
    with database.atomic():
        for _ in generator.people(patients):
            pass
        generator.flush()
        report.patients = generator.tables["patient"].count
        report.households = generator.tables["household"].count
        LocalNumberSequence.insert(prefix=generator.prefix, last_value=generator.next_serial - 1).on_conflict(
            conflict_target=[LocalNumberSequence.prefix],
            update={LocalNumberSequence.last_value: generator.next_serial - 1}).execute()
        report.rows = Counter({name: table.count for name, table in generator.tables.items()})
        record_event(system_actor("demo-data"), "demo_data", "patient",
                     reason=f"{report.patients} patients de démonstration (graine {seed}), "
                            f"{sum(report.rows.values())} lignes")
        recompute_all(generator.today)  # rows inserted past the visit hooks: derive the follow-up lists once
        _area_population(generator.today, years)
    report.seconds = time.perf_counter() - began
    return report


DEMO_COVERAGE_OF_AREA = 0.7  # the demo's records hold about 70 % of the area's inhabitants


def _area_population(today: dt.date, years: int) -> None:
    """The health area's inhabitants per village for each demo year (the head's figures, audited),
    so the coverage page of ``make run`` has its denominators."""
    from appliance.facility.population import record_village

    actor = system_actor("demo-data")
    villages = database.execute_sql(
        "SELECT MIN(village), COUNT(*) FROM patient WHERE voided = 0 GROUP BY village_key ORDER BY 1").fetchall()
    for year in range(today.year - years + 1, today.year + 1):
        for village, people in villages:
            record_village(actor, year, village, round(people / DEMO_COVERAGE_OF_AREA), "démonstration")
