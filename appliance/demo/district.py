"""The demo's district: the service ``make run`` starts beside the clinic, with the demo clinic, its
token on the box and a district clinician who covers it, and one second opinion asked by the demo
nurse so the district has a case to answer at once. Made once; a second start reuses everything."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from appliance import config as config_module
from appliance.link.client import TOKEN_FILE

CLINICIAN = "medecin_district"
CLINICIAN_NAME = "Dr Mariam Sangaré (district, démonstration)"
QUESTION = "Fièvre depuis 4 jours malgré le traitement antipaludique : faut-il référer ?"


def prepare_district(cfg: config_module.Config, db_path: Path) -> dict[str, str]:
    """The district's demo clinic and clinician (if missing); returns {username: password} when the
    clinician was created now. The clinic's token goes straight into the box's secret file."""
    from appliance.district.store import Clinic, Clinician, add_clinic, add_clinician, open_district

    db = open_district(db_path)
    try:
        if Clinic.get_or_none(Clinic.site_id == cfg.site.id) is None:
            config_module.write_secret(cfg.paths.secrets_dir / TOKEN_FILE, add_clinic(cfg.site.id, cfg.site.name))
        if Clinician.get_or_none(Clinician.username == CLINICIAN) is not None:
            return {}
        return {CLINICIAN: add_clinician(CLINICIAN, CLINICIAN_NAME, [cfg.site.id])}
    finally:
        db.close()


def ask_demo_avis(cfg: config_module.Config, *, today: dt.date | None = None) -> bool:
    """One second opinion asked by the demo nurse about a young child seen in consultation, queued in the
    outbox like one asked from the chart (the box's database must be open). Once: False afterwards."""
    from appliance.link.models import AvisRequest
    from appliance.link.service import AskedBy, ask
    from appliance.patients.models import Consultation, Patient
    from appliance.reports.ages import completed_years
    from appliance.store.audit import Actor
    from appliance.store.models import User

    today = today or dt.date.today()
    nurse = User.get_or_none(User.username == "infirmier")
    if nurse is None or AvisRequest.select().exists():
        return False
    child = (Patient.select().join(Consultation, on=(Consultation.patient == Patient.id))
             .where((Patient.voided == False) & (Patient.birth_date.between(today - dt.timedelta(days=5 * 365),  # noqa: E712
                                                                             today - dt.timedelta(days=365))))
             .order_by(Consultation.visit_date.desc()).first())
    if child is None:
        return False
    ask(AskedBy(Actor(nurse.id, nurse.username, nurse.role), f"{nurse.first_name} {nurse.last_name}"), child,
        QUESTION, [], site_id=cfg.site.id, age=f"{completed_years(child.birth_date, today)} ans", today=today)
    return True
