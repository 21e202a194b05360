"""The pregnancy record: opened by a woman's first antenatal contact, carried into every later
contact and the delivery, closed by the delivery or a loss.

Called by ``visits.record_visit`` / ``correct_visit`` / ``void_visit`` inside the visit's
transaction, before the patient hooks read the record: a contact joins her open pregnancy (or
opens one), what it says of the dating and history updates the pregnancy, and the contacts are
renumbered 1, 2, 3… by date (the contact number is computed, never typed). A delivery closes the
pregnancy it ends; voiding it reopens the pregnancy. Refusals are ``VisitError`` on the field.
"""

from __future__ import annotations

import datetime as dt

from appliance import hooks
from appliance.clinical.pregnancy import dated_lmp, load_loss_kinds, loss_problem
from appliance.clinical.schedule_data import load_schedules
from appliance.clinical.visit_checks import load_checks
from appliance.patients.errors import VisitError
from appliance.patients.models import AntenatalVisit, Delivery, Patient, Pregnancy, Visit
from appliance.store.audit import Actor, audited_save
from appliance.store.db import database

# Beyond this at a contact the dating is wrong (or it is another pregnancy): the antenatal form's limit.
MAX_GESTATION_WEEKS = int(load_checks().value("antenatal", "max_gestation_weeks"))
LOSS_KINDS = load_loss_kinds()  # read at import: a broken file stops the start-up, not a midwife's save
# What a contact may add to the pregnancy record: contact column → pregnancy column.
CARRIED = {"lmp_date": "lmp_date", "ultrasound_on": "ultrasound_on", "ultrasound_weeks": "ultrasound_weeks",
           "gravidity": "gravidity", "parity": "parity", "height_cm": "height_cm"}
HISTORY = {"previous_caesarean": "previous_caesarean", "previous_pph": "previous_pph",
           "previous_stillbirth": "previous_stillbirth", "previous_pre_eclampsia": "previous_pre_eclampsia",
           "multiple_pregnancy": "multiple"}


# Written out once: building this query through peewee's expression tree cost a hundred times its
# run (about 0.5 ms here, 2 ms on a Pi) on every antenatal write, which asks for it twice.
_CURRENT = ('SELECT * FROM "pregnancy" WHERE patient_id = ? AND voided = 0 AND ended_on IS NULL '
            "AND opened_on <= ? ORDER BY opened_on DESC, id DESC LIMIT 1")


def current(patient_id: int, on: dt.date | None = None) -> Pregnancy | None:
    """Her open pregnancy (opened on or before ``on``), or None."""
    return next(iter(Pregnancy.raw(_CURRENT, patient_id, (on or dt.date.max).isoformat())), None)


def latest(patient_id: int) -> Pregnancy | None:
    return (Pregnancy.select().where((Pregnancy.patient == patient_id) & (Pregnancy.voided == False))  # noqa: E712
            .order_by(Pregnancy.opened_on.desc(), Pregnancy.id.desc()).first())


def after_write(actor: Actor, patient: Patient, visit: Visit) -> None:
    """The pregnancy side of a visit just written, corrected or voided (any other programme: nothing)."""
    if isinstance(visit, AntenatalVisit):
        _contact_written(actor, patient, visit)
    elif isinstance(visit, Delivery):
        _delivery_written(actor, patient, visit)


def check_contact(patient: Patient, visit: AntenatalVisit, today: dt.date) -> None:
    """What the record refuses whatever the form: a date in the future, an impossible gestation,
    parity above gravidity, SP again within the minimum interval."""
    if visit.lmp_date is not None and visit.lmp_date > today:
        raise VisitError("lmp_date", "La date des dernières règles est dans le futur.")
    if visit.ultrasound_on is not None and visit.ultrasound_on > today:
        raise VisitError("ultrasound_on", "La date de l'échographie est dans le futur.")
    if visit.gravidity is not None and visit.parity is not None and visit.parity >= visit.gravidity:
        raise VisitError("parity", "La parité doit être inférieure à la gestité (la grossesse actuelle compte).")
    pregnancy = _pregnancy_for(patient, visit)
    lmp = _dated(visit, pregnancy)
    if lmp is not None and (visit.visit_date - lmp).days > MAX_GESTATION_WEEKS * 7:
        field = "ultrasound_weeks" if visit.ultrasound_on else "lmp_date"
        raise VisitError(field, f"Âge gestationnel de plus de {MAX_GESTATION_WEEKS} semaines à cette date : "
                                "vérifiez la DDR ou l'échographie.")
    if visit.iptp_dose and pregnancy is not None and pregnancy.id is not None:
        spacing = load_schedules().anc.prevention.sp_min_interval
        for other in AntenatalVisit.select(AntenatalVisit.id, AntenatalVisit.visit_date).where(
                (AntenatalVisit.pregnancy == pregnancy.id) & (AntenatalVisit.voided == False)  # noqa: E712
                & AntenatalVisit.iptp_dose.is_null(False) & (AntenatalVisit.id != (visit.id or 0))):
            earlier, later = sorted((visit.visit_date, other.visit_date))
            if later < spacing.after(earlier):
                raise VisitError("iptp_dose", f"SP déjà donnée le {other.visit_date:%d/%m/%Y} : il faut au moins "
                                              "4 semaines entre deux doses de SP.")


