"""Adults' prescriptions on the shared consultation form: a medicine of the essential list with its
dose, intakes and days (quantity computed), checked against adult_doses.toml (off the table or
without a row: a reason); "autre" only with a name and a reason; no free text; printable and handed
over at the dépôt, each stock move linked to its line."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.clinical.adult_doses import adult_line_problems, load_adult_doses
from appliance.patients.models import Consultation, Prescription
from appliance.patients.registry import Identity, register_patient
from appliance.pcime.models import PrescriptionItem
from appliance.stock.models import StockMove
from appliance.stock.service import receive
from appliance.store.audit import system_actor
from tests.conftest import text_of

TODAY = dt.date.today()


def _person(birth: dt.date, first: str = "Awa"):
    return register_patient(system_actor("tests"), Identity("Traoré", first, "F", birth, "Pelengana"), site_id="TEST")


@pytest.fixture
def adult(store):
    return _person(dt.date(1990, 3, 1))


def _consultation(**lines) -> dict:
    return {"visit_date": TODAY.isoformat(), "reason": "Toux fébrile", "diagnosis_code": "J18.9", **lines}


def _line(index: int, medicine: str, dose="", times="", days="", **extra) -> dict:
    return {f"prescriptions-{index}-medicine": medicine, f"prescriptions-{index}-dose": dose,
            f"prescriptions-{index}-times_per_day": times, f"prescriptions-{index}-duration_days": days,
            **{f"prescriptions-{index}-{key}": value for key, value in extra.items()}}


def _post(web, patient, data):
    return web.post(f"/patients/{patient.id}/consultation/nouveau", data)


def test_a_line_from_the_list_is_saved_with_its_code_its_posology_and_the_quantity(login_as, adult):
    response = _post(login_as("infirmier"), adult, _consultation(**_line(0, "amox_500_gel", "2", "3", "7")))
    assert response.status_code == 302, text_of(response)[-1500:]
    row = Prescription.get()
    assert row.drug == "Amoxicilline 500 mg, gélule" and row.dosage == "2 gélules 3 fois par jour pendant 7 jours"
    assert (row.quantity, row.duration_days) == (42, 7)
    item = PrescriptionItem.get()
    assert (item.prescription_id, item.medicine, item.dose, item.times_per_day, item.days) == \
        (row.id, "amox_500_gel", 2, 3, 7)


@pytest.mark.parametrize(("line", "message"), [
    (_line(0, "amox_500_gel", "3", "3", "7"), "3 gélule(s) par prise : le tableau adulte dit 1 à 2"),
    (_line(0, "zinc_20_cpd", "1", "1", "10"), "Pas de dose adulte dans le tableau"),
    (_line(0, "autre", other_name="Doliprane"), "hors de la liste"),
    (_line(0, "autre", reason="rupture"), "Écrivez le nom du médicament hors liste"),
    (_line(0, "Doliprane 1 g", "1", "3", "3"), "Médicament inconnu"),
    (_line(0, "amox_500_gel"), "Indiquez la dose par prise"),
    ({"prescriptions-0-quantity": "10"}, "Choisissez le médicament dans la liste"),
])
def test_no_free_text_and_off_table_lines_need_a_reason_nothing_saved(login_as, adult, line, message):
    response = _post(login_as("infirmier"), adult, _consultation(**line))
    assert response.status_code == 200 and message in text_of(response)
    assert "Rien n'a été enregistré" in text_of(response)
    assert Consultation.select().count() == 0 and Prescription.select().count() == 0


def test_with_a_reason_off_table_and_autre_lines_are_kept_with_it(login_as, adult):
    data = _consultation(**_line(0, "amox_500_gel", "3", "3", "7", reason="pneumonie sévère, avis médecin"),
                         **_line(1, "autre", other_name="Salbutamol spray", reason="hors liste, asthme"))
    assert _post(login_as("medecin"), adult, data).status_code == 302
    items = list(PrescriptionItem.select().order_by(PrescriptionItem.id))
    assert [(item.medicine, item.reason) for item in items] == [
        ("amox_500_gel", "pneumonie sévère, avis médecin"), ("autre", "hors liste, asthme")]
    assert [row.drug for row in Prescription.select().order_by(Prescription.id)][1] == "Salbutamol spray"


def test_a_child_outside_pcime_is_not_held_to_the_adult_table(login_as, store):
    child = _person(TODAY - dt.timedelta(days=8 * 365), "Issa")
    assert _post(login_as("infirmier"), child, _consultation(**_line(0, "amox_250_cpd", "2", "2", "5"))) \
        .status_code == 302


def test_the_prescription_prints_and_is_handed_over_once_from_the_stock(login_as, adult):
    receive(system_actor("tests"), "paracetamol_500_cp", 100, lot="L1", expires_on=TODAY + dt.timedelta(days=300),
            moved_on=TODAY, today=TODAY)
    nurse = login_as("infirmier")
    data = _consultation(**_line(0, "paracetamol_500_cp", "2", "3", "3"),
                         **_line(1, "autre", other_name="Sirop antitussif", reason="demande"))
    assert _post(nurse, adult, data).status_code == 302
    consultation = Consultation.get()
    chart = text_of(nurse.get(f"/patients/{adult.id}"))
    assert f"/patients/{adult.id}/ordonnance/{consultation.id}" in chart
    page = text_of(nurse.get(f"/patients/{adult.id}/ordonnance/{consultation.id}"))
    assert "Paracétamol 500 mg, comprimé" in page and "2 comprimés 3 fois par jour pendant 3 jours" in page
    assert "Sirop antitussif" in page and "data-print" in page
    assert nurse.post(f"/patients/{adult.id}/ordonnance/{consultation.id}/delivrer", {}).status_code == 302
    paracetamol = Prescription.get(Prescription.drug.startswith("Paracétamol"))
    [move] = list(StockMove.select().where(StockMove.kind == "dispensation"))
    assert (move.prescription_id, move.quantity, move.patient_id) == (paracetamol.id, -18, adult.id)
    assert "délivré" in text_of(nurse.get(f"/patients/{adult.id}/ordonnance/{consultation.id}"))
    nurse.post(f"/patients/{adult.id}/ordonnance/{consultation.id}/delivrer", {})
    assert StockMove.select().where(StockMove.kind == "dispensation").count() == 1


def test_a_correction_keeps_the_coded_lines_and_recodes_changed_ones(login_as, adult):
    doctor = login_as("medecin")
    data = _consultation(**_line(0, "amox_500_gel", "2", "3", "7"))
    _post(doctor, adult, data)
    consultation = Consultation.get()
    url = f"/patients/{adult.id}/consultation/{consultation.id}/corriger"
    assert '<option selected value="amox_500_gel">' in text_of(doctor.get(url))
    assert doctor.post(url, {**data, "correction_reason": "TA"}).status_code == 302
    assert PrescriptionItem.select().count() == 1
    assert doctor.post(url, {**_consultation(**_line(0, "amox_500_gel", "2", "2", "7")),
                             "correction_reason": "2 prises"}).status_code == 302
    live = Prescription.get(Prescription.voided == False)  # noqa: E712
    assert PrescriptionItem.get(PrescriptionItem.prescription == live.id).times_per_day == 2


def test_the_adult_table_names_only_medicines_of_the_list(tmp_path):
    assert load_adult_doses().from_years == 15
    assert adult_line_problems("al_20_120_cp", 4, 2, 3) == []
    broken = tmp_path / "adult_doses.toml"
    broken.write_text('from_years = 15\n[medicines.doliprane]\ndose = [1, 2]\ntimes_per_day = [1, 3]\n'
                      'days = [1, 5]\nsource = "x"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="doliprane"):
        load_adult_doses(broken)
