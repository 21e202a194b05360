"""A PCIME consultation through the web: classify, see why, prescribe from the tables, override
with a reason, refer a pink child with the letter, hand the medicines over from the dépôt."""

import datetime as dt
import json
import re

import pytest

from appliance.patients.models import Consultation, Prescription
from appliance.patients.registry import Identity, register_patient
from appliance.pcime.models import PcimeAssessment, PcimeOverride, PrescriptionItem
from appliance.stock.models import StockLot, StockMove
from appliance.stock.service import receive
from appliance.store.audit import system_actor
from appliance.store.models import AuditEntry
from tests.conftest import text_of

TODAY = dt.date.today()


@pytest.fixture
def child(store):
    return register_patient(system_actor("tests"), Identity("Diarra", "Moussa", "M", TODAY - dt.timedelta(days=430),
                                                            "Pelengana"), site_id="TEST")


@pytest.fixture
def nurse(login_as):
    return login_as("infirmier")


def _form(**extra):
    data = {"visit_date": TODAY.isoformat(), "weight_kg": "9,6", "resp_rate": "45", "temperature_c": "38,6",
            "signs": ["toux", "fievre_atcd", "tdr_positif"]}
    data.update(extra)
    return data


def _url(child, suffix="nouveau"):
    return f"/patients/{child.id}/pcime/{suffix}"


def test_classify_shows_classifications_with_their_signs_and_proposed_doses(nurse, child):
    page = text_of(nurse.post(_url(child), _form(action="classer")))
    assert "Pneumonie" in page and "Respiration rapide (FR 45/min ≥ 40)" in page
    assert "Paludisme" in page and "TDR paludisme positif" in page
    assert "Amoxicilline orale (pneumonie)" in page and "poids 9,6 kg" in page
    assert "Artéméther-luméfantrine" in page
    assert Consultation.select().count() == 0  # classifying saves nothing


def test_the_form_shows_the_vaccines_due_from_the_record(nurse, child):
    from appliance.followup.service import recompute_patient

    recompute_patient(child.id)  # a 14-month-old with no dose on record: every vaccine is late
    page = text_of(nurse.get(_url(child)))
    assert "Vaccins dus ou en retard" in page and "Penta 1 (en retard)" in page
    assert "Aucune dose de vaccin notée dans le dossier." in page


def _save(nurse, child, **extra):
    lines = {
        "lines-0-medicine": "amox_250_cpd", "lines-0-dose": "1", "lines-0-times": "2", "lines-0-days": "5",
        "lines-0-quantity": "10", "lines-0-treatment": "amoxicilline_pneumonie",
        "lines-1-medicine": "al_20_120_cp", "lines-1-dose": "1", "lines-1-times": "2", "lines-1-days": "3",
        "lines-1-quantity": "6", "lines-1-treatment": "artemether_lumefantrine",
    }
    lines.update(extra)
    return nurse.post(_url(child), _form(action="enregistrer", **lines))


def test_saving_writes_consultation_prescription_and_assessment(nurse, child):
    response = _save(nurse, child)
    assert response.status_code == 302
    consultation = Consultation.get()
    assert consultation.diagnosis_code == "J18.9" and consultation.secondary_diagnosis_code == "B50.9"
    assert consultation.resp_rate == 45 and consultation.weight_kg == 9.6
    assessment = PcimeAssessment.get()
    assert assessment.malaria == "simple" and assessment.malaria_test == "positif" and assessment.pneumonia
    assert not assessment.urgent
    items = {item.medicine: item for item in PrescriptionItem.select()}
    assert set(items) == {"amox_250_cpd", "al_20_120_cp"}
    drugs = [line.drug for line in Prescription.select().order_by(Prescription.id)]
    assert drugs[0] == "Amoxicilline 250 mg, comprimé dispersible"
    page = text_of(nurse.get(response.headers["Location"]))
    assert "1 comprimé 2 fois par jour pendant 5 jours" in page


def test_a_dose_off_the_table_needs_a_reason(nurse, child):
    response = _save(nurse, child, **{"lines-0-dose": "3"})
    assert response.status_code == 200 and "donnez le motif" in text_of(response)
    assert Consultation.select().count() == 0
    assert _save(nurse, child, **{"lines-0-dose": "3", "lines-0-reason": "avis du médecin"}).status_code == 302
    assert PrescriptionItem.get(PrescriptionItem.medicine == "amox_250_cpd").reason == "avis du médecin"


def test_a_medicine_outside_the_list_needs_its_name_and_a_reason(nurse, child):
    extra = {"lines-2-medicine": "autre", "lines-2-quantity": "1"}
    assert "nom du médicament" in text_of(_save(nurse, child, **extra))
    extra["lines-2-other_name"] = "Sirop antitussif"
    assert "donnez le motif" in text_of(_save(nurse, child, **extra))
    extra["lines-2-reason"] = "demande de la mère"
    assert _save(nurse, child, **extra).status_code == 302


