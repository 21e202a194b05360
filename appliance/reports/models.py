"""Sealed monthly reports: one row per month, one row per sealed version with its figures.

A version is never changed: a late correction seals a new one. Its figures are stored as JSON
(``ReportFigures.to_json_dict``) with what produced them (the hash of indicators.toml, the age bands,
the lost-to-follow-up delay), so an old version stays readable and explainable after the rules change.
"""

from __future__ import annotations

import json

import peewee

from appliance.outbox.models import OutboxItem
from appliance.reports.figures import ReportFigures
from appliance.store.db import BaseModel
from appliance.store.models import User, utcnow


class ReportRecord(BaseModel):
    """One month's report (its sealed versions hang from it); the figures computed now are
    ``appliance.reports.builder.MonthlyReport``."""

    period = peewee.TextField(unique=True)  # "2024-03"
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "monthly_report"

    @property
    def ref(self) -> str:
        """The outbox's link back to this report (``OutboxItem.ref``)."""
        return f"report:{self.id}"


class ReportVersion(BaseModel):
    report = peewee.ForeignKeyField(ReportRecord, backref="versions", column_name="report_id", index=False,
                                lazy_load=False)
    number = peewee.IntegerField()  # 1, 2… per report
    figures_json = peewee.TextField()
    definitions_sha256 = peewee.TextField()
    age_bands = peewee.TextField()  # JSON list of lower bounds, e.g. [0, 1, 5, 15, 25, 50]
    lost_after_days = peewee.IntegerField()
    sealed_at = peewee.DateTimeField(default=utcnow)
    sealed_by = peewee.ForeignKeyField(User, null=True, column_name="sealed_by_id", index=False, lazy_load=False)
    sealed_by_name = peewee.TextField()
    sealed_role = peewee.TextField()
    reason = peewee.TextField(default="")  # why this version: required from version 2 on
    outbox_item = peewee.ForeignKeyField(OutboxItem, null=True, column_name="outbox_item_id", lazy_load=False)

    class Meta:
        table_name = "report_version"
        indexes = ((("report", "number"), True),)

    @property
    def figures(self) -> ReportFigures:
        return ReportFigures.from_json_dict(json.loads(self.figures_json))

    @property
    def bounds(self) -> list[int]:
        return list(json.loads(self.age_bands))
