"""Sealing: versions, late corrections, and the outbox item written in the sealing transaction."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from appliance.outbox.models import ItemState, OutboxItem
from appliance.patients.models import AntenatalVisit, Consultation
from appliance.reports import sealing
from appliance.reports.delivery import KIND, report_deliveries
from appliance.reports.models import ReportRecord, ReportVersion
from appliance.reports.sealing import SealError, latest_version, seal, sealed_report, versions_of
from appliance.settings.reports import ReportSettings
from appliance.store.audit import Actor
from appliance.store.db import database
from appliance.store.models import AuditEntry
from tests.reports.factories import make_patient, make_visit

SETTINGS = ReportSettings()
AFTER_MARCH = dt.date(2024, 4, 2)


@pytest.fixture
def head(make_user) -> Actor:
    user = make_user("medecin")
    return Actor(user.id, user.username, user.role)


@pytest.fixture
def march(store):
    woman = make_patient("F", "1998-01-01")
    first = make_visit(AntenatalVisit, woman, "2024-03-04", contact_number=1)
    child = make_patient("M", "2022-05-05")
    make_visit(Consultation, child, "2024-03-10", diagnosis_code="B50.9")
    return {"woman": woman, "first": first, "child": child}


def test_sealing_stores_the_figures_and_queues_them_in_one_go(head, march):
    version = seal(head, "2024-03", SETTINGS, today=AFTER_MARCH)
    assert (version.number, version.sealed_by_name, version.sealed_role) == (1, head.username, "medecin")
    assert version.figures.values[("cpn1", "F_25_49")] == 1
    assert version.figures.values[("cons_paludisme", "M_1_4")] == 1
    assert json.loads(version.age_bands) == [0, 1, 5, 15, 25, 50]
    item = OutboxItem.get_by_id(version.outbox_item_id)
    payload = item.load_payload()
    assert (item.kind, item.state, item.ref) == (KIND, ItemState.PENDING, f"report:{version.report_id}")
    assert payload["figures"] == version.figures.to_json_dict()
    assert payload["report"] == {"ref": f"report:{version.report_id}", "version": 1}
    assert payload["complete_date"] == "2024-04-02" and payload["previous_nonzero"] == []
    assert AuditEntry.select().where(AuditEntry.table_name == "report_version").count() == 1
    (delivery,) = report_deliveries(f"report:{version.report_id}")
    assert delivery.state_label == "En attente d'envoi"


def test_a_month_cannot_be_sealed_before_it_is_over(head, march):
    with pytest.raises(SealError, match=r"mars 2024 n'est pas terminé.*01/04/2024"):
        seal(head, "2024-03", SETTINGS, today=dt.date(2024, 3, 31))
    assert not ReportRecord.select().exists() and not OutboxItem.select().exists()


def test_a_late_correction_is_a_new_version_and_the_old_one_stays_readable(head, march):
    first = seal(head, "2024-03", SETTINGS, today=AFTER_MARCH)
    with pytest.raises(SealError, match="motif de la correction"):
        seal(head, "2024-03", SETTINGS, today=AFTER_MARCH)
    with pytest.raises(SealError, match="Aucun chiffre n'a changé depuis la version 1"):
        seal(head, "2024-03", SETTINGS, reason="vérification", today=AFTER_MARCH)

    # Found in April: the CPN1 was a CPN2 (typed wrong), and a consultation was never entered.
    march["first"].contact_number = 2
    march["first"].save()
    make_visit(Consultation, march["woman"], "2024-03-20", diagnosis_code="I10")
    second = seal(head, "2024-03", SETTINGS, reason="  CPN1 corrigée en CPN2,\n consultation oubliée ",
                  today=dt.date(2024, 4, 9))

    assert second.number == 2 and second.reason == "CPN1 corrigée en CPN2, consultation oubliée"
    assert second.figures.values[("cpn1", "F_25_49")] == 0
    assert second.figures.values[("cons_hta", "F_25_49")] == 1
    old = ReportVersion.get_by_id(first.id)
    assert old.figures.values[("cpn1", "F_25_49")] == 1  # unchanged, still readable
    assert sealed_report(old).total("cpn1") == 1 and sealed_report(second).total("cpn1") == 0
    assert [version.number for version in versions_of("2024-03")] == [1, 2]
    assert latest_version("2024-03").id == second.id
    payload = OutboxItem.get_by_id(second.outbox_item_id).load_payload()
    assert ["cpn1", "F_25_49"] in payload["previous_nonzero"]  # the cell that went back to zero is resent
    items = list(OutboxItem.select().order_by(OutboxItem.id))
    assert [item.state for item in items] == [ItemState.SUPERSEDED, ItemState.PENDING]  # v1 never left


def test_a_failure_after_sealing_rolls_back_the_version_and_its_outbox_item(head, march):
    with pytest.raises(RuntimeError, match="coupure"), database.atomic():
        seal(head, "2024-03", SETTINGS, today=AFTER_MARCH)
        raise RuntimeError("coupure pendant la suite de la requête")
    assert not ReportVersion.select().exists()
    assert not OutboxItem.select().exists()
    assert not ReportRecord.select().exists()


def test_a_failure_while_writing_the_version_takes_the_queued_item_with_it(head, march, monkeypatch):
    real_save = sealing.audited_save

    def failing_save(actor, instance, **kwargs):
        if isinstance(instance, ReportVersion):
            raise OSError("disque plein")
        return real_save(actor, instance, **kwargs)

    monkeypatch.setattr(sealing, "audited_save", failing_save)
    with pytest.raises(OSError, match="disque plein"):
        seal(head, "2024-03", SETTINGS, today=AFTER_MARCH)
    assert not OutboxItem.select().exists() and not ReportVersion.select().exists()
    monkeypatch.undo()
    assert seal(head, "2024-03", SETTINGS, today=AFTER_MARCH).number == 1  # nothing half-done in the way


def test_two_heads_sealing_at_once_make_one_version(head, march):
    import threading

    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def seal_now() -> None:
        barrier.wait()
        try:
            outcomes.append(f"v{seal(head, '2024-03', SETTINGS, today=AFTER_MARCH).number}")
        except SealError as exc:
            outcomes.append(str(exc))
        finally:
            database.close()

    threads = [threading.Thread(target=seal_now) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes)[0] == "Le rapport de mars 2024 est déjà scellé (version 1) : indiquez le motif de la " \
                                  "correction pour sceller une nouvelle version."
    assert sorted(outcomes)[1] == "v1"
    assert ReportVersion.select().count() == 1 and OutboxItem.select().count() == 1