def end_by_loss(actor: Actor, pregnancy: Pregnancy, on: dt.date | None, kind: str, today: dt.date) -> Pregnancy:
    """Close a pregnancy without a delivery here (miscarriage, abortion, ectopic, fetal death with a
    birth elsewhere, or an unknown outcome): dates checked against the record, the follow-up
    recomputed (no more CPN due) in the same transaction, audited."""
    if kind not in LOSS_KINDS:
        raise VisitError("end_reason", "Choisissez l'issue de la grossesse.")
    if on is None:
        raise VisitError("ended_on", "La date est obligatoire.")
    if on > today:
        raise VisitError("ended_on", "La date est dans le futur.")
    if pregnancy.voided or pregnancy.ended_on is not None:
        raise VisitError("ended_on", "Cette grossesse est déjà close : rien n'a été enregistré.")
    if on < pregnancy.opened_on:
        raise VisitError("ended_on", f"La date est avant le premier contact de cette grossesse "
                                     f"({pregnancy.opened_on:%d/%m/%Y}).")
    lmp = pregnancy.dated_lmp()
    if lmp is not None and on < lmp:
        raise VisitError("ended_on", f"La date est avant les dernières règles ({lmp:%d/%m/%Y}).")
    later = (AntenatalVisit.select(AntenatalVisit.visit_date)
             .where((AntenatalVisit.pregnancy == pregnancy.id) & (AntenatalVisit.voided == False)  # noqa: E712
                    & (AntenatalVisit.visit_date > on)).order_by(AntenatalVisit.visit_date.desc()).first())
    if later is not None:
        raise VisitError("ended_on", f"Une CPN de cette grossesse est enregistrée le {later.visit_date:%d/%m/%Y}, "
                                     "après cette date : vérifiez la date.")
    problem = loss_problem(LOSS_KINDS[kind], (on - lmp).days // 7 if lmp is not None else None)
    if problem:
        raise VisitError("ended_on", problem)
    with database.atomic():
        pregnancy.ended_on, pregnancy.end_reason = on, kind
        audited_save(actor, pregnancy, reason=f"fin de grossesse : {LOSS_KINDS[kind].label}")
        _recompute(actor, pregnancy)
    return pregnancy


def undo_loss(actor: Actor, pregnancy: Pregnancy, reason: str) -> Pregnancy:
    """A loss recorded by mistake: the pregnancy is open again (audited with the reason)."""
    if pregnancy.voided or pregnancy.end_reason not in LOSS_KINDS:
        raise VisitError("reason", "Cette grossesse n'a pas été close par une perte : rien n'a été changé.")
    if not reason.strip():
        raise VisitError("reason", "Indiquez un motif.")
    if current(pregnancy.patient_id) is not None:
        raise VisitError("reason", "Une autre grossesse est déjà ouverte : rien n'a été changé.")
    with database.atomic():
        pregnancy.ended_on, pregnancy.end_reason = None, None
        audited_save(actor, pregnancy, reason=f"fin de grossesse annulée : {reason.strip()}")
        _recompute(actor, pregnancy)
    return pregnancy


def _recompute(actor: Actor, pregnancy: Pregnancy) -> None:
    """The record's ``patient_written`` hooks (the follow-up drops or restores the CPN due)."""
    hooks.installed().call(hooks.PATIENT_WRITTEN, actor, Patient.get_by_id(pregnancy.patient_id), None)


def _pregnancy_for(patient: Patient, visit: AntenatalVisit) -> Pregnancy | None:
    if visit.pregnancy_id is not None:
        return Pregnancy.get_by_id(visit.pregnancy_id)
    pregnancy = current(patient.id, visit.visit_date)
    if pregnancy is None:
        return None
    lmp = pregnancy.dated_lmp() or pregnancy.opened_on
    if (visit.visit_date - lmp).days > MAX_GESTATION_WEEKS * 7:
        return None  # stale: that pregnancy ended without a recorded outcome
    return pregnancy


def _dated(visit: AntenatalVisit, pregnancy: Pregnancy | None) -> dt.date | None:
    own = dated_lmp(visit.lmp_date, visit.ultrasound_on, visit.ultrasound_weeks)
    if own is None and visit.gestational_age_weeks is not None and pregnancy is None:
        own = visit.visit_date - dt.timedelta(weeks=visit.gestational_age_weeks)
    return own or (pregnancy.dated_lmp() if pregnancy is not None else None)


def _contact_written(actor: Actor, patient: Patient, visit: AntenatalVisit) -> None:
    if visit.voided:
        if visit.pregnancy_id is not None:
            renumber(Pregnancy.get_by_id(visit.pregnancy_id))
        return
    pregnancy = _pregnancy_for(patient, visit)
    if pregnancy is None:
        stale = current(patient.id, visit.visit_date)
        if stale is not None:
            stale.ended_on, stale.end_reason = visit.visit_date, "inconnue"
            audited_save(actor, stale, reason="grossesse sans issue connue : une nouvelle commence")
        pregnancy = Pregnancy(patient=patient.id, opened_on=visit.visit_date)
        if visit.lmp_date is None and visit.ultrasound_on is None and visit.gestational_age_weeks is not None:
            pregnancy.lmp_date = visit.visit_date - dt.timedelta(weeks=visit.gestational_age_weeks)
    changed = pregnancy.id is None
    for contact_field, pregnancy_field in CARRIED.items():
        value = getattr(visit, contact_field)
        if value is not None and value != getattr(pregnancy, pregnancy_field):
            setattr(pregnancy, pregnancy_field, value)
            changed = True
    for contact_field, pregnancy_field in HISTORY.items():
        if getattr(visit, contact_field) and not getattr(pregnancy, pregnancy_field):
            setattr(pregnancy, pregnancy_field, True)
            changed = True
    if visit.visit_date < pregnancy.opened_on:
        pregnancy.opened_on = visit.visit_date
        changed = True
    if changed:
        audited_save(actor, pregnancy, reason="CPN")
    if visit.pregnancy_id != pregnancy.id:
        visit.pregnancy = pregnancy.id
        AntenatalVisit.update(pregnancy=pregnancy.id).where(AntenatalVisit.id == visit.id).execute()
    renumber(pregnancy)
    visit.contact_number = database.execute_sql('SELECT contact_number FROM "antenatal_visit" WHERE id = ?',
                                                (visit.id,)).fetchone()[0]


def renumber(pregnancy: Pregnancy) -> None:
    """Contact numbers 1, 2, 3… by date within the pregnancy (derived, like the follow-up rows)."""
    database.execute_sql(
        'UPDATE "antenatal_visit" SET contact_number = (SELECT COUNT(*) FROM "antenatal_visit" AS o '
        "WHERE o.pregnancy_id = antenatal_visit.pregnancy_id AND o.voided = 0 AND (o.visit_date < "
        "antenatal_visit.visit_date OR (o.visit_date = antenatal_visit.visit_date AND o.id <= antenatal_visit.id))) "
        "WHERE pregnancy_id = ? AND voided = 0", (pregnancy.id,))


def _delivery_written(actor: Actor, patient: Patient, delivery: Delivery) -> None:
    if delivery.voided:
        if delivery.pregnancy_id is not None:
            pregnancy = Pregnancy.get_by_id(delivery.pregnancy_id)
            pregnancy.ended_on, pregnancy.end_reason = None, None
            audited_save(actor, pregnancy, reason="accouchement annulé")
        return
    if delivery.pregnancy_id is not None:
        pregnancy = Pregnancy.get_by_id(delivery.pregnancy_id)
    else:
        pregnancy = current(patient.id, delivery.visit_date)
        if pregnancy is None or (delivery.visit_date - (pregnancy.dated_lmp() or pregnancy.opened_on)).days \
                > MAX_GESTATION_WEEKS * 7:
            pregnancy = Pregnancy(patient=patient.id, opened_on=delivery.visit_date)  # no CPN recorded here
    pregnancy.ended_on, pregnancy.end_reason = delivery.visit_date, "accouchement"
    pregnancy.multiple = pregnancy.multiple or (delivery.babies or 1) > 1
    audited_save(actor, pregnancy, reason="accouchement")
    if delivery.pregnancy_id != pregnancy.id:
        delivery.pregnancy = pregnancy.id
        Delivery.update(pregnancy=pregnancy.id).where(Delivery.id == delivery.id).execute()
