"""Demo data: deterministic, realistic in shape, idempotent, with one account per role."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from appliance.clinical.schedule_data import load_schedules
from appliance.demo import demo_usernames, seed_demo
from appliance.demo.reference import fp_choice
from appliance.followup.facts import FP_METHODS
from appliance.patients.codes import code_list
from appliance.patients.models import PROGRAMMES, Delivery, FamilyPlanningVisit, Immunisation, Patient
from appliance.patients.search import search
from appliance.store import open_and_migrate
from appliance.store.models import AuditEntry, User

TODAY = dt.date(2026, 6, 15)


def _fingerprint(db) -> str:
    digest = hashlib.sha256()
    for table in ("patient", "household", "consultation", "immunisation", "antenatal_visit", "prescription"):
        for row in db.execute_sql(f'SELECT * FROM "{table}" ORDER BY id'):
            digest.update(repr(row).encode())
    return digest.hexdigest()


def test_same_seed_same_data_and_accounts_for_every_role(tmp_path, cfg):
    credentials = seed_demo(cfg, patients=400, seed=11, today=TODAY)
    assert sorted(credentials) == sorted(demo_usernames())
    assert {user.role for user in User.select()} == {"medecin", "sage_femme", "infirmier", "matrone",
                                                     "agent_saisie", "admin"}
    db = open_and_migrate(cfg.paths.database)
    first = _fingerprint(db)
    other = open_and_migrate(tmp_path / "other" / "appliance.db")
    seed_demo(other, patients=400, seed=11, today=TODAY)
    assert _fingerprint(other) == first
    third = open_and_migrate(tmp_path / "third" / "appliance.db")
    seed_demo(third, patients=400, seed=12, today=TODAY)
    assert _fingerprint(third) != first
    third.close()
    other.close()


def test_demo_population_looks_like_a_malian_health_area(store):
    seed_demo(store, patients=1500, seed=3, today=TODAY)
    patients = list(Patient.select(Patient.birth_date, Patient.sex, Patient.mother))
    ages = [(TODAY - p.birth_date).days / 365.25 for p in patients]
    share = lambda low, high: sum(low <= age < high for age in ages) / len(ages)  # noqa: E731
    assert 0.13 < share(0, 5) < 0.22 and 0.40 < share(0, 15) < 0.58 and share(60, 130) < 0.08
    assert 0.45 < sum(p.sex == "F" for p in patients) / len(patients) < 0.58
    assert sum(p.mother_id is not None for p in patients) > len(patients) * 0.4
    for model in PROGRAMMES.values():
        assert model.select().count() > 0, model
    # Children's vaccine doses never precede their birth, deliveries link their newborns.
    assert not Immunisation.select().join(Patient).where(Immunisation.visit_date < Patient.birth_date).exists()
    assert Delivery.select().where(Delivery.newborn.is_null(False)).count() == Delivery.select().count()
    assert AuditEntry.select().where(AuditEntry.action == "demo_data").count() == 1
    assert search("traore").patients and search("coulibaly").patients


def test_a_second_run_creates_nothing(store):
    assert seed_demo(store, patients=200, seed=1, today=TODAY)
    count = Patient.select().count()
    assert seed_demo(store, patients=200, seed=1, today=TODAY) == {}
    assert Patient.select().count() == count


def test_family_planning_follows_the_rules_data_files(store):
    """The demo's methods are the form's codes and its next dates the rules' intervals
    (clinical/data/family_planning.toml), never a copy of its own."""
    seed_demo(store, patients=1500, seed=3, today=TODAY)
    methods = load_schedules().family_planning.methods
    visits = list(FamilyPlanningVisit.select())
    assert {visit.method for visit in visits} <= set(code_list("fp_methods"))
    resupplied = [visit for visit in visits if visit.next_date is not None]
    assert resupplied and {visit.method for visit in resupplied} >= {"dmpa_im", "pilule_coc"}
    for visit in resupplied:
        rule = methods[FP_METHODS[visit.method]]
        expected = rule.interval.after(visit.visit_date, times=visit.quantity if rule.per_unit else 1)
        assert visit.next_date == expected, (visit.method, visit.visit_date, visit.quantity)
    # Implants are inserted once: the demo's years hold no replacement.
    assert not [visit for visit in resupplied if visit.method.startswith("implant")]


def test_a_demo_method_unknown_to_the_form_is_refused():
    with pytest.raises(ValueError, match=r"absente de codes/fp_methods\.csv"):
        fp_choice({"code": "pilule_magique", "weight": "1", "quantity": ""}, load_schedules())
