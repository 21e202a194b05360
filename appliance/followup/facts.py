"""From one patient's stored visits to the clinical rules' inputs, and from their outputs to rows.

The EMR's visit tables speak the forms' language (antigen + dose number, ``pilule_coc``, danger
sign codes); ``appliance.clinical`` speaks the schedules' (``penta1``, ``coc``, ``vaginal_bleeding``).
This module is the one translation between them, kept pure (no database) so the per-visit
recompute and the bulk recompute share it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from appliance.clinical import chronic_care, nutrition, postnatal_alerts, pregnancy, schedules
from appliance.clinical.growth import DAYS_PER_MONTH
from appliance.clinical.schedule_data import Schedules, load_schedules
from appliance.clinical.vaccine_checks import dose_code

# EMR family-planning codes (patients/data/codes/fp_methods.csv) → data/family_planning.toml.
# Methods absent here (cycle beads, LAM, sterilisation, emergency pill) need no resupply visit.
FP_METHODS = {
    "pilule_coc": "coc",
    "pilule_pop": "pop",
    "dmpa_im": "dmpa_im",
    "dmpa_sc": "dmpa_sc",
    "implant_jadelle": "implant_jadelle",
    "implant_implanon": "implant_implanon",
    "diu": "diu_cuivre",
    "preservatif_m": "preservatif",
    "preservatif_f": "preservatif",
}

# EMR danger-sign codes (codes/anc_danger_signs.csv) → PregnancyFacts fields: each has its rule.
DANGER_SIGNS = {
    "oedemes": "face_hand_oedema",
    "paleur": "severe_pallor",
    "saignement": "vaginal_bleeding",
    "cephalees_vision": "severe_headache",
    "convulsions": "convulsions",
    "fievre": "fever",
    "douleurs_abdo": "severe_abdominal_pain",
    "perte_liquide": "fluid_loss",
    "mvt_foetaux": "reduced_fetal_movements",
    "dyspnee": "difficulty_breathing",
}
# EMR postnatal sign codes (codes/postnatal_signs.csv) → MotherFacts / NewbornFacts fields.
MOTHER_SIGNS = {
    "saignement": "heavy_bleeding",
    "fievre": "fever",
    "pertes": "foul_discharge",
    "convulsions": "convulsions",
    "tension": "severe_headache_or_high_bp",
    "seins": "breast_pain",
    "tristesse": "low_mood",
}
NEWBORN_SIGNS = {
    "tetee": "not_feeding_well",
    "convulsions": "convulsions",
    "respiration": "fast_breathing",
    "fievre": "fever",
    "hypothermie": "cold_body",
    "ictere": "jaundice",
    "cordon": "red_cord",
}
NEWBORN_DAYS = 42  # a baby registered before this age is followed as a newborn (WHO postnatal period)
POSTNATAL_ALERT_DAYS = 7  # a sign seen at a CPoN stays on the alerts page a week, unless a later CPoN says otherwise
NEWBORN_ALERT_DAYS = 60  # a low birth weight stays an alert through the young-infant period
STILLBIRTH_OUTCOMES = frozenset({"mort_frais", "mort_macere"})

UNDER_FIVE_DAYS = round(60 * DAYS_PER_MONTH)
NUTRITION_ALERT_DAYS = 183  # after six months without a new measurement the alert is stale
REFERRAL_ALERT_DAYS = 7  # a child referred urgently (pink PCIME classification): on the alerts for a week
NUTRITION_SEVERITY = {"SAM": ("urgent", 1), "MAM": ("moderate", 3)}
CHRONIC_ALERT_DAYS = 30  # an urgent BP or glucose value not seen again within a month is stale


@dataclass(frozen=True, slots=True)
class Dose:
    antigen: str
    dose_number: int
    given_on: dt.date
    given_here: bool


@dataclass(frozen=True, slots=True)
class Measurement:
    measured_on: dt.date
    weight_kg: float | None
    height_cm: float | None
    position: str | None  # couche, debout
    muac_mm: int | None
    oedema: bool


@dataclass(frozen=True, slots=True)
class AntenatalContact:
    visit_date: dt.date
    pregnancy_id: int | None
    systolic: int | None
    diastolic: int | None
    hb_g_dl: float | None
    danger_signs: str
    proteinuria: int | None = None
    iptp_dose: int | None = None
    td_dose: int | None = None
    net_given: bool = False
    iron_folic: bool = False
    iron_folic_tablets: int | None = None
    weight_kg: float | None = None
    fundal_height_cm: int | None = None


@dataclass(frozen=True, slots=True)
class PregnancyRecord:
    """A row of the pregnancy table: the dating and history the midwife recorded once."""

    id: int
    dated_lmp: dt.date | None
    opened_on: dt.date
    ended_on: dt.date | None
    parity: int | None = None
    previous_caesarean: bool = False
    previous_pph: bool = False
    previous_stillbirth: bool = False
    previous_pre_eclampsia: bool = False
    multiple: bool = False
    height_cm: float | None = None


@dataclass(frozen=True, slots=True)
class Birth:
    delivered_on: dt.date
    mode: str
    outcome: str  # baby 1's
    other_outcomes: tuple[str, ...] = ()  # babies 2..n of a multiple birth

    @property
    def stillbirth(self) -> bool:
        return any(outcome in STILLBIRTH_OUTCOMES for outcome in (self.outcome, *self.other_outcomes))


@dataclass(frozen=True, slots=True)
class PostnatalCheck:
    visit_date: dt.date
    contact_number: int | None
    subject: str = ""
    temperature_c: float | None = None
    systolic: int | None = None
    diastolic: int | None = None
    weight_kg: float | None = None
    danger_signs: str = ""
    breastfeeding: bool | None = None  # None: not asked


@dataclass(frozen=True, slots=True)
class Supply:
    supplied_on: dt.date
    method: str
    quantity: int | None


@dataclass(frozen=True, slots=True)
class ChronicContact:
    visit_date: dt.date
    programme: str
    systolic: int | None
    diastolic: int | None
    next_appointment: dt.date | None
    glucose_g_l: float | None = None
    fasting: bool | None = None


@dataclass
class PatientRecord:
    """What the rules need of one patient, every list oldest first, voided visits left out."""

    id: int
    sex: str
    birth_date: dt.date
    village_key: str
    household_id: int | None
    doses: list[Dose] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    antenatal: list[AntenatalContact] = field(default_factory=list)
    pregnancies: list[PregnancyRecord] = field(default_factory=list)  # by opened_on
    births: list[Birth] = field(default_factory=list)
    supplies: list[Supply] = field(default_factory=list)
    chronic: list[ChronicContact] = field(default_factory=list)
    postnatal: list[PostnatalCheck] = field(default_factory=list)
    born_in_recorded_delivery: bool = False  # its record was opened from a delivery form
    birth_weight_g: int | None = None  # from that delivery form
    registered_on: dt.date | None = None
    died_on: dt.date | None = None  # a death recorded as a vital event: off every list
    last_visit_on: dt.date | None = None
    referrals: list[Referral] = field(default_factory=list)
    preventive: list[tuple[str, dt.date]] = field(default_factory=list)  # (vitamine_a | albendazole, given on)


@dataclass(frozen=True, slots=True)
class Referral:
    """A PCIME consultation with a pink classification: the child was referred urgently."""

    referred_on: dt.date
    classifications: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    kind: Literal["grossesse", "nutrition", "chronique", "pcime", "post_partum", "nouveau_ne"]
    severity: str
    severity_rank: int
    label: str
    reasons: tuple[str, ...]
    rule_ids: tuple[str, ...]
    since: dt.date
    expires_on: dt.date


@dataclass(frozen=True, slots=True)
class Outcome:
    items: tuple[schedules.DueItem, ...]
    alerts: tuple[Alert, ...]


@dataclass(frozen=True, slots=True)
class _CurrentPregnancy:
    record: PregnancyRecord
    lmp: dt.date
    contacts: tuple[AntenatalContact, ...]
    ended_on: dt.date | None


def evaluate(record: PatientRecord, today: dt.date, rules: Schedules | None = None) -> Outcome:
    """The patient's open due items and current alerts, as of ``today``."""
    if record.died_on is not None:
        return Outcome(items=(), alerts=())
    rules = rules or load_schedules()
    current = _current_pregnancy(record)
    facts = schedules.PatientFacts(
        patient_id=record.id,
        birth_date=record.birth_date,
        sex=record.sex,  # type: ignore[arg-type]
        doses=_given_doses(record.doses, rules),
        last_weighed_on=max((m.measured_on for m in record.measurements if m.weight_kg), default=None),
        pregnancy=_schedule_pregnancy(record, current) if current else None,
        family_planning=_family_planning(record),
        chronic=_chronic_care(record),
        postnatal=_postnatal(record),
        preventive_given=tuple(record.preventive),
    )
    items = schedules.follow_up(facts, today, rules).items
    alerts = []
    if current is not None and current.ended_on is None:
        alert = _pregnancy_alert(record, current, today, rules)
        if alert is not None:
            alerts.append(alert)
    for alert in (_nutrition_alert(record, today), _postnatal_alert(record, today)):
        if alert is not None:
            alerts.append(alert)
    alerts += _chronic_alerts(record, today)
    referral = _referral_alert(record, today)
    if referral is not None:
        alerts.append(referral)
    return Outcome(items=_unique(items), alerts=tuple(alerts))


