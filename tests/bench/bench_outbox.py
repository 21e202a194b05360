"""The outbox and the DHIS2 wire: ``outbox_flush_1000_s`` delivers 1,000 monthly reports (different
org units and months, demo mapping, every cell sent) to the local fake DHIS2 without faults, through
the real path (SQLite WAL/FULL commits before and after each request, gzip, HTTP keep-alive).
``outbox_flush_1000_wire_kb``: the bytes those 1,000 exchanges put on the wire (HTTP level).
``report_payload_bytes_gzip_full_month``: the gzipped payload of a demo-mapping month where every
cell is non-zero with three-digit counts (the worst case; ``report_payload_bytes_gzip`` from
bench_reports is the real month built from the 100k-patient record). Budget: ≤ 8 KB.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
from pathlib import Path

REPORTS = 1000


def run() -> dict:
    from appliance import config as config_module
    from appliance.dhis2.mapping import load_mapping
    from appliance.dhis2.payload import payload_for
    from appliance.reports.delivery import enqueue_report
    from appliance.reports.figures import ReportFigures
    from appliance.settings.dhis2 import DEMO_MAPPING
    from appliance.store import open_and_migrate
    from appliance.store.db import database
    from appliance.wiring import compose_outbox
    from tests.fakes.dhis2_fixtures import write_config
    from tests.fakes.fake_dhis2 import FakeDhis2, Metadata

    mapping = load_mapping(DEMO_MAPPING)
    cells = [cell.key for cell in mapping.cells()]
    rng = random.Random(3)
    worst = ReportFigures("2024-03", {cell: rng.randint(100, 999) for cell in cells})
    worst_gzip = len(payload_for(worst, mapping, complete_date=dt.date(2024, 4, 2)).gzipped())

    units = [f"Ou{n:09d}" for n in range(40)]
    months = [f"{year}-{month:02d}" for year in range(2022, 2025) for month in range(1, 13)][:REPORTS // len(units)]
    metadata = Metadata.from_mapping_file()
    for unit in units:
        metadata.add_org_unit(unit, unit)
    with tempfile.TemporaryDirectory() as tmp, FakeDhis2(metadata) as fake:
        cfg = config_module.load(write_config(Path(tmp), fake.url))
        db = open_and_migrate(cfg.paths.database)
        with database.atomic():
            for unit in units:
                for month in months:
                    figures = ReportFigures(month, {cell: rng.randint(1, 99) for cell in rng.sample(cells, 40)},
                                            org_unit=unit)
                    enqueue_report(figures, report_ref=f"report:{unit}:{month}", version=1,
                                   complete_date=dt.date(2024, 4, 2))
        box = compose_outbox(cfg)
        started = time.perf_counter()
        report = box.flush()
        elapsed = time.perf_counter() - started
        db.close()
    if report.delivered != REPORTS:
        raise RuntimeError(f"bench_outbox: {report.summary_fr()}")
    return {
        "outbox_flush_1000_s": round(elapsed, 2),
        "outbox_flush_1000_wire_kb": round((report.bytes_sent + report.bytes_received) / 1024),
        "report_payload_bytes_gzip_full_month": worst_gzip,
    }
