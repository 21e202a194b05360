"""Sending sealed monthly reports to DHIS2: the outbox sender of ``dhis2.report`` items.

``appliance.reports.delivery`` queues them at sealing time. The item holds the figures, not the
DHIS2 payload: the payload is built from the mapping in force when it is sent, so a report queued
before a mapping fix goes out corrected, and ``appliance dhis2 payload`` shows exactly what the
next attempt will send.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from appliance.dhis2.client import CredentialsError, Dhis2Client, TransportError
from appliance.dhis2.mapping import SIMR_MAPPING, Dhis2Mapping, MappingError, load_mapping
from appliance.dhis2.payload import DataValueSetPayload, PayloadError, payload_overwriting
from appliance.dhis2.replies import classify_import_reply, classify_transport_error
from appliance.outbox.models import OutboxItem
from appliance.outbox.outcome import Outcome, OutcomeKind
from appliance.reports.delivery import KIND
from appliance.reports.figures import FiguresError, ReportFigures
from appliance.reports.simr import KIND as SIMR_KIND
from appliance.settings.dhis2 import Dhis2Settings

if TYPE_CHECKING:
    from appliance.config import Config

def site_mapping(settings: Dhis2Settings) -> Dhis2Mapping:
    """The mapping file with this site's data set / org unit / attribute option combo applied."""
    return load_mapping(settings.mapping_file).with_target(
        data_set=settings.data_set,
        org_unit=settings.org_unit,
        attribute_option_combo=settings.attribute_option_combo,
    )


def simr_mapping(settings: Dhis2Settings) -> Dhis2Mapping:
    """The weekly SIMR data set's mapping, sent for the site's own org unit and attribute option combo."""
    site = site_mapping(settings)
    return load_mapping(SIMR_MAPPING).with_target(org_unit=site.org_unit or "",
                                                  attribute_option_combo=site.attribute_option_combo)


def payload_of_item(item: OutboxItem, settings: Dhis2Settings, mapping: Dhis2Mapping) -> DataValueSetPayload:
    """What sending this outbox item would POST now (FiguresError / PayloadError if it cannot)."""
    data = item.load_payload()
    figures = ReportFigures.from_json_dict(data["figures"])
    must_overwrite = {(indicator, disaggregation) for indicator, disaggregation in data["previous_nonzero"]}
    complete = dt.date.fromisoformat(data["complete_date"]) if data.get("complete_date") else None
    return payload_overwriting(
        figures,
        mapping,
        must_overwrite,
        zeros=settings.zeros,
        complete_date=complete if settings.complete_data_set else None,
    )


class Dhis2ReportSender:
    """The outbox sender of ``dhis2.report`` items. Credentials and mapping are read at each flush."""

    def __init__(self, settings: Dhis2Settings, secrets_dir: Path, mapping_of=site_mapping) -> None:
        self._settings = settings
        self._mapping_of = mapping_of
        self._secrets_dir = secrets_dir
        self._client: Dhis2Client | None = None
        self._mapping: Dhis2Mapping | None = None

    def __call__(self, item: OutboxItem) -> Outcome:
        try:
            if self._mapping is None:
                self._mapping = self._mapping_of(self._settings)
            payload = payload_of_item(item, self._settings, self._mapping)
            if self._client is None:
                self._client = Dhis2Client.from_settings(self._settings, self._secrets_dir)
        except (MappingError, FiguresError, PayloadError, CredentialsError) as exc:
            return Outcome(OutcomeKind.NEEDS_ACTION, f"envoi impossible : {exc}")
        try:
            exchange = self._client.post_data_value_set(payload.to_json_bytes())
        except TransportError as exc:
            return classify_transport_error(exc)
        return classify_import_reply(exchange, payload)

    def close(self) -> None:
        """End of a flush: drop the connection and forget credentials and mapping until the next."""
        if self._client is not None:
            self._client.close()
        self._client = None
        self._mapping = None


def outbox_senders(cfg: Config) -> dict[str, Dhis2ReportSender]:
    """Senders this package gives the outbox; none until DHIS2 is configured (reports then wait)."""
    if not cfg.dhis2.configured:
        return {}
    return {KIND: Dhis2ReportSender(cfg.dhis2, cfg.paths.secrets_dir),
            SIMR_KIND: Dhis2ReportSender(cfg.dhis2, cfg.paths.secrets_dir, simr_mapping)}