def _referral_alert(record: PatientRecord, today: dt.date) -> Alert | None:
    """The latest urgent PCIME referral of the last week: staff check the child reached the CSRéf."""
    if not record.referrals:
        return None
    latest = record.referrals[-1]
    expires_on = latest.referred_on + dt.timedelta(days=REFERRAL_ALERT_DAYS)
    if expires_on <= today:
        return None
    return Alert(id=f"{record.id}~pcime~{latest.referred_on.isoformat()}", kind="pcime", severity="urgent",
                 severity_rank=1, label="PCIME : référence urgente", reasons=latest.classifications,
                 rule_ids=("pcime.rose",), since=latest.referred_on, expires_on=expires_on)


def _unique(items: tuple[schedules.DueItem, ...]) -> tuple[schedules.DueItem, ...]:
    """The id is the table's key: a repeated id (never expected) must not fail the visit's write."""
    seen: set[str] = set()
    kept = []
    for item in items:
        if item.id not in seen:
            seen.add(item.id)
            kept.append(item)
    return tuple(kept)


def _given_doses(doses: list[Dose], rules: Schedules) -> tuple[schedules.GivenDose, ...]:
    known = rules.epi.series_of
    given = []
    for dose in doses:
        code = dose_code(dose.antigen, dose.dose_number, known)
        if code is not None:
            given.append(schedules.GivenDose(code=code, given_on=dose.given_on, elsewhere=not dose.given_here))
    return tuple(given)


