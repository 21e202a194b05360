"""The health area's population (per year and village) and the targets per coverage indicator,
as the médecin chef enters them (every change audited through ``store.audit.audited_save``).
The schema is created by the frozen migration m0090 (keep both in step)."""

from __future__ import annotations

import peewee

from appliance.store.db import BaseModel
from appliance.store.models import utcnow


class AreaPopulation(BaseModel):
    """Inhabitants of one village of the health area for one year (census or district estimate)."""

    year = peewee.IntegerField()
    village = peewee.TextField()  # as typed
    village_key = peewee.TextField()  # patients.normalize.place_key: the record's villages match it
    inhabitants = peewee.IntegerField()  # 0: no longer in the area this year
    source = peewee.TextField(default="")  # « recensement 2022 », « estimation du district »
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "area_population"
        indexes = ((("year", "village_key"), True),)


class CoverageTarget(BaseModel):
    """The head's objective (in %) for one coverage indicator and one year."""

    year = peewee.IntegerField()
    indicator = peewee.TextField()  # a code of facility/data/coverage.toml
    target_pct = peewee.FloatField()
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "coverage_target"
        indexes = ((("year", "indicator"), True),)
