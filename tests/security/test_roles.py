"""Roles as the clinic works (issue 16): the agent de saisie transcribes for a named clinician,
never prescribes on his own nor corrects another's visit; docs/security.md carries the matrix."""

from __future__ import annotations

import re
from pathlib import Path

from appliance.emr.security import PERMISSIONS
from appliance.patients.models import Consultation, Prescription
from tests.conftest import text_of
from tests.patients.conftest import actor, new_patient, visit_form_data  # noqa: F401 - fixtures

DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_a_data_clerk_cannot_prescribe_on_his_own(login_as, new_patient):  # noqa: F811
    clerk = login_as("agent_saisie")
    woman = new_patient()
    response = clerk.post(f"/patients/{woman.id}/consultation/nouveau", visit_form_data("consultation"))
    assert response.status_code == 200 and "Choisissez le clinicien" in text_of(response)
    assert Consultation.select().count() == 0 and Prescription.select().count() == 0


def test_a_data_clerk_transcribes_for_a_named_clinician(login_as, make_user, new_patient):  # noqa: F811
    from appliance.store.models import User

    doctor = make_user("medecin", username="dr.kone")
    User.update(first_name="Seydou", last_name="Koné").where(User.id == doctor.id).execute()
    clerk = login_as("agent_saisie")
    woman = new_patient()
    form = clerk.get(f"/patients/{woman.id}/consultation/nouveau")
    assert f'<option value="{doctor.id}"' in form.text and "dr.kone" not in form.text
    data = {**visit_form_data("consultation"), "clinicien": str(doctor.id)}
    assert clerk.post(f"/patients/{woman.id}/consultation/nouveau", data).status_code == 302
    visit = Consultation.get()
    assert visit.author_id == clerk.user.id and visit.clinician_id == doctor.id
    assert Prescription.select().where(Prescription.consultation == visit.id).count() >= 1
    history = text_of(clerk.get(f"/patients/{woman.id}/consultation/{visit.id}"))
    assert "pour Seydou Koné" in history


def test_a_clinician_is_never_asked_for_one(login_as, new_patient):  # noqa: F811
    nurse = login_as("infirmier")
    woman = new_patient()
    assert 'name="clinicien"' not in nurse.get(f"/patients/{woman.id}/consultation/nouveau").text
    assert nurse.post(f"/patients/{woman.id}/consultation/nouveau",
                      visit_form_data("consultation")).status_code == 302


def test_a_data_clerk_corrects_his_own_transcriptions_only(app, login_as, make_user, new_patient):  # noqa: F811
    from tests.conftest import WebClient

    doctor = make_user("medecin", username="dr.kone")
    woman = new_patient()
    own = WebClient(app.test_client())
    own.login("dr.kone")
    own.post(f"/patients/{woman.id}/consultation/nouveau", visit_form_data("consultation"))
    doctors_visit = Consultation.get()
    clerk = login_as("agent_saisie")
    assert clerk.get(f"/patients/{woman.id}/consultation/{doctors_visit.id}/corriger").status_code == 403
    data = {**visit_form_data("consultation"), "clinicien": str(doctor.id)}
    clerk.post(f"/patients/{woman.id}/consultation/nouveau", data)
    his = Consultation.select().order_by(Consultation.id.desc()).get()
    assert clerk.get(f"/patients/{woman.id}/consultation/{his.id}/corriger").status_code == 200


def test_docs_security_md_carries_the_whole_permission_matrix():
    text = DOCS.read_text(encoding="utf-8")
    table = text[text.index("| permission |"):]
    header = [cell.strip() for cell in table.splitlines()[0].strip("|").split("|")]
    roles = header[1:]
    documented = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        permission = re.sub(r"[`*]", "", cells[0])
        documented[permission] = frozenset(role for role, mark in zip(roles, cells[1:], strict=True) if mark == "✓")
    assert documented == PERMISSIONS, "a permission changed: update the matrix in docs/security.md"
