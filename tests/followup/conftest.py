"""Helpers for the follow-up tests: people registered through the record's own functions, and
visits written through ``record_visit``, so every row under test came from the real hooks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from appliance.followup.models import FollowupAlert, FollowupItem
from appliance.patients.models import Household, Patient, Visit
from appliance.patients.registry import Identity, register_patient
from appliance.patients.visits import record_visit
from appliance.store.audit import Actor

SITE = "demo-cscom"
TODAY = dt.date.today()


def days_ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


@pytest.fixture(autouse=True)
def followup_hooks(record_hooks) -> None:
    """Every visit written here runs the follow-up's recompute, as in the web."""


@pytest.fixture(autouse=True)
def fresh_village_list(monkeypatch) -> None:
    """The registry caches village names for minutes, per process: each test has its own database."""
    from appliance.patients import registry

    monkeypatch.setattr(registry, "_villages_cache", (float("-inf"), []))


@pytest.fixture
def actor(make_user) -> Actor:
    user = make_user("medecin", username="dr.actor")
    return Actor(user.id, user.username, user.role)


@pytest.fixture
def person(store, actor) -> Callable[..., Patient]:
    """``person("Awa", sex="F", age_days=70, village="Kalaban", household="Famille Traoré")``."""
    households: dict[tuple[str, str], Household] = {}

    def make(first_names: str, *, sex: str = "F", age_days: int = 365 * 25, village: str = "Pelengana",
             household: str | None = None, family_name: str = "Traoré", mother: Patient | None = None,
             phone: str = "") -> Patient:
        existing = households.get((village, household)) if household else None
        identity = Identity(family_name=family_name, first_names=first_names, sex=sex,
                            birth_date=days_ago(age_days), village=village, phone=phone, mother=mother,
                            household=existing, household_name="" if existing else (household or ""))
        patient = register_patient(actor, identity, site_id=SITE)
        if household and existing is None and patient.household_id:
            households[(village, household)] = Household.get_by_id(patient.household_id)
        return patient

    return make


@pytest.fixture
def visit(actor) -> Callable[[Patient, Visit], Visit]:
    def write(patient: Patient, record: Visit) -> Visit:
        return record_visit(actor, patient, record)

    return write


def item_ids(patient: Patient) -> list[str]:
    return sorted(item.id for item in FollowupItem.select().where(FollowupItem.patient == patient.id))


def alerts_of(patient: Patient) -> list[FollowupAlert]:
    return list(FollowupAlert.select().where(FollowupAlert.patient == patient.id))