def _current_pregnancy(record: PatientRecord) -> _CurrentPregnancy | None:
    """Her latest pregnancy record, with its contacts; an undated one schedules nothing."""
    if record.sex != "F" or not record.pregnancies:
        return None
    latest = record.pregnancies[-1]
    if latest.dated_lmp is None:
        return None
    contacts = tuple(contact for contact in record.antenatal if contact.pregnancy_id == latest.id)
    return _CurrentPregnancy(record=latest, lmp=latest.dated_lmp, contacts=contacts, ended_on=latest.ended_on)


def _schedule_pregnancy(record: PatientRecord, current: _CurrentPregnancy) -> schedules.Pregnancy:
    """The pregnancy as the schedules see it: contacts, SP, every Td of her life, net, iron."""
    td_doses = sorted({c.visit_date for c in record.antenatal if c.td_dose}
                      | {d.given_on for d in record.doses if d.antigen.upper() == "TD"})
    return schedules.Pregnancy(
        lmp=current.lmp, contacts=tuple(c.visit_date for c in current.contacts), ended_on=current.ended_on,
        sp_doses=tuple(c.visit_date for c in current.contacts if c.iptp_dose),
        td_doses=tuple(td_doses),
        net_given=any(c.net_given for c in current.contacts),
        iron_supplies=tuple((c.visit_date, c.iron_folic_tablets) for c in current.contacts
                            if c.iron_folic or c.iron_folic_tablets),
    )


def _latest(values) -> object | None:
    return next((value for value in reversed(values) if value is not None), None)


