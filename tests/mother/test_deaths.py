"""Deaths as vital events: the category by WHO's definitions, a maternal death ends the pregnancy,
the patient leaves every list, no visit after it, a death before birth refused; counted."""

from __future__ import annotations

import pytest

from appliance.followup.models import FollowupAlert, FollowupItem
from appliance.patients.errors import VisitError
from appliance.patients.models import AntenatalVisit, Death, Pregnancy
from appliance.reports.builder import build_report
from appliance.settings.reports import ReportSettings
from tests.followup.conftest import TODAY, days_ago, item_ids


def _death(when_days: int, **values) -> Death:
    return Death(visit_date=days_ago(when_days), place=values.pop("place", "domicile"), **values)


def test_a_newborn_death_is_neonatal_and_takes_the_baby_off_every_list(person, visit):
    baby = person("Awa", age_days=10)
    assert item_ids(baby)  # BCG, CPoN…
    death = visit(baby, _death(0, cause="détresse respiratoire"))
    assert death.category == "neonatal"
    assert not FollowupItem.select().where(FollowupItem.patient == baby.id).exists()


@pytest.mark.parametrize(("age_days", "category"), [(27, "neonatal"), (28, "enfant"), (5 * 365 - 10, "enfant"),
                                                      (5 * 366, "autre")])
def test_categories_follow_who_ages(person, visit, age_days, category):
    assert visit(person("Issa", sex="M", age_days=age_days), _death(0)).category == category


def test_a_pregnant_woman_dying_is_a_maternal_death_ending_her_pregnancy(person, visit):
    woman = person("Mariam")
    visit(woman, AntenatalVisit(visit_date=days_ago(20), lmp_date=days_ago(150), danger_signs="saignement"))
    assert FollowupAlert.select().where(FollowupAlert.patient == woman.id).exists()
    death = visit(woman, _death(0, place="en_route", cause="hémorragie"))
    assert death.category == "maternel"
    assert Pregnancy.get().end_reason == "deces_maternel"
    assert not FollowupAlert.select().where(FollowupAlert.patient == woman.id).exists()
    assert not FollowupItem.select().where(FollowupItem.patient == woman.id).exists()


def test_an_accidental_death_in_pregnancy_is_not_maternal(person, visit):
    woman = person("Mariam")
    visit(woman, AntenatalVisit(visit_date=days_ago(20), lmp_date=days_ago(150), danger_signs=""))
    assert visit(woman, _death(0, incidental=True, cause="accident de la route")).category == "autre"


def test_bad_dates_and_visits_after_death_are_refused(person, visit):
    child = person("Issa", sex="M", age_days=300)
    with pytest.raises(VisitError, match="avant la naissance"):
        visit(child, Death(visit_date=days_ago(400), place="domicile"))
    assert Death.select().count() == 0
    visit(child, _death(5))
    with pytest.raises(VisitError, match="Patient décédé le"):
        visit(child, AntenatalVisit(visit_date=TODAY, danger_signs=""))
    with pytest.raises(VisitError, match="Décès déjà enregistré"):
        visit(child, _death(1))


def test_the_report_counts_deaths_by_category(person, visit):
    visit(person("Awa", age_days=3), _death(0))
    visit(person("Issa", sex="M", age_days=400), _death(0))
    report = build_report(f"{TODAY:%Y-%m}", ReportSettings(), today=TODAY)
    assert report.total("deces_neonatals") == 1 and report.total("deces_enfants") == 1
    assert report.total("deces_maternels") == 0
