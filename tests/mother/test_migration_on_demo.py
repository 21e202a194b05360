"""m0080 groups the contacts already recorded into pregnancies by date: on the demo record (which
writes its own pregnancies, as the truth), the links are removed and the migration's grouping must
rebuild the same pregnancies, the same contact numbers and the same delivery links."""

from __future__ import annotations

from appliance.demo import seed_demo
from appliance.store.db import database
from appliance.store.migrations import m0080_pregnancy


def _grouping() -> tuple[set, dict, set]:
    contacts = database.execute_sql(
        "SELECT a.id, a.contact_number, p.patient_id, p.opened_on FROM antenatal_visit a "
        "JOIN pregnancy p ON p.id = a.pregnancy_id WHERE a.voided = 0").fetchall()
    groups: dict[tuple, set] = {}
    for contact_id, _, patient_id, opened_on in contacts:
        groups.setdefault((patient_id, opened_on), set()).add(contact_id)
    numbers = {row[0]: row[1] for row in contacts}
    deliveries = set(database.execute_sql(
        "SELECT d.id, p.patient_id, p.ended_on FROM delivery d JOIN pregnancy p ON p.id = d.pregnancy_id "
        "WHERE p.opened_on < d.visit_date OR p.id IN (SELECT pregnancy_id FROM antenatal_visit)").fetchall())
    return {frozenset(group) for group in groups.values()}, numbers, deliveries


def test_the_migration_rebuilds_the_demo_pregnancies(store):
    seed_demo(store, 400, 7)
    expected = _grouping()
    assert len(expected[0]) > 20
    database.execute_sql("UPDATE antenatal_visit SET pregnancy_id = NULL, contact_number = NULL")
    database.execute_sql("UPDATE delivery SET pregnancy_id = NULL")
    database.execute_sql("DELETE FROM pregnancy")
    opened = m0080_pregnancy.group_existing(database)
    assert opened == len(expected[0])
    assert _grouping() == expected
