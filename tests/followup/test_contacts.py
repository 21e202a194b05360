"""Contact attempts (calls, relays' home visits): what each outcome does to the lists, the
refusals of impossible entries with nothing half-saved, and the worklist's index use."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.followup import contacts, queries, service
from appliance.followup.contacts import ContactError, ContactFact, NewContact, derive
from appliance.followup.models import FollowupAlert, FollowupContact, FollowupItem, FollowupPatient
from appliance.followup.service import record_contact, void_contact
from appliance.patients.models import GrowthMeasurement, Immunisation
from appliance.patients.registry import merge_patients
from appliance.store.db import database
from appliance.store.models import AuditEntry
from tests.followup.conftest import TODAY, days_ago, item_ids


def open_items(patient) -> list[str]:
    return [item.id for item in queries.patient_items(patient.id, TODAY)]


def listed(today: dt.date = TODAY, programmes=("pev", "croissance")) -> list[str]:
    return [item.id for line in queries.worklist(programmes, today).lines for item in line.items]


def attempt(outcome: str, items=(), **fields) -> NewContact:
    fields.setdefault("method", "telephone")
    return NewContact(contacted_on=fields.pop("contacted_on", TODAY), outcome=outcome, item_ids=tuple(items),
                      **fields)


# --- derive: the rules, without the database ------------------------------------------------------


def fact(outcome: str, day: int, items=("a",), promised: dt.date | None = None) -> ContactFact:
    return ContactFact(dt.date(2025, 11, day), outcome, promised, tuple(items))


def test_a_promise_holds_the_items_until_the_promised_day_and_the_latest_word_wins():
    promised = dt.date(2025, 11, 20)
    assert derive([fact("joint", 10, promised=promised)], None).reminders == {"a": promised}
    assert derive([fact("joint", 10)], None).reminders == {"a": dt.date(2025, 11, 17)}  # a week without a date
    later = derive([fact("refus", 10), fact("joint", 12, promised=promised)], None)
    assert later.reminders == {"a": promised}  # changed her mind
    assert derive([fact("deja_venu_ailleurs", 10, items=("a", "b"))], None).reminders == {
        "a": contacts.OFF_LIST, "b": contacts.OFF_LIST}
    assert derive([fact("pas_de_reponse", 10), fact("numero_errone", 11)], None).reminders == {}


def test_a_move_lasts_until_a_later_visit_or_contact_a_death_for_good():
    moved = [fact("demenage", 10)]
    assert derive(moved, dt.date(2025, 11, 9)).left.outcome == "demenage"
    assert derive(moved, dt.date(2025, 11, 11)).left is None  # seen here since
    assert derive([*moved, fact("joint", 12)], None).left is None
    died = [fact("decede", 10)]
    assert derive([*died, fact("joint", 12)], dt.date(2025, 11, 15)).left.outcome == "decede"
    assert derive([*died, fact("demenage", 12)], None).left.outcome == "decede"


# --- recording, through the database ------------------------------------------------------------------


def test_a_promised_date_moves_the_reminder_and_a_visit_keeps_it(person, visit, actor):
    child = person("Awa", age_days=70, phone="76123456")
    due = open_items(child)
    assert due and set(due) <= set(listed())
    promised = TODAY + dt.timedelta(days=5)
    record_contact(actor, child, attempt("joint", due, promised_on=promised))
    assert not set(due) & set(listed())
    assert not set(due) & set(listed(promised - dt.timedelta(days=1)))
    assert set(due) <= set(listed(promised))  # not come on the promised day: back on the list
    visit(child, GrowthMeasurement(visit_date=TODAY, weight_kg=5.2))  # closes the weighing, recomputes the rest
    vaccines = [item for item in due if "~pev." in item]
    held = FollowupItem.select().where(FollowupItem.id.in_(vaccines))
    assert len(held) == len(vaccines) and {item.remind_on for item in held} == {promised}
    assert set(vaccines) <= set(open_items(child))  # the chart still shows them: she may come early


def test_a_refusal_takes_only_its_items_off_and_the_dose_recorded_later_still_closes_it(person, visit, actor):
    child = person("Awa", age_days=70)
    due = open_items(child)
    refused = [item for item in due if "~pev.penta1~" in item]
    record_contact(actor, child, attempt("refus", refused, method="visite_domicile"))
    shown = listed()
    assert not set(refused) & set(shown)
    assert set(due) - set(refused) <= set(shown)
    visit(child, Immunisation(visit_date=TODAY, antigen="PENTA", dose_number=1, given_here=False))
    assert not [item for item in item_ids(child) if "~pev.penta1~" in item]


def test_a_death_takes_the_patient_off_every_list_and_voiding_it_restores_them(person, visit, actor):
    from tests.followup.test_service import antenatal

    mother = person("Mariam", age_days=365 * 40, household="Famille Diarra")
    visit(mother, antenatal(30, systolic=150, diastolic=95))
    assert item_ids(mother) and FollowupAlert.select().where(FollowupAlert.patient == mother.id).exists()
    contact = record_contact(actor, mother, attempt("decede", method="visite_domicile",
                                                    death_on=days_ago(3), note="signalé par le relais"))
    assert item_ids(mother) == []
    assert not FollowupAlert.select().where(FollowupAlert.patient == mother.id).exists()
    assert FollowupPatient.get_or_none(FollowupPatient.patient == mother.id) is None
    service.recompute_all()  # a bulk recompute agrees
    assert item_ids(mother) == []
    with pytest.raises(ContactError) as refused:
        record_contact(actor, mother, attempt("joint"))
    assert refused.value.field == "outcome" and "décédé" in refused.value.message
    void_contact(actor, contact, "mauvaise patiente")
    assert item_ids(mother) and FollowupAlert.select().where(FollowupAlert.patient == mother.id).exists()


def test_a_move_ends_with_the_next_visit(person, visit, actor):
    child = person("Awa", age_days=70)
    record_contact(actor, child, attempt("demenage", contacted_on=days_ago(2)))
    assert item_ids(child) == []
    visit(child, GrowthMeasurement(visit_date=TODAY, weight_kg=5.2))
    assert item_ids(child)


@pytest.mark.parametrize(("outcome", "fields", "field", "words"), [
    ("joint", {"promised_on": days_ago(1)}, "promised_on", "passée"),
    ("pas_de_reponse", {"promised_on": TODAY}, "promised_on", "Joint"),
    ("decede", {"death_on": TODAY + dt.timedelta(days=1)}, "death_on", "futur"),
    ("decede", {}, "death_on", "obligatoire"),
    ("joint", {"contacted_on": TODAY + dt.timedelta(days=1)}, "contacted_on", "futur"),
    ("numero_errone", {"method": "visite_domicile"}, "outcome", "téléphonique"),
    ("numero_errone", {}, "outcome", "Aucun numéro"),  # no phone on record
    ("joint", {"note": "x" * 501}, "note", "500"),
])
def test_impossible_attempts_are_refused_on_their_field_and_nothing_is_written(person, actor, outcome, fields,
                                                                                field, words):
    child = person("Awa", age_days=70)
    before_items = {item.id: item.remind_on for item in FollowupItem.select()}
    audit = AuditEntry.select().count()
    with pytest.raises(ContactError) as refused:
        record_contact(actor, child, attempt(outcome, open_items(child), **fields))
    assert refused.value.field == field and words in refused.value.message
    assert FollowupContact.select().count() == 0 and AuditEntry.select().count() == audit
    assert {item.id: item.remind_on for item in FollowupItem.select()} == before_items


def test_a_failing_recompute_leaves_no_contact_behind(person, actor, monkeypatch):
    child = person("Awa", age_days=70)
    audit = AuditEntry.select().count()

    def broken(*args, **kwargs):
        raise RuntimeError("règle cassée")

    monkeypatch.setattr(service, "evaluate", broken)
    with pytest.raises(RuntimeError):
        record_contact(actor, child, attempt("joint", open_items(child), promised_on=TODAY))
    assert FollowupContact.select().count() == 0 and AuditEntry.select().count() == audit
    assert all(item.remind_on is None for item in FollowupItem.select())


def test_an_item_closed_meanwhile_is_refused(person, visit, actor):
    child = person("Awa", age_days=70)
    stale = [item for item in open_items(child) if "~pev.penta1~" in item]
    visit(child, Immunisation(visit_date=TODAY, antigen="PENTA", dose_number=1, given_here=True))
    with pytest.raises(ContactError) as refused:
        record_contact(actor, child, attempt("joint", stale))
    assert refused.value.field == "item_ids"
    assert FollowupContact.select().count() == 0


def test_the_write_and_its_author_are_audited(person, actor):
    child = person("Awa", age_days=70, phone="76123456")
    contact = record_contact(actor, child, attempt("pas_de_reponse", open_items(child)))
    entry = AuditEntry.get((AuditEntry.table_name == "followup_contact") & (AuditEntry.row_id == str(contact.id)))
    assert entry.username == actor.username and entry.action == "create"
    assert contact.phone == "76123456" and contact.author_name == actor.username
    void_contact(actor, contact, "erreur de saisie")
    assert AuditEntry.select().where((AuditEntry.table_name == "followup_contact")
                                     & (AuditEntry.action == "update")).count() == 1


def test_a_wrong_number_is_flagged_until_a_call_to_it_reaches_someone(person, actor, store):
    from appliance.patients.registry import update_identity

    mother = person("Mariam", age_days=365 * 25, phone="76123456")
    child = person("Awa", age_days=70, mother=mother)

    def line():
        return next(line for line in queries.worklist(("pev",), TODAY).lines if line.patient.id == child.id)

    assert line().contact_phone == "76123456" and not line().phone_wrong
    record_contact(actor, child, attempt("numero_errone", open_items(child)))
    assert line().phone_wrong
    record_contact(actor, child, attempt("pas_de_reponse", open_items(child)))
    assert line().phone_wrong  # no answer proves nothing
    assert [view.outcome for view in line().contacts.attempts] == ["pas_de_reponse", "numero_errone"]
    update_identity(actor, mother, _identity_with_phone(mother, "66998877"))
    assert not line().phone_wrong  # the number was corrected


def _identity_with_phone(patient, phone: str):
    from appliance.patients.registry import Identity

    return Identity(family_name=patient.family_name, first_names=patient.first_names, sex=patient.sex,
                    birth_date=patient.birth_date, village=patient.village, phone=phone)


def test_a_merge_brings_the_contacts_to_the_kept_record(person, actor):
    keep = person("Awa", age_days=70)
    drop = person("Awa", age_days=70)
    record_contact(actor, drop, attempt("pas_de_reponse", open_items(drop)))
    merge_patients(actor, keep, drop, "doublon")
    assert [view.outcome for view in contacts.history(keep.id)] == ["pas_de_reponse"]


@pytest.mark.parametrize("village", [None, "pelengana"])
def test_the_worklist_is_still_read_from_its_covering_index(store, village):
    """The reminder date is in the worklist indexes: a page reads index entries only."""
    sql = f"SELECT {queries._URGENCY} FROM followup_item WHERE programme = ? AND {queries._LISTED}"
    params = ["pev", TODAY.isoformat(), TODAY.isoformat(), TODAY.isoformat()]
    if village:
        sql += " AND village_key = ?"
        params.append(village)
    plan = " ".join(row[3] for row in database.execute_sql(
        f"EXPLAIN QUERY PLAN {sql} ORDER BY {queries._URGENCY} LIMIT 43", params))
    assert "USING COVERING INDEX followup_item_" in plan and "TEMP B-TREE" not in plan
