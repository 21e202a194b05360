"""A straightforward recount of the monthly figures in Python, straight from the visits.

Written independently of the SQL rules of indicators.toml (only the diagnosis groups and the
thresholds are shared data): the property test compares both on random records. Slow on purpose
(every visit of the record is read); never used by the appliance.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from appliance.clinical import nutrition
from appliance.patients import codes
from appliance.patients.models import (
    AntenatalVisit,
    ChronicVisit,
    Consultation,
    Death,
    Delivery,
    DeliveryBaby,
    FamilyPlanningVisit,
    GrowthMeasurement,
    Immunisation,
    Patient,
    PostnatalVisit,
    Pregnancy,
    Visit,
)
from appliance.referrals.models import Referral
from appliance.reports.ages import AgeBands, completed_years
from appliance.reports.builder import Month
from appliance.reports.definitions import load_definitions
from appliance.settings.reports import ReportSettings


@dataclass(frozen=True)
class Birth:
    """One baby, read from the delivery (baby 1) or its delivery_baby row (babies 2-4)."""

    patient_id: int  # the mother
    visit_date: dt.date
    place: str
    outcome: str
    sex: str | None
    birth_weight_g: int | None


@dataclass(frozen=True)
class Rule:
    model: type[Visit] | str  # a visit model, or "birth"
    keep: Callable[[Visit, Patient], bool]
    per_patient: bool = False
    event_date: Callable[[Visit], dt.date | None] = lambda visit: visit.visit_date
    sex: Callable[[Visit, Patient], str | None] = lambda visit, patient: patient.sex
    born: Callable[[Visit, Patient], dt.date] = lambda visit, patient: patient.birth_date


def births(deliveries: list[Delivery]) -> list[Birth]:
    """Every baby of the live deliveries, straight from the two tables."""
    by_id = {delivery.id: delivery for delivery in deliveries}
    result = [Birth(d.patient_id, d.visit_date, d.place, d.outcome, d.baby_sex, d.birth_weight_g) for d in deliveries]
    for baby in DeliveryBaby.select():
        delivery = by_id.get(baby.delivery_id)
        if delivery is not None and not baby.voided:
            result.append(Birth(delivery.patient_id, delivery.visit_date, delivery.place, baby.outcome, baby.sex,
                                baby.birth_weight_g))
    return result


def _diagnoses(*groups: str) -> set[str]:
    snis = {group for name in groups for group in load_definitions().diagnosis_groups[name]}
    return {code for code, entry in codes.code_list("diagnoses").items() if entry.extra["snis_group"] in snis}


def _age_days(visit: Visit, patient: Patient) -> int:
    return (visit.visit_date - patient.birth_date).days


def _nutrition(visit: GrowthMeasurement, patient: Patient) -> str:
    position = {"couche": "l", "debout": "h"}.get(visit.position or "")
    try:
        status = nutrition.assess_child(patient.sex, _age_days(visit, patient), weight_kg=visit.weight_kg,
                                        lenhei_cm=visit.height_cm, measure=position, muac_mm=visit.muac_mm,
                                        oedema=bool(visit.oedema))
    except ValueError:
        status = nutrition.classify(_age_days(visit, patient), muac_mm=visit.muac_mm, oedema=bool(visit.oedema))
    return status.category


def rules(month: Month, settings: ReportSettings, visits: dict[type[Visit], list[Visit]],
          patients: dict[int, Patient]) -> dict[str, Rule]:
    groups = ("paludisme", "ira", "diarrhee", "peau", "ist", "traumatisme", "hta", "diabete")
    result: dict[str, Rule] = {}
    for group in groups:
        wanted = _diagnoses(group)
        result[f"cons_{group}"] = Rule(Consultation, lambda v, p, wanted=wanted: v.diagnosis_code in wanted)
    listed = _diagnoses(*groups)
    result["cons_autres"] = Rule(Consultation, lambda v, p: v.diagnosis_code not in listed)
    result["cpn1"] = Rule(AntenatalVisit, lambda v, p: v.contact_number == 1)
    dated = {pregnancy.id: pregnancy.dated_lmp() for pregnancy in Pregnancy.select()}

    def first_trimester(v: AntenatalVisit) -> bool:
        lmp = dated.get(v.pregnancy_id)
        return lmp is not None and (v.visit_date - lmp).days < 91

    result["cpn1_t1"] = Rule(AntenatalVisit, lambda v, p: v.contact_number == 1 and first_trimester(v))
    result["cpn4"] = Rule(AntenatalVisit, lambda v, p: v.contact_number == 4)
    sp_rank: dict[int, int] = {}
    by_pregnancy: dict[int, list[AntenatalVisit]] = {}
    for v in visits[AntenatalVisit]:
        if v.iptp_dose is not None and v.pregnancy_id is not None:
            by_pregnancy.setdefault(v.pregnancy_id, []).append(v)
    for doses in by_pregnancy.values():
        for rank, v in enumerate(sorted(doses, key=lambda d: (d.visit_date, d.id)), start=1):
            sp_rank[v.id] = rank
    result["tpi1"] = Rule(AntenatalVisit, lambda v, p: sp_rank.get(v.id) == 1)
    result["tpi2"] = Rule(AntenatalVisit, lambda v, p: sp_rank.get(v.id) == 2)
    result["tpi3"] = Rule(AntenatalVisit, lambda v, p: sp_rank.get(v.id, 0) >= 3)
    result["td2plus_cpn"] = Rule(AntenatalVisit, lambda v, p: v.td_dose is not None and v.td_dose >= 2)
    result["mild"] = Rule(AntenatalVisit, lambda v, p: bool(v.net_given), per_patient=True)
    for category, code in (("maternel", "deces_maternels"), ("neonatal", "deces_neonatals"),
                           ("enfant", "deces_enfants"), ("autre", "deces_autres")):
        result[code] = Rule(Death, lambda v, p, c=category: v.category == c)
    ended = lambda pregnancy: pregnancy.ended_on  # noqa: E731
    result["avortements"] = Rule(Pregnancy, lambda v, p: v.end_reason in ("fausse_couche", "avortement"),
                                 event_date=ended)
    result["geu"] = Rule(Pregnancy, lambda v, p: v.end_reason == "geu", event_date=ended)
    result["references"] = Rule(Referral, lambda v, p: True)
    result["evacuations"] = Rule(Referral, lambda v, p: v.evacuation)
    result["contre_references"] = Rule(Referral, lambda v, p: v.returned_on is not None,
                                       event_date=lambda v: v.returned_on)
    result["accouchements"] = Rule(Delivery, lambda v, p: v.place == "ici")
    result["accouchements_qualifies"] = Rule(Delivery, lambda v, p: v.attendant in ("sage_femme", "medecin",
                                                                                    "infirmier"))
    result["accouchements_matrone"] = Rule(Delivery, lambda v, p: v.attendant == "matrone")
    result["accouchements_domicile"] = Rule(Delivery, lambda v, p: v.place in ("domicile", "en_route"))
    result["accouchements_autre_formation"] = Rule(Delivery, lambda v, p: v.place == "autre_formation")
    for code, keep in (("naissances_vivantes", lambda b: b.outcome == "vivant"),
                       ("mort_nes_frais", lambda b: b.outcome == "mort_frais"),
                       ("mort_nes_maceres", lambda b: b.outcome == "mort_macere"),
                       ("petits_poids_naissance", lambda b: b.outcome == "vivant" and b.birth_weight_g is not None
                        and b.birth_weight_g < 2500)):
        result[code] = Rule("birth", lambda b, p, keep=keep: b.place == "ici" and keep(b),
                            sex=lambda b, p: b.sex, born=lambda b, p: b.visit_date)
    result["cpon"] = Rule(PostnatalVisit, lambda v, p: v.subject == "mere")
    result["cpon_nouveau_ne"] = Rule(PostnatalVisit, lambda v, p: v.subject == "nouveau_ne")
    doses = {"bcg": ("BCG", 1), "vaa": ("VAA", 1), "mena": ("MENA", 1)}
    for antigen, numbers in (("vpo", range(4)), ("penta", range(1, 4)), ("pcv", range(1, 4)),
                             ("rota", range(1, 4)), ("vpi", range(1, 3)), ("palu", range(1, 5)),
                             ("rr", range(1, 3)), ("td", range(1, 6)), ("vph", range(1, 3))):
        for number in numbers:
            doses[f"{antigen}_{number}"] = (antigen.upper(), number)
    for code, (antigen, number) in doses.items():
        result[f"vacc_{code}"] = Rule(Immunisation, lambda v, p, a=antigen, n=number:
                                      bool(v.given_here) and v.antigen == a and v.dose_number == n)

    def under_five(v, p):
        return completed_years(p.birth_date, v.visit_date) < 5

    result["enfants_peses"] = Rule(GrowthMeasurement, lambda v, p: v.weight_kg is not None and under_five(v, p),
                                   per_patient=True)
    severe_children = {
        v.patient_id for v in visits[GrowthMeasurement]
        if month.start <= v.visit_date <= month.end and _nutrition(v, patients[v.patient_id]) == "SAM"
    }
    result["mas"] = Rule(GrowthMeasurement, lambda v, p: under_five(v, p) and _nutrition(v, p) == "SAM",
                         per_patient=True)
    result["mam"] = Rule(GrowthMeasurement, lambda v, p: under_five(v, p) and _nutrition(v, p) == "MAM"
                         and v.patient_id not in severe_children, per_patient=True)
    methods = {"pilule": {"pilule_coc", "pilule_pop"}, "injectable": {"dmpa_im", "dmpa_sc"},
               "implant": {"implant_jadelle", "implant_implanon"}, "diu": {"diu"}, "naturelle": {"collier", "mama"},
               "preservatif": {"preservatif_m", "preservatif_f"}, "sterilisation": {"ligature", "vasectomie"},
               "urgence": {"urgence"}}
    for group, members in methods.items():
        for status, words in (("nouvelle", ("nouvelles", "nouveaux")), ("continue", ("anciennes", "anciens"))):
            for word in words:
                result[f"pf_{word}_{group}"] = Rule(FamilyPlanningVisit, lambda v, p, m=members, s=status:
                                                    v.method in m and v.user_status == s, per_patient=True)
    for programme in ("hta", "diabete"):
        result[f"chron_vus_{programme}"] = Rule(ChronicVisit, lambda v, p, g=programme: v.programme == g,
                                                per_patient=True)
        result[f"chron_perdus_{programme}"] = _lost_rule(programme, settings, visits[ChronicVisit])
    result.update(_pcime_rules(visits))
    return result


def _pcime_rules(visits: dict) -> dict[str, Rule]:
    """PCIME, malaria and returning consultants, recounted from the rows in Python."""
    from appliance.pcime.models import PcimeAssessment

    assessments = {row.consultation_id: row for row in PcimeAssessment.select()}
    malaria = _diagnoses("paludisme")

    def flag(name: str, value=True):
        return lambda v, p: v.id in assessments and getattr(assessments[v.id], name) == value

    def elsewhere(code: str):
        return lambda v, p: v.id not in assessments and v.diagnosis_code == code

    def pregnant(v, p) -> bool:
        return p.sex == "F" and any(
            a.patient_id == v.patient_id and v.visit_date - dt.timedelta(days=280) < a.visit_date <= v.visit_date
            and not any(d.patient_id == v.patient_id and a.visit_date <= d.visit_date <= v.visit_date
                        for d in visits[Delivery])
            for a in visits[AntenatalVisit])

    def returning(v, p) -> bool:
        return any(c.patient_id == v.patient_id and c.visit_date < v.visit_date
                   and c.visit_date.year == v.visit_date.year for c in visits[Consultation])

    either = lambda *tests: lambda v, p: any(test(v, p) for test in tests)  # noqa: E731
    tested = lambda v, p: v.id in assessments and assessments[v.id].malaria_test != ""  # noqa: E731
    return {
        "pal_suspects": Rule(Consultation, either(lambda v, p: v.diagnosis_code in malaria, flag("fever"))),
        "pal_testes": Rule(Consultation, either(tested, elsewhere("B50.9"))),
        "pal_confirmes": Rule(Consultation, either(flag("malaria_test", "positif"), elsewhere("B50.9"))),
        "pal_simples": Rule(Consultation, either(flag("malaria", "simple"), elsewhere("B50.9"))),
        "pal_graves": Rule(Consultation, either(flag("malaria", "grave"), elsewhere("B50.8"))),
        "pal_femmes_enceintes": Rule(Consultation, lambda v, p: v.diagnosis_code in malaria and pregnant(v, p)),
        "pneumonies_pcime": Rule(Consultation, flag("pneumonia")),
        "diarrhees_pcime": Rule(Consultation, flag("diarrhoea")),
        "diarrhees_sro_zinc": Rule(Consultation, lambda v, p: flag("diarrhoea")(v, p) and flag("ors_given")(v, p)
                                   and flag("zinc_given")(v, p)),
        "vitamine_a": Rule(Consultation, flag("vitamin_a_given"), per_patient=True),
        "deparasitage": Rule(Consultation, flag("albendazole_given"), per_patient=True),
        "consultants_nouveaux": Rule(Consultation, lambda v, p: not returning(v, p)),
        "consultants_anciens": Rule(Consultation, returning),
    }


def _lost_rule(programme: str, settings: ReportSettings, chronic: list[ChronicVisit]) -> Rule:
    delay = dt.timedelta(days=settings.lost_after_days)

    def lost_on(visit: ChronicVisit) -> dt.date | None:
        return visit.next_appointment + delay if visit.next_appointment else None

    def keep(visit: ChronicVisit, patient: Patient) -> bool:
        if visit.programme != programme or visit.next_appointment is None:
            return False
        return not any(
            other.patient_id == visit.patient_id and other.programme == programme
            and visit.visit_date < other.visit_date <= lost_on(visit)
            for other in chronic
        )

    return Rule(ChronicVisit, keep, per_patient=True, event_date=lost_on)


def recount(period: str, settings: ReportSettings, today: dt.date) -> dict[tuple[str, str], int]:
    """The non-zero cells of the month, counted visit by visit."""
    month = Month.parse(period)
    bands = AgeBands.from_bounds(settings.age_bands)
    patients = {patient.id: patient for patient in Patient.select()}
    models = (Consultation, AntenatalVisit, Delivery, PostnatalVisit, Immunisation, GrowthMeasurement,
              FamilyPlanningVisit, ChronicVisit, Death, Pregnancy, Referral)
    visits: dict = {model: [visit for visit in model.select() if not visit.voided] for model in models}
    visits["birth"] = births(visits[Delivery])
    counts: Counter[tuple[str, str]] = Counter()
    defined = load_definitions().indicators
    every_rule = rules(month, settings, visits, patients)
    missing = set(defined) - set(every_rule)
    assert not missing, f"indicators without a recount: {sorted(missing)}"
    for code in defined:
        rule = every_rule[code]
        first_event: dict[int, dt.date] = {}
        for visit in visits[rule.model]:
            patient = patients[visit.patient_id]
            when = rule.event_date(visit)
            if patient.voided or when is None or not month.start <= when <= min(month.end, today):
                continue
            if not rule.keep(visit, patient):
                continue
            sex = rule.sex(visit, patient)
            if sex not in ("F", "M"):  # an unknown sex is in no cell (reported apart)
                continue
            if rule.per_patient:
                first_event[patient.id] = min(first_event.get(patient.id, when), when)
            else:
                counts[(code, f"{sex}_{bands.band_of(completed_years(rule.born(visit, patient), when)).code}")] += 1
        for patient_id, when in first_event.items():
            patient = patients[patient_id]
            counts[(code, f"{patient.sex}_{bands.band_of(completed_years(patient.birth_date, when)).code}")] += 1
    return dict(counts)
