"""The monthly figures against a small record whose every figure was counted by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.patients.models import (
    AntenatalVisit,
    ChronicVisit,
    Consultation,
    Delivery,
    FamilyPlanningVisit,
    GrowthMeasurement,
    Immunisation,
    PostnatalVisit,
    Pregnancy,
)
from appliance.pcime.models import PcimeAssessment
from appliance.reports.builder import Month, build_report, records_behind
from appliance.reports.definitions import load_definitions
from appliance.reports.export import report_csv
from appliance.reports.stock_lines import load_stock_lines
from appliance.settings.reports import ReportSettings
from tests.reports.factories import make_patient, make_visit

PERIOD = "2024-03"
TODAY = dt.date(2024, 4, 10)
SETTINGS = ReportSettings()


@pytest.fixture
def record(store):
    """March 2024 at a small CSCom. Comments give each expected count."""
    boy = make_patient("M", "2023-03-15")
    make_visit(Consultation, boy, "2024-03-14", diagnosis_code="B50.9")  # cons_paludisme M_lt1 (11 months)
    make_visit(Consultation, boy, "2024-03-15", diagnosis_code="J18.9")  # cons_ira M_1_4 (first birthday)
    make_visit(Consultation, boy, "2024-03-20", diagnosis_code="A09", voided=True)  # voided: not counted
    girl = make_patient("F", "2019-03-01")
    make_visit(Consultation, girl, "2024-02-29", diagnosis_code="B50.9")  # February: not counted
    make_visit(Consultation, girl, "2024-03-31", diagnosis_code="XX99")  # unknown code → cons_autres F_5_14
    make_visit(Consultation, girl, "2024-04-01", diagnosis_code="B50.9")  # April: not counted
    cancelled = make_patient("M", "1990-01-01", voided=True)
    make_visit(Consultation, cancelled, "2024-03-05", diagnosis_code="B50.9")  # voided record: not counted

    mother = make_patient("F", "2000-06-10")  # 23 years old in March
    hers = Pregnancy.create(patient=mother.id, lmp_date=dt.date(2023, 7, 1), opened_on=dt.date(2023, 9, 1))
    # Contact numbers as the record computes them (two earlier contacts elsewhere in the pregnancy).
    make_visit(AntenatalVisit, mother, "2023-12-05", contact_number=3, pregnancy=hers.id, iptp_dose=1)  # December
    make_visit(AntenatalVisit, mother, "2024-03-02", contact_number=4, pregnancy=hers.id, iptp_dose=1,
               td_dose=2)  # cpn4, tpi2 (her 2nd SP whatever number was typed), td2plus_cpn F_15_24
    make_visit(AntenatalVisit, mother, "2024-03-30", contact_number=5, pregnancy=hers.id, iptp_dose=3,
               net_given=True)  # 5th contact: not cpn4 again; tpi3, mild F_15_24
    young = make_patient("F", "2009-03-10")
    first_trimester = Pregnancy.create(patient=young.id, lmp_date=dt.date(2024, 1, 5), opened_on=dt.date(2024, 3, 9))
    make_visit(AntenatalVisit, young, "2024-03-09", contact_number=1,
               pregnancy=first_trimester.id)  # cpn1 and cpn1_t1 (9 weeks) F_5_14 (14, birthday tomorrow)
    make_visit(Delivery, mother, "2024-03-31", place="ici",
               attendant="sage_femme")  # accouchements, accouchements_qualifies F_15_24
    make_visit(Delivery, young, "2024-03-20", place="domicile")  # at home: accouchements_domicile F_15_24
    baby = make_patient("F", "2024-03-31")
    make_visit(PostnatalVisit, mother, "2024-03-31", subject="mere")  # cpon F_15_24
    make_visit(PostnatalVisit, baby, "2024-03-31", subject="nouveau_ne")  # cpon_nouveau_ne F_lt1
    make_visit(Immunisation, baby, "2024-03-31", antigen="BCG", dose_number=1)  # vacc_bcg F_lt1
    make_visit(Immunisation, baby, "2024-03-31", antigen="VPO", dose_number=0)  # vacc_vpo_0 F_lt1
    make_visit(Immunisation, girl, "2024-03-12", antigen="RR", dose_number=2, given_here=False)  # from a card

    thin = make_patient("M", "2022-01-01")
    make_visit(GrowthMeasurement, thin, "2024-03-05", weight_kg=9.0, muac_mm=120)  # MAM on MUAC…
    make_visit(GrowthMeasurement, thin, "2024-03-25", weight_kg=8.7, muac_mm=110)  # …then SAM: mas M_1_4 only
    moderate = make_patient("F", "2023-06-01")
    make_visit(GrowthMeasurement, moderate, "2024-03-07", weight_kg=6.8, muac_mm=118)  # mam F_lt1
    make_visit(GrowthMeasurement, moderate, "2024-03-21", weight_kg=7.0, muac_mm=121)  # same child, once
    # A PCIME consultation (9 months): malaria tested positive, diarrhoea given ORS and zinc, vitamin A.
    pcime = make_visit(Consultation, moderate, "2024-03-07", diagnosis_code="A09")  # cons_diarrhee F_lt1
    PcimeAssessment.create(consultation=pcime.id, patient_id=moderate.id, visit_date=pcime.visit_date,
                           chart="enfant", fever=True, malaria_test="positif", malaria="simple", diarrhoea=True,
                           ors_given=True, zinc_given=True, vitamin_a_given=True)
    make_visit(Consultation, mother, "2024-03-10", diagnosis_code="B54")  # presumed malaria, pregnant (CPN 02/03)
    make_visit(GrowthMeasurement, boy, "2024-03-15", weight_kg=9.6, muac_mm=140)  # weighed, normal
    make_visit(GrowthMeasurement, girl, "2024-03-15", muac_mm=160)  # not weighed (no weight), 5 years
    # enfants_peses: thin M_1_4, moderate F_lt1, boy M_1_4 (on his birthday) = 3 children

    user = make_patient("F", "1995-05-05")  # 28
    make_visit(FamilyPlanningVisit, user, "2024-03-01", method="pilule_coc", user_status="nouvelle")
    make_visit(FamilyPlanningVisit, user, "2024-03-28", method="pilule_pop", user_status="nouvelle")  # same user
    make_visit(FamilyPlanningVisit, mother, "2024-03-15", method="dmpa_sc", user_status="continue")

    hypertensive = make_patient("M", "1960-01-01")  # 64
    make_visit(ChronicVisit, hypertensive, "2023-11-10", next_appointment="2023-12-10")  # missed; lost 2024-03-09
    lapsed = make_patient("F", "1970-07-07")  # 53
    make_visit(ChronicVisit, lapsed, "2023-11-10", next_appointment="2023-12-10")
    make_visit(ChronicVisit, lapsed, "2024-03-01", next_appointment="2024-04-01")  # back in time: not lost, seen
    make_visit(ChronicVisit, lapsed, "2024-03-20", next_appointment="2024-04-20")  # seen twice, counts once
    diabetic = make_patient("M", "1980-02-02")  # 44
    make_visit(ChronicVisit, diabetic, "2023-10-01", programme="diabete", next_appointment="2023-11-01")
    # lost on 2024-01-30: January, not March
    return {"boy": boy, "girl": girl, "mother": mother, "thin": thin}


EXPECTED = {
    ("cons_paludisme", "M_lt1"): 1,
    ("cons_paludisme", "F_15_24"): 1,  # the pregnant mother's presumed malaria
    ("cons_diarrhee", "F_lt1"): 1,  # the PCIME consultation
    # malaria: the boy's B50.9 (tested, confirmed, simple), the PCIME child's positive TDR, the mother's B54
    ("pal_suspects", "M_lt1"): 1, ("pal_suspects", "F_lt1"): 1, ("pal_suspects", "F_15_24"): 1,
    ("pal_testes", "M_lt1"): 1, ("pal_testes", "F_lt1"): 1,
    ("pal_confirmes", "M_lt1"): 1, ("pal_confirmes", "F_lt1"): 1,
    ("pal_simples", "M_lt1"): 1, ("pal_simples", "F_lt1"): 1,
    ("pal_femmes_enceintes", "F_15_24"): 1,
    ("diarrhees_pcime", "F_lt1"): 1, ("diarrhees_sro_zinc", "F_lt1"): 1, ("vitamine_a", "F_lt1"): 1,
    # first consultation of the year: the boy (14/03), the PCIME child, the mother; the boy's second
    # (15/03) and the girl's (she came on 29/02) are returning
    ("consultants_nouveaux", "M_lt1"): 1, ("consultants_nouveaux", "F_lt1"): 1,
    ("consultants_nouveaux", "F_15_24"): 1,
    ("consultants_anciens", "M_1_4"): 1, ("consultants_anciens", "F_5_14"): 1,
    ("cons_ira", "M_1_4"): 1,
    ("cons_autres", "F_5_14"): 1,
    ("cpn1", "F_5_14"): 1,
    ("cpn1_t1", "F_5_14"): 1,
    ("cpn4", "F_15_24"): 1,
    ("tpi2", "F_15_24"): 1,
    ("tpi3", "F_15_24"): 1,
    ("td2plus_cpn", "F_15_24"): 1,
    ("mild", "F_15_24"): 1,
    ("accouchements", "F_15_24"): 1,
    ("accouchements_qualifies", "F_15_24"): 1,
    ("accouchements_domicile", "F_15_24"): 1,
    ("cpon", "F_15_24"): 1,
    ("cpon_nouveau_ne", "F_lt1"): 1,
    ("vacc_bcg", "F_lt1"): 1,
    ("vacc_vpo_0", "F_lt1"): 1,
    ("enfants_peses", "M_1_4"): 2,
    ("enfants_peses", "F_lt1"): 1,
    ("mam", "F_lt1"): 1,
    ("mas", "M_1_4"): 1,
    ("pf_nouvelles_pilule", "F_25_49"): 1,
    ("pf_anciennes_injectable", "F_15_24"): 1,
    ("chron_vus_hta", "F_50p"): 1,
    ("chron_perdus_hta", "M_50p"): 1,
}


def nonzero(report) -> dict:
    return {cell: value for cell, value in report.figures.values.items() if value}


def test_every_figure_matches_the_hand_count(record):
    report = build_report(PERIOD, SETTINGS, today=TODAY)
    assert nonzero(report) == EXPECTED
    assert not report.provisional


def test_every_indicator_has_every_sex_and_band_cell(record):
    report = build_report(PERIOD, SETTINGS, today=TODAY)
    codes = set(load_definitions().indicators)
    stock = set(load_stock_lines().labels())  # the tracers' stock lines: one "total" cell each
    assert {code for code, _ in report.figures.values} == codes | stock
    assert len(report.figures.values) == len(codes) * 12 + len(stock)


def test_the_drill_down_lists_exactly_the_records_of_a_figure(record):
    rows = records_behind(PERIOD, "cpn4", SETTINGS, sex="F", band="15_24", today=TODAY)
    assert [row.event_date for row in rows] == [dt.date(2024, 3, 2)]  # each woman once, when she reaches it
    assert {row.patient_id for row in rows} == {record["mother"].id}
    assert rows[0].detail.startswith("CPN4")
    every_consultation = records_behind(PERIOD, "cons_ira", SETTINGS, today=TODAY)
    assert [(row.band, row.age_years) for row in every_consultation] == [("1_4", 1)]


def test_a_child_counted_once_is_listed_once_at_its_first_event(record):
    rows = records_behind(PERIOD, "mas", SETTINGS, today=TODAY)
    assert len(rows) == 1 and rows[0].patient_id == record["thin"].id
    assert "Malnutrition aiguë sévère" in rows[0].detail and "PB 110 mm" in rows[0].detail
    assert records_behind(PERIOD, "mam", SETTINGS, sex="M", today=TODAY) == []


def test_lost_to_follow_up_counts_in_the_month_the_delay_runs_out(record):
    assert build_report("2024-01", SETTINGS, today=TODAY).total("chron_perdus_diabete") == 1
    assert build_report("2024-03", SETTINGS, today=TODAY).total("chron_perdus_diabete") == 0
    shorter = ReportSettings(lost_after_days=30)  # 2023-12-10 + 30 days = 2024-01-09
    assert build_report("2024-01", shorter, today=TODAY).total("chron_perdus_hta") == 2
    assert build_report("2024-03", shorter, today=TODAY).total("chron_perdus_hta") == 0


def test_a_month_not_over_is_provisional_and_ignores_nothing_yet_to_come(record):
    report = build_report(PERIOD, SETTINGS, today=dt.date(2024, 3, 15))
    assert report.provisional
    assert report.total("cpn4") == 1
    assert report.total("tpi3") == 0  # the SP of 30 March is in the future of that day
    assert report.total("chron_perdus_hta") == 1  # lost on 9 March: already known on the 15th


def test_other_age_bands_come_from_the_configuration(record):
    report = build_report(PERIOD, ReportSettings(age_bands=[0, 5, 15]), today=TODAY)
    assert report.value("cons_ira", "M_lt5") == 1 and report.value("cons_paludisme", "M_lt5") == 1
    assert report.value("chron_vus_hta", "F_15p") == 1


def test_csv_has_a_row_per_indicator_and_sex_with_totals(record):
    text = report_csv(build_report(PERIOD, SETTINGS, today=TODAY))
    assert text.startswith("\ufeffperiode;section;code;indicateur;sexe;moins de 1 an;1–4 ans;")
    lines = text.lstrip("\ufeff").splitlines()
    assert len(lines) == 1 + 2 * len(load_definitions().indicators) + len(load_stock_lines().labels())
    cpn4 = next(line for line in lines if ";cpn4;" in line and ";Féminin;" in line).split(";")
    assert cpn4[-4:] == ["1", "0", "0", "1"]  # 15–24: 1, 25–49: 0, 50+: 0, total 1


def test_month_labels_and_bounds():
    month = Month.parse("2024-02")
    assert (month.start, month.end, month.label) == (dt.date(2024, 2, 1), dt.date(2024, 2, 29), "février 2024")
    assert month.previous().period == "2024-01"
    with pytest.raises(ValueError, match="AAAA-MM"):
        Month.parse("2024-13")