def _pregnancy_alert(record: PatientRecord, current: _CurrentPregnancy, today: dt.date,
                     rules: Schedules) -> Alert | None:
    expires_on = current.lmp + dt.timedelta(weeks=rules.anc.end_at_week)
    if not current.contacts or expires_on <= today:
        return None
    latest = current.contacts[-1]
    known = current.record
    signs = {DANGER_SIGNS[code] for code in latest.danger_signs.split() if code in DANGER_SIGNS}
    earlier_births = [birth for birth in record.births if birth.delivered_on < current.lmp]
    caesarean = known.previous_caesarean or any(birth.mode == "cesarienne" for birth in earlier_births)
    systolic, diastolic = next(((c.systolic, c.diastolic) for c in reversed(current.contacts)
                                if c.systolic is not None or c.diastolic is not None), (None, None))
    facts = pregnancy.PregnancyFacts(
        age_years=_years(record.birth_date, latest.visit_date),
        parity=known.parity,
        previous_caesareans=1 if caesarean else 0,
        height_cm=known.height_cm,
        systolic_bp=systolic,
        diastolic_bp=diastolic,
        hb_g_dl=_latest([c.hb_g_dl for c in current.contacts]),  # type: ignore[arg-type]
        proteinuria_crosses=latest.proteinuria,
        gestational_age_weeks=round((latest.visit_date - current.lmp).days / 7, 1),
        weight_kg=latest.weight_kg,
        fundal_height_gap_cm=pregnancy.fundal_height_gap(latest.fundal_height_cm, latest.visit_date, current.lmp),
        multiple_pregnancy=known.multiple,
        previous_stillbirth_or_neonatal_death=known.previous_stillbirth or any(
            birth.stillbirth for birth in earlier_births),
        previous_pph=known.previous_pph,
        previous_pre_eclampsia=known.previous_pre_eclampsia,
        **dict.fromkeys(signs, True),
    )
    fired = pregnancy.assess(facts)
    if not fired:
        return None
    worst = fired[0]
    return Alert(
        id=f"{record.id}~grossesse~{current.lmp.isoformat()}", kind="grossesse", severity=worst.severity,
        severity_rank=worst.severity_rank, label=worst.severity_label,
        reasons=tuple(alert.text for alert in fired), rule_ids=tuple(f"grossesse.{a.rule_id}" for a in fired),
        since=latest.visit_date, expires_on=expires_on,
    )


