"""Monthly facility report: counts by sex and age band from the patient record, sealed versions,
CSV, and the figures handed to DHIS2 through the outbox.

- ``data/indicators.toml``: every indicator, its French label and the SQL rule choosing its records;
- ``definitions``: reads that file; ``ages``: age bands in completed years;
- ``builder``: one aggregate query per indicator (GROUP BY sex, age band) and the drill-down lists;
- ``models`` / ``sealing``: versions sealed by the facility head, enqueued in the same transaction;
- ``export``: the CSV download.

The section [reports] is ``appliance.settings.reports``.
"""