def test_an_override_needs_a_reason_and_is_audited(nurse, child):
    response = _save(nurse, child, **{"override-toux": "toux_rhume"})
    assert "motif du changement" in text_of(response)
    response = _save(nurse, child, **{"override-toux": "toux_rhume", "override-toux-reason": "FR recomptée : 36"})
    assert response.status_code == 302
    override = PcimeOverride.get()
    assert (override.computed, override.chosen) == ("pneumonie", "toux_rhume")
    assert AuditEntry.select().where(AuditEntry.table_name == "pcime_override").count() == 1
    stored = {item["table"]: item for item in json.loads(PcimeAssessment.get().classifications)}
    assert stored["toux"]["code"] == "toux_rhume" and "FR recomptée" in stored["toux"]["reasons"][0]


def test_pink_child_is_referred_with_the_letter_and_the_chart_alert(nurse, child):
    data = _form(action="enregistrer", signs=["toux", "lethargique", "fievre_atcd", "tdr_positif"],
                 **{"lines-0-medicine": "artesunate_supp_100", "lines-0-dose": "1", "lines-0-times": "1",
                    "lines-0-days": "1", "lines-0-quantity": "1",
                    "lines-0-treatment": "artesunate_rectal_pre_transfert"})
    response = nurse.post(_url(child), data)
    assert response.status_code == 302
    assessment = PcimeAssessment.get()
    assert assessment.urgent and assessment.malaria == "grave"
    page = text_of(nurse.get(response.headers["Location"]))
    assert "RÉFÉRENCE URGENTE" in page
    letter = text_of(nurse.get(_url(child, f"{assessment.consultation_id}/transfert")))
    assert "Maladie fébrile très grave" in letter and "Artésunate 100 mg" in letter
    chart = text_of(nurse.get(f"/patients/{child.id}"))
    assert "PCIME : référence urgente" in chart  # the follow-up's alert, in the chart's banner
    assert chart.count("PCIME : référence urgente") == 1
    alerts = text_of(nurse.get("/alertes?type=pcime"))
    assert "Diarra Moussa" in alerts and "Maladie fébrile très grave" in alerts


def test_dispensing_takes_the_lines_from_stock_once(nurse, child):
    receive(system_actor("tests"), "amox_250_cpd", 15, lot="A1", expires_on=TODAY + dt.timedelta(days=400),
            moved_on=TODAY)
    response = _save(nurse, child)
    consultation = Consultation.get()
    hand_over = _url(child, f"{consultation.id}/delivrer")
    page = text_of(nurse.post(hand_over, {}, follow_redirects=True))
    assert "stock insuffisant" in page  # no artemether-lumefantrine in stock: nothing taken
    assert StockMove.select().where(StockMove.kind == "dispensation").count() == 0
    receive(system_actor("tests"), "al_20_120_cp", 30, lot="B1", expires_on=TODAY + dt.timedelta(days=400),
            moved_on=TODAY)
    page = text_of(nurse.post(hand_over, {}, follow_redirects=True))
    assert "Médicaments délivrés" in page
    assert StockLot.get(StockLot.lot == "A1").on_hand == 5 and StockLot.get(StockLot.lot == "B1").on_hand == 24
    assert "Rien à délivrer" in text_of(nurse.post(hand_over, {}, follow_redirects=True))
    assert response.status_code == 302


def test_a_data_clerk_cannot_prescribe(login_as, child):
    clerk = login_as("agent_saisie")
    assert clerk.get(_url(child)).status_code == 403
    assert clerk.post(_url(child), _form(action="enregistrer")).status_code == 403


def test_over_five_goes_to_the_ordinary_consultation(nurse, store):
    adult = register_patient(system_actor("tests"), Identity("Coulibaly", "Awa", "F", dt.date(1990, 1, 1), "Ségou"),
                             site_id="TEST")
    response = nurse.get(f"/patients/{adult.id}/pcime/nouveau")
    assert response.status_code == 302 and "/consultation/nouveau" in response.headers["Location"]


def test_stock_pages(login_as, store):
    manager = login_as("infirmier")
    response = manager.post("/stock/reception", {"medicine": "zinc_20_cpd", "quantity": "100", "lot": "Z9",
                                                 "expires_on": (TODAY - dt.timedelta(days=1)).isoformat(),
                                                 "moved_on": TODAY.isoformat()})
    assert "déjà périmé" in text_of(response)
    response = manager.post("/stock/reception", {"medicine": "zinc_20_cpd", "quantity": "100", "lot": "Z9",
                                                 "expires_on": (TODAY + dt.timedelta(days=60)).isoformat(),
                                                 "moved_on": TODAY.isoformat()})
    assert response.status_code == 302
    page = text_of(manager.get("/stock/"))
    assert "Sulfate de zinc 20 mg" in page and "Lot périmé le" in page
    lot = StockLot.get(StockLot.lot == "Z9")
    response = manager.post("/stock/produit/zinc_20_cpd", {"lot_id": str(lot.id), "counted": "97",
                                                           "action": "compter"})
    assert response.status_code == 400 and "motif" in text_of(response)
    manager.post("/stock/produit/zinc_20_cpd", {"lot_id": str(lot.id), "counted": "97", "action": "compter",
                                                 "reason": "3 cassés"})
    month = text_of(manager.get(f"/stock/mois/{TODAY.year}-{TODAY.month}"))
    cells = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", month))
    assert "Sulfate de zinc 20 mg 0 100 0 0 -3 97 0" in cells
    clerk = login_as("agent_saisie")
    assert clerk.get("/stock/").status_code == 200
    assert clerk.post("/stock/reception", {}).status_code == 403