def _years(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _nutrition_alert(record: PatientRecord, today: dt.date) -> Alert | None:
    """From the latest measurement that can be classified (oedema, MUAC, or weight and height)."""
    fifth_birthday = record.birth_date + dt.timedelta(days=UNDER_FIVE_DAYS)
    for measure in reversed(record.measurements):
        if measure.measured_on >= fifth_birthday:
            continue
        if not (measure.oedema or measure.muac_mm or (measure.weight_kg and measure.height_cm)):
            continue
        expires_on = min(measure.measured_on + dt.timedelta(days=NUTRITION_ALERT_DAYS), fifth_birthday)
        if expires_on <= today:
            return None
        try:
            status = nutrition.assess_child(
                record.sex, (measure.measured_on - record.birth_date).days, measure.weight_kg,  # type: ignore[arg-type]
                measure.height_cm, {"couche": "l", "debout": "h"}.get(measure.position or ""),
                measure.muac_mm, measure.oedema)
        except ValueError:
            return None  # outside the WHO tables: nothing to say about this measure
        if not status.is_malnourished:
            return None
        severity, rank = NUTRITION_SEVERITY[status.category]
        return Alert(
            id=f"{record.id}~nutrition~{measure.measured_on.isoformat()}", kind="nutrition", severity=severity,
            severity_rank=rank, label=status.label, reasons=status.reasons,
            rule_ids=(f"nutrition.{status.category}",), since=measure.measured_on, expires_on=expires_on,
        )
    return None


def _postnatal_alert(record: PatientRecord, today: dt.date) -> Alert | None:
    """The mother's or the newborn's danger signs at the latest CPoN (a week on the alerts page),
    and a newborn's low birth weight (through the young-infant period)."""
    care = _postnatal(record)
    if care is None:
        return None
    latest = next((check for check in reversed(record.postnatal) if check.visit_date >= care.born_on), None)
    if care.subject == "mere":
        if latest is None:
            return None
        signs = {MOTHER_SIGNS[code] for code in latest.danger_signs.split() if code in MOTHER_SIGNS}
        fired = postnatal_alerts.assess_mother(postnatal_alerts.MotherFacts(
            days_since_birth=(latest.visit_date - care.born_on).days, temperature_c=latest.temperature_c,
            systolic_bp=latest.systolic, diastolic_bp=latest.diastolic, **dict.fromkeys(signs, True)))
        kind, since, expires_on = "post_partum", latest.visit_date, latest.visit_date + dt.timedelta(
            days=POSTNATAL_ALERT_DAYS)
    else:
        signs = set()
        facts: dict[str, object] = {"age_days": 0, "birth_weight_g": record.birth_weight_g}
        since = care.born_on
        expires_on = care.born_on + dt.timedelta(days=NEWBORN_ALERT_DAYS)
        if latest is not None:
            signs = {NEWBORN_SIGNS[code] for code in latest.danger_signs.split() if code in NEWBORN_SIGNS}
            facts.update(age_days=(latest.visit_date - care.born_on).days, temperature_c=latest.temperature_c,
                         weight_g=round(latest.weight_kg * 1000) if latest.weight_kg else None,
                         not_breastfed=latest.breastfeeding is False)
            since = latest.visit_date
        fired = postnatal_alerts.assess_newborn(postnatal_alerts.NewbornFacts(
            **facts, **dict.fromkeys(signs, True)))  # type: ignore[arg-type]
        if latest is not None and any(alert.rule_id not in ("petit_poids", "tres_petit_poids") for alert in fired):
            expires_on = max(expires_on, latest.visit_date + dt.timedelta(days=POSTNATAL_ALERT_DAYS))
        kind = "nouveau_ne"
    if not fired or expires_on <= today:
        return None
    worst = fired[0]
    return Alert(
        id=f"{record.id}~{kind}~{care.born_on.isoformat()}", kind=kind, severity=worst.severity,  # type: ignore[arg-type]
        severity_rank=worst.severity_rank, label=worst.severity_label,
        reasons=tuple(alert.text for alert in fired), rule_ids=tuple(f"{kind}.{a.rule_id}" for a in fired),
        since=since, expires_on=expires_on,
    )


def _postnatal(record: PatientRecord) -> schedules.Postnatal | None:
    """A newborn opened from a delivery form, or registered before day 42 (born at home or
    elsewhere), from its birth; a mother from her latest delivery (whatever its outcome: every
    woman needs postnatal care). Each sees only its own CPoN."""
    if record.born_in_recorded_delivery or (
            record.registered_on is not None and (record.registered_on - record.birth_date).days < NEWBORN_DAYS):
        subject, born_on = "nouveau_ne", record.birth_date
    elif record.sex == "F" and record.births:
        subject, born_on = "mere", record.births[-1].delivered_on
    else:
        return None
    contacts = tuple(schedules.PostnatalContact(check.visit_date, check.contact_number)
                     for check in record.postnatal if check.visit_date >= born_on)
    weights: list[tuple[dt.date, int]] = []
    if subject == "nouveau_ne" and record.birth_weight_g:
        weights.append((born_on, record.birth_weight_g))
        weights += [(check.visit_date, round(check.weight_kg * 1000)) for check in record.postnatal
                    if check.weight_kg and check.visit_date >= born_on]
        weights += [(m.measured_on, round(m.weight_kg * 1000)) for m in record.measurements
                    if m.weight_kg and m.measured_on >= born_on]
    return schedules.Postnatal(subject=subject, born_on=born_on, contacts=contacts,  # type: ignore[arg-type]
                               weights=tuple(weights))


def _family_planning(record: PatientRecord) -> schedules.FamilyPlanning | None:
    """The latest method's resupply, unless a pregnancy or a delivery came after it (the woman
    then needs counselling, not a resupply reminder)."""
    if not record.supplies:
        return None
    latest = record.supplies[-1]
    method = FP_METHODS.get(latest.method)
    if method is None:
        return None
    if any(c.visit_date > latest.supplied_on for c in record.antenatal) or any(
            b.delivered_on > latest.supplied_on for b in record.births):
        return None
    return schedules.FamilyPlanning(method=method, last_supply_on=latest.supplied_on, quantity=latest.quantity)


def _latest_chronic(record: PatientRecord) -> dict[str, ChronicContact]:
    latest: dict[str, ChronicContact] = {}
    for contact in record.chronic:
        latest[contact.programme] = contact
    return latest


def _chronic_alerts(record: PatientRecord, today: dt.date) -> list[Alert]:
    """BP ≥ 180/110 or a glucose crisis at the latest visit of a programme (clinical/chronic_care.py)."""
    alerts = []
    for programme, contact in _latest_chronic(record).items():
        expires_on = contact.visit_date + dt.timedelta(days=CHRONIC_ALERT_DAYS)
        reasons = chronic_care.urgent_reasons(contact.systolic, contact.diastolic, contact.glucose_g_l)
        if not reasons or expires_on <= today:
            continue
        alerts.append(Alert(
            id=f"{record.id}~chronique~{programme}~{contact.visit_date.isoformat()}", kind="chronique",
            severity="urgent", severity_rank=1, label="Urgence : hypertension ou glycémie", reasons=reasons,
            rule_ids=(f"chronique.{programme}.urgence",), since=contact.visit_date, expires_on=expires_on,
        ))
    return alerts


def _chronic_care(record: PatientRecord) -> tuple[schedules.ChronicCare, ...]:
    care = []
    for programme, contact in _latest_chronic(record).items():
        controlled = chronic_care.controlled(programme, contact.systolic, contact.diastolic, contact.glucose_g_l,
                                             contact.fasting)
        care.append(schedules.ChronicCare(condition=programme, last_visit_on=contact.visit_date,
                                          next_appointment_on=contact.next_appointment, controlled=controlled))
    return tuple(care)
