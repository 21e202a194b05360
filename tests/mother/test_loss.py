"""A pregnancy closed by a loss (miscarriage, abortion, ectopic, fetal death with a birth elsewhere):
dates checked against the record, gestational-age bounds from pregnancy_loss.toml, the CPN leave
the lists in the same transaction, audited, undoable, counted in the month's report; over HTTP
with French errors, and in Chromium at 360 px."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from appliance.clinical.pregnancy import LossKind, load_loss_kinds, loss_problem
from appliance.followup.models import FollowupItem
from appliance.patients import pregnancies
from appliance.patients.errors import VisitError
from appliance.patients.models import AntenatalVisit, Pregnancy
from appliance.reports.builder import build_report, records_behind
from appliance.settings.reports import ReportSettings
from appliance.store.models import AuditEntry
from tests.conftest import click_and_wait, screenshot, sign_in, text_of
from tests.followup.conftest import TODAY, days_ago


def _cpn_items(woman) -> list[str]:
    return [item.id for item in FollowupItem.select().where((FollowupItem.patient == woman.id)
                                                             & (FollowupItem.programme == "cpn"))]


@pytest.fixture
def pregnant(person, visit):
    """A woman at 12 weeks today, seen at 10 weeks."""
    woman = person("Mariam")
    visit(woman, AntenatalVisit(visit_date=days_ago(14), lmp_date=days_ago(12 * 7), danger_signs=""))
    return woman


def test_a_miscarriage_closes_the_pregnancy_and_the_cpn_leave_the_lists(pregnant, actor):
    assert _cpn_items(pregnant)
    pregnancy = pregnancies.current(pregnant.id)
    pregnancies.end_by_loss(actor, pregnancy, days_ago(3), "fausse_couche", TODAY)
    stored = Pregnancy.get_by_id(pregnancy.id)
    assert (stored.ended_on, stored.end_reason) == (days_ago(3), "fausse_couche")
    assert pregnancies.current(pregnant.id) is None
    assert _cpn_items(pregnant) == []
    assert AuditEntry.select().where(AuditEntry.reason.contains("Fausse couche")).exists()


@pytest.mark.parametrize(("on", "kind", "message"), [
    (days_ago(-1), "fausse_couche", "dans le futur"),
    (days_ago(20), "fausse_couche", "avant le premier contact"),
    (days_ago(3), "mort_in_utero", "à partir de 22 SA"),
    (days_ago(3), "rien", "Choisissez l'issue"),
    (None, "geu", "obligatoire"),
])
def test_bad_input_is_refused_in_french_and_saves_nothing(pregnant, actor, on, kind, message):
    pregnancy = pregnancies.current(pregnant.id)
    with pytest.raises(VisitError, match=message):
        pregnancies.end_by_loss(actor, pregnancy, on, kind, TODAY)
    assert Pregnancy.get_by_id(pregnancy.id).ended_on is None and _cpn_items(pregnant)


def test_an_abortion_at_25_weeks_and_a_loss_before_a_later_contact_are_refused(person, visit, actor):
    woman = person("Awa")
    visit(woman, AntenatalVisit(visit_date=days_ago(30), lmp_date=days_ago(26 * 7), danger_signs=""))
    visit(woman, AntenatalVisit(visit_date=days_ago(2), danger_signs=""))
    pregnancy = pregnancies.current(woman.id)
    with pytest.raises(VisitError, match=r"25 SA à cette date .* avant 22 SA"):
        pregnancies.end_by_loss(actor, pregnancy, days_ago(1), "avortement", TODAY)
    with pytest.raises(VisitError, match=f"CPN de cette grossesse est enregistrée le {days_ago(2):%d/%m/%Y}"):
        pregnancies.end_by_loss(actor, pregnancy, days_ago(14), "mort_in_utero", TODAY)
    pregnancies.end_by_loss(actor, pregnancy, days_ago(1), "mort_in_utero", TODAY)
    with pytest.raises(VisitError, match="déjà close"):
        pregnancies.end_by_loss(actor, Pregnancy.get_by_id(pregnancy.id), days_ago(1), "geu", TODAY)


def test_undoing_a_loss_reopens_the_pregnancy_and_its_cpn(pregnant, actor):
    pregnancy = pregnancies.end_by_loss(actor, pregnancies.current(pregnant.id), days_ago(3), "geu", TODAY)
    with pytest.raises(VisitError, match="motif"):
        pregnancies.undo_loss(actor, pregnancy, "  ")
    pregnancies.undo_loss(actor, pregnancy, "mauvaise patiente")
    assert pregnancies.current(pregnant.id).id == pregnancy.id and _cpn_items(pregnant)
    with pytest.raises(VisitError, match="pas été close par une perte"):
        pregnancies.undo_loss(actor, Pregnancy.get_by_id(pregnancy.id), "encore")


def test_a_new_contact_after_a_loss_opens_a_new_pregnancy(pregnant, visit, actor):
    pregnancies.end_by_loss(actor, pregnancies.current(pregnant.id), days_ago(10), "fausse_couche", TODAY)
    visit(pregnant, AntenatalVisit(visit_date=TODAY, lmp_date=days_ago(8), danger_signs=""))
    assert Pregnancy.select().count() == 2 and pregnancies.current(pregnant.id).lmp_date == days_ago(8)


@pytest.mark.parametrize(("kind", "weeks", "refused"), [
    (LossKind("a", "A", below_weeks=22), 21, False), (LossKind("a", "A", below_weeks=22), 22, True),
    (LossKind("m", "M", from_weeks=22), 21, True), (LossKind("m", "M", from_weeks=22), 22, False),
    (LossKind("m", "M", from_weeks=22), None, False), (LossKind("i", "I"), 40, False),
])
def test_the_gestational_age_bounds(kind, weeks, refused):
    assert bool(loss_problem(kind, weeks)) is refused


def test_the_shipped_kinds_follow_who_22_weeks():
    kinds = load_loss_kinds()
    assert {kinds[code].below_weeks for code in ("fausse_couche", "avortement", "geu")} == {22}
    assert kinds["mort_in_utero"].from_weeks == 22 and "inconnue" in kinds


def test_a_broken_kinds_file_is_refused_with_its_kind(tmp_path):
    broken = tmp_path / "pregnancy_loss.toml"
    broken.write_text('[kinds.geu]\nlabel = "GEU"\nbelow_weeks = "vingt"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[kinds.geu\]"):
        load_loss_kinds(broken)


def test_the_report_counts_losses_in_the_month_they_end(person, visit, actor):
    for name, kind in (("Awa", "fausse_couche"), ("Binta", "avortement"), ("Fanta", "geu"), ("Kadi", "inconnue")):
        woman = person(name)
        visit(woman, AntenatalVisit(visit_date=TODAY, lmp_date=days_ago(9 * 7), danger_signs=""))
        pregnancies.end_by_loss(actor, pregnancies.current(woman.id), TODAY, kind, TODAY)
    report = build_report(f"{TODAY:%Y-%m}", ReportSettings(), today=TODAY)
    assert report.total("avortements") == 2 and report.total("geu") == 1
    rows = records_behind(f"{TODAY:%Y-%m}", "geu", ReportSettings(), today=TODAY)
    assert [row.name for row in rows] == ["Traoré Fanta"] and "9 SA" in rows[0].detail
    last_month = TODAY.replace(day=1) - dt.timedelta(days=1)
    assert build_report(f"{last_month:%Y-%m}", ReportSettings(), today=TODAY).total("avortements") == 0


# --- Over HTTP ----------------------------------------------------------------------------------------


@pytest.fixture
def midwife(login_as, new_patient):
    web = login_as("sage_femme")
    woman = new_patient("Coulibaly", "Mariam", "F", birth_date=dt.date(1996, 7, 1), household_name="Famille C")
    response = web.post(f"/patients/{woman.id}/cpn/nouveau", {
        "visit_date": days_ago(10).isoformat(), "lmp_date": days_ago(11 * 7).isoformat(), "gravidity": "2",
        "parity": "1"})
    assert response.status_code == 302, text_of(response)[-1500:]
    return web, woman


def test_the_chart_links_to_the_page_and_a_bad_date_saves_nothing(midwife):
    web, woman = midwife
    assert f"/patients/{woman.id}/grossesse/fin" in text_of(web.get(f"/patients/{woman.id}"))
    page = text_of(web.get(f"/patients/{woman.id}/grossesse/fin"))
    assert "Grossesse extra-utérine" in page and "soins après avortement" in page
    response = web.post(f"/patients/{woman.id}/grossesse/fin", {"ended_on": days_ago(30).isoformat(),
                                                                 "end_reason": "fausse_couche"})
    assert response.status_code == 200 and "avant le premier contact" in text_of(response)
    response = web.post(f"/patients/{woman.id}/grossesse/fin", {"ended_on": "31/02/2026"})
    assert response.status_code == 200 and "Date invalide" in text_of(response)
    assert "Choisissez l'issue" in text_of(response)
    assert Pregnancy.get().ended_on is None


def test_a_midwife_records_a_miscarriage_and_a_doctor_undoes_it(midwife, login_as):
    web, woman = midwife
    response = web.post(f"/patients/{woman.id}/grossesse/fin", {"ended_on": days_ago(2).isoformat(),
                                                                 "end_reason": "fausse_couche"})
    assert response.status_code == 302
    chart = text_of(web.get(f"/patients/{woman.id}"))
    assert "Grossesse close le" in chart and "Fausse couche" in chart and "Grossesse en cours" not in chart
    pregnancy = Pregnancy.get()
    assert web.post(f"/patients/{woman.id}/grossesse/{pregnancy.id}/reouvrir", {"reason": "x"}).status_code == 403
    doctor = login_as("medecin")
    assert "Annuler cette fin de grossesse" in text_of(doctor.get(f"/patients/{woman.id}/grossesse/fin"))
    assert doctor.post(f"/patients/{woman.id}/grossesse/{pregnancy.id}/reouvrir",
                       {"reason": "mauvaise patiente"}).status_code == 302
    assert Pregnancy.get().ended_on is None and "Grossesse en cours" in text_of(doctor.get(f"/patients/{woman.id}"))


def test_a_man_has_no_loss_page_and_a_clerk_only_reads(login_as, new_patient):
    man = new_patient("Diarra", "Issa", "M", birth_date=dt.date(1990, 1, 1))
    assert login_as("sage_femme").get(f"/patients/{man.id}/grossesse/fin").status_code == 404
    woman = new_patient("Diarra", "Awa", "F", birth_date=dt.date(1990, 1, 1))
    assert login_as("agent_saisie").get(
        f"/patients/{woman.id}/grossesse/fin").status_code == 200


@pytest.mark.slow
def test_the_loss_page_at_360_px(live_server, phone_page, make_user, new_patient):
    make_user("sage_femme", username="sf.loss")
    woman = new_patient("Coulibaly", "Mariam", "F", birth_date=dt.date(1996, 7, 1))
    page = phone_page
    sign_in(page, live_server, "sf.loss")
    page.goto(f"{live_server}/patients/{woman.id}/cpn/nouveau")
    page.fill('[name="visit_date"]', days_ago(20).isoformat())
    page.fill('[name="lmp_date"]', days_ago(16 * 7).isoformat())
    click_and_wait(page, "button.primary")
    click_and_wait(page, "text=Fin de grossesse sans accouchement")
    page.fill('[name="ended_on"]', days_ago(1).isoformat())
    page.check('input[value="mort_in_utero"]')
    click_and_wait(page, "button.primary")
    assert "à partir de 22 SA" in page.locator("main").inner_text()  # 16 weeks: a miscarriage, not a stillbirth
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "mother-loss-360")
    page.check('input[value="fausse_couche"]')
    click_and_wait(page, "button.primary")
    assert page.url.endswith(f"/patients/{woman.id}")
    assert "Grossesse close le" in page.locator("main").inner_text()
    assert Pregnancy.get().end_reason == "fausse_couche"


def test_a_replayed_loss_form_is_saved_once(midwife):
    web, woman = midwife
    page = text_of(web.get(f"/patients/{woman.id}/grossesse/fin"))
    token = re.search(r'name="submission_token" value="([^"]+)"', page).group(1)
    data = {"ended_on": days_ago(2).isoformat(), "end_reason": "fausse_couche", "submission_token": token}
    assert web.post(f"/patients/{woman.id}/grossesse/fin", data).status_code == 302
    again = web.post(f"/patients/{woman.id}/grossesse/fin", data)
    assert again.status_code == 303 and "déjà close" not in text_of(again)
    assert AuditEntry.select().where(AuditEntry.reason.contains("Fausse couche")).count() == 1
