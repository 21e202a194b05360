"""PCIME rules alone: cases from the WHO IMCI chart booklets (2014 sick child, 2019 young infant).

Each case gives the child's age, the signs ticked and the measures, and the classification the
booklet's tables give in each table that applies. Ages in days: 1 month = 30.4375 days (WHO).
"""

import datetime as dt
import re
import shutil

import pytest

from appliance.clinical import pcime
from appliance.clinical.pcime import Facts, classify

WEEKS = 7
MONTH = 30.4375


def months(n: float) -> int:
    return int(n * MONTH) + 1


def facts(age_days, *signs, **measures) -> Facts:
    return Facts(age_days, frozenset(signs), measures)


# (case, age in days, signs, measures, expected {table: classification})
BOOKLET_CASES = [
    # --- young infant, 0-59 days (2019 booklet) ---
    ("6 semaines, FR 62 : respiration rapide = pneumonie (7-59 jours)", 6 * WEEKS, (), {"resp_rate": 62},
     {"infection": "pneumonie_nourrisson"}),
    ("5 jours, FR 64 : respiration rapide avant 7 jours = maladie très grave", 5, (), {"resp_rate": 64},
     {"infection": "maladie_tres_grave"}),
    ("3 semaines, FR 58 : pas de respiration rapide", 21, (), {"resp_rate": 58},
     {"infection": "pas_infection"}),
    ("10 jours, T° 38 : fièvre = maladie très grave", 10, (), {"temperature_c": 38.0},
     {"infection": "maladie_tres_grave"}),
    ("2 semaines, T° 35,2 : hypothermie = maladie très grave", 14, (), {"temperature_c": 35.2},
     {"infection": "maladie_tres_grave"}),
    ("1 mois, ne tète plus : maladie très grave", 30, ("tete_mal",), {},
     {"infection": "maladie_tres_grave"}),
    ("4 semaines, tirage sous-costal marqué : maladie très grave", 28, ("tirage_severe",), {},
     {"infection": "maladie_tres_grave"}),
    ("3 semaines, ombilic suintant : infection bactérienne locale", 21, ("ombilic_infecte",), {},
     {"infection": "infection_locale"}),
    ("12 heures, ictère : ictère grave", 0, ("ictere",), {}, {"ictere": "ictere_grave"}),
    ("5 jours, ictère, paumes et plantes jaunes : ictère grave", 5, ("ictere", "paumes_plantes_jaunes"), {},
     {"ictere": "ictere_grave"}),
    ("5 jours, ictère du visage seulement : ictère", 5, ("ictere",), {}, {"ictere": "ictere_simple"}),
    ("6 semaines, diarrhée, yeux enfoncés, pli très lent : déshydratation sévère", 42,
     ("diarrhee", "yeux_enfonces", "pli_tres_lent"), {}, {"deshydratation": "deshydratation_severe"}),
    ("6 semaines, diarrhée, agité, pli lent : signes évidents de déshydratation", 42,
     ("diarrhee", "agite_irritable", "pli_lent"), {}, {"deshydratation": "deshydratation_signes"}),
    ("1 mois, diarrhée depuis 15 jours : diarrhée persistante sévère", 30, ("diarrhee",),
     {"diarrhoea_days": 15}, {"deshydratation": "pas_deshydratation",
                              "diarrhee_persistante": "diarrhee_persistante_severe"}),
    ("3 semaines, 1,8 kg : très faible poids", 21, (), {"weight_kg": 1.8}, {"alimentation": "tres_faible_poids"}),
    ("5 semaines, moins de 8 tétées : problème d'alimentation", 35, ("moins_8_tetees",), {},
     {"alimentation": "probleme_alimentation"}),
    ("5 semaines, Z poids/âge −2,4 : faible poids pour l'âge", 35, (), {"waz": -2.4},
     {"alimentation": "probleme_alimentation"}),
    ("7 semaines, rien d'anormal", 49, (), {"resp_rate": 48, "temperature_c": 36.8},
     {"infection": "pas_infection", "alimentation": "pas_probleme_alimentation"}),
    # --- child 2-59 months (2014 booklet) ---
    ("14 mois, toux, FR 45, pas de tirage : pneumonie", months(14), ("toux",), {"resp_rate": 45},
     {"toux": "pneumonie"}),
    ("14 mois, toux, FR 38 : toux ou rhume", months(14), ("toux",), {"resp_rate": 38}, {"toux": "toux_rhume"}),
    ("6 mois, toux, FR 50 : respiration rapide (2-12 mois : 50)", months(6), ("toux",), {"resp_rate": 50},
     {"toux": "pneumonie"}),
    ("6 mois, toux, FR 48 : pas de respiration rapide", months(6), ("toux",), {"resp_rate": 48},
     {"toux": "toux_rhume"}),
    ("11 mois, toux, FR 36, tirage sous-costal : pneumonie", months(11), ("toux", "tirage"), {"resp_rate": 36},
     {"toux": "pneumonie"}),
    ("2 ans, toux, stridor calme : pneumonie grave", months(24), ("toux", "stridor"), {},
     {"toux": "pneumonie_grave"}),
    ("18 mois, toux, léthargique : pneumonie grave ou maladie très grave", months(18), ("toux", "lethargique"),
     {"resp_rate": 44}, {"danger": "signe_general_danger", "toux": "pneumonie_grave"}),
    ("3 ans, vomit tout : signe général de danger", months(36), ("vomit_tout",), {},
     {"danger": "signe_general_danger"}),
    ("9 mois, convulsions pendant cette maladie : signe général de danger", months(9), ("convulsions_atcd",), {},
     {"danger": "signe_general_danger"}),
    ("2 ans, fièvre, TDR positif, pas de signe de danger : paludisme simple", months(24),
     ("fievre_atcd", "tdr_positif"), {"temperature_c": 38.6}, {"fievre": "paludisme"}),
    ("2 ans, T° 38,2, TDR négatif : fièvre, pas de paludisme", months(24), ("tdr_negatif",),
     {"temperature_c": 38.2}, {"fievre": "fievre_pas_paludisme"}),
    ("2 ans, fièvre, raideur de la nuque : maladie fébrile très grave", months(24),
     ("fievre_atcd", "raideur_nuque", "tdr_positif"), {}, {"fievre": "maladie_febrile_tres_grave"}),
    ("4 ans, fièvre, incapable de boire : maladie fébrile très grave", months(48),
     ("fievre_atcd", "incapable_boire"), {}, {"danger": "signe_general_danger",
                                              "fievre": "maladie_febrile_tres_grave"}),
    ("2 ans, fièvre, pas de TDR : paludisme (zone à haut risque)", months(24), ("fievre_atcd",), {},
     {"fievre": "paludisme_sans_tdr"}),
    ("T° 37,4 sans antécédent de fièvre : pas de classification fièvre", months(24), (), {"temperature_c": 37.4},
     {"fievre": None}),
    ("2 ans, PB 112 mm : malnutrition aiguë sévère (non compliquée)", months(24), (), {"muac_mm": 112},
     {"nutrition": "mas_non_compliquee"}),
    ("2 ans, PB 112 mm, ne finit pas l'ATPE : MAS compliquée", months(24), ("ne_finit_pas_atpe",),
     {"muac_mm": 112}, {"nutrition": "mas_compliquee"}),
    ("2 ans, œdèmes des deux pieds et tirage : MAS compliquée", months(24), ("oedemes", "toux", "tirage"), {},
     {"toux": "pneumonie", "nutrition": "mas_compliquee"}),
    ("2 ans, PB 112 mm, déshydratation sévère : MAS compliquée (classification rose)", months(24),
     ("diarrhee", "lethargique", "pli_tres_lent"), {"muac_mm": 112},
     {"deshydratation": "deshydratation_severe", "nutrition": "mas_compliquee"}),
    ("3 ans, Z P/T −3,4 : malnutrition aiguë sévère", months(36), (), {"whz": -3.4},
     {"nutrition": "mas_non_compliquee"}),
    ("15 mois, PB 120 mm : malnutrition aiguë modérée", months(15), (), {"muac_mm": 120}, {"nutrition": "mam"}),
    ("15 mois, PB 125 mm : pas de malnutrition", months(15), (), {"muac_mm": 125},
     {"nutrition": "pas_malnutrition"}),
    ("1 an, diarrhée, léthargique, yeux enfoncés : déshydratation sévère", months(12),
     ("diarrhee", "lethargique", "yeux_enfonces"), {}, {"deshydratation": "deshydratation_severe"}),
    ("1 an, diarrhée, agité, boit avidement : signes évidents de déshydratation", months(12),
     ("diarrhee", "agite_irritable", "boit_avidement"), {}, {"deshydratation": "deshydratation_signes"}),
    ("1 an, diarrhée, yeux enfoncés seulement : pas de déshydratation", months(12),
     ("diarrhee", "yeux_enfonces"), {}, {"deshydratation": "pas_deshydratation"}),
    ("1 an, diarrhée 16 jours, pas de déshydratation : diarrhée persistante", months(12), ("diarrhee",),
     {"diarrhoea_days": 16}, {"diarrhee_persistante": "diarrhee_persistante"}),
    ("1 an, diarrhée 16 jours, agité, yeux enfoncés : diarrhée persistante sévère", months(12),
     ("diarrhee", "agite_irritable", "yeux_enfonces"), {"diarrhoea_days": 16},
     {"deshydratation": "deshydratation_signes", "diarrhee_persistante": "diarrhee_persistante_severe"}),
    ("30 mois, sang dans les selles : dysenterie", months(30), ("diarrhee", "sang_selles"), {},
     {"dysenterie": "dysenterie", "deshydratation": "pas_deshydratation"}),
    ("3 ans, gonflement douloureux derrière l'oreille : mastoïdite", months(36),
     ("probleme_oreille", "gonflement_mastoide"), {}, {"oreille": "mastoidite"}),
    ("3 ans, pus de l'oreille depuis 5 jours : infection aiguë de l'oreille", months(36),
     ("probleme_oreille", "ecoulement_oreille"), {"ear_discharge_days": 5}, {"oreille": "otite_aigue"}),
    ("3 ans, pus de l'oreille depuis 20 jours : infection chronique", months(36),
     ("probleme_oreille", "ecoulement_oreille"), {"ear_discharge_days": 20}, {"oreille": "otite_chronique"}),
    ("3 ans, problème d'oreille sans signe : pas d'infection", months(36), ("probleme_oreille",), {},
     {"oreille": "pas_otite"}),
    ("20 mois, pâleur palmaire sévère : anémie sévère", months(20), ("paleur_severe",), {},
     {"anemie": "anemie_severe"}),
    ("20 mois, pâleur légère : anémie", months(20), ("paleur_legere",), {}, {"anemie": "anemie"}),
]


@pytest.mark.parametrize(("case", "age_days", "signs", "measures", "expected"), BOOKLET_CASES,
                         ids=[case[0] for case in BOOKLET_CASES])
def test_booklet_case(case, age_days, signs, measures, expected):
    result = classify(facts(age_days, *signs, **measures)).by_code()
    found = {item.table: item.code for item in result.values()}
    for table, code in expected.items():
        assert found.get(table) == code, f"{case}: {table} → {found.get(table)}"


def test_there_are_at_least_thirty_booklet_cases():
    assert len(BOOKLET_CASES) >= 30


def test_the_reasons_show_the_sign_and_its_threshold():
    young = classify(facts(6 * WEEKS, resp_rate=62)).by_code()["pneumonie_nourrisson"]
    assert young.reasons == ("Respiration rapide (FR 62/min ≥ 60)",)
    child = classify(facts(months(14), "toux", resp_rate=45)).by_code()["pneumonie"]
    assert child.reasons == ("Respiration rapide (FR 45/min ≥ 40)",)
    sam = classify(facts(months(24), muac_mm=112)).by_code()["mas_non_compliquee"]
    assert sam.reasons == ("Critère de malnutrition aiguë sévère : PB < 115 mm (PB 112 mm < 115)",)
    danger = classify(facts(months(18), "toux", "lethargique")).by_code()["pneumonie_grave"]
    assert danger.reasons == ("Signe général de danger : léthargique ou inconscient",)
    dehydration = classify(facts(months(12), "diarrhee", "lethargique", "yeux_enfonces")).by_code()
    assert dehydration["deshydratation_severe"].reasons == (
        "2 signes sur 4 : Léthargique ou inconscient, Yeux enfoncés",)


def test_any_general_danger_sign_means_urgent_referral():
    for sign in ("incapable_boire", "vomit_tout", "convulsions_atcd", "lethargique", "convulse"):
        assessment = classify(facts(months(30), sign))
        assert assessment.urgent, sign
        assert assessment.ranked()[0].colour == "rose"
    assert not classify(facts(months(30), "fievre_atcd", "tdr_positif")).urgent


def test_simple_malaria_gives_act_and_is_counted_as_confirmed():
    assessment = classify(facts(months(24), "fievre_atcd", "tdr_positif"))
    assert not assessment.urgent
    assert assessment.diagnoses()[0] == "B50.9"
    assert "artemether_lumefantrine" in assessment.treatments()


def test_worst_classification_leads_the_diagnoses():
    assessment = classify(facts(months(24), "toux", "stridor", "fievre_atcd", "tdr_positif"))
    assert assessment.ranked()[0].colour == "rose"
    assert assessment.diagnoses()[0] in ("J18.9", "B50.8")


def test_ages_choose_the_chart_and_refuse_five_years():
    assert pcime.chart_for(59).code == "nourrisson"
    assert pcime.chart_for(60).code == "enfant"
    assert pcime.chart_for(1825).code == "enfant"
    assert pcime.chart_for(1826) is None
    with pytest.raises(ValueError, match="5 ans"):
        classify(facts(2000))


def test_a_sign_of_the_other_chart_or_an_impossible_measure_is_refused():
    with pytest.raises(ValueError, match="tete_mal"):
        classify(facts(months(12), "tete_mal"))
    with pytest.raises(ValueError, match="Fréquence respiratoire"):
        classify(facts(months(12), "toux", resp_rate=400))


# --- doses ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("treatment", "age_days", "weight", "dose", "quantity"), [
    ("amoxicilline_pneumonie", months(6), 7.0, 1, 10),  # 4-<10 kg: 1 tablet x2 x5 days
    ("amoxicilline_pneumonie", months(14), 10.5, 2, 20),
    ("amoxicilline_pneumonie", months(40), None, 3, 30),  # no weight: age band 3-5 years
    ("artemether_lumefantrine", months(24), 11.0, 1, 6),
    ("artemether_lumefantrine", months(48), 16.0, 2, 12),
    ("paracetamol", months(40), 15.0, 1.5, 18),
    ("zinc", months(4), None, 0.5, 5),
    ("zinc", months(8), None, 1, 10),
    ("ciprofloxacine_dysenterie", months(30), 12.0, 1, 6),
    ("amoxicilline_nourrisson", 42, 4.2, 1.5, 21),
    ("ampicilline_pre_transfert", months(18), 11.0, 3, 2),  # 3 ml of 2.5 ml vials: 2 vials
    ("gentamicine_pre_transfert", months(18), 11.0, 8.2, 2),  # 7.5 mg/kg at 10 mg/ml, 8 ml ampoules
    ("artesunate_rectal_pre_transfert", months(24), 11.0, 1, 1),
    ("artesunate_rectal_pre_transfert", months(45), 14.0, 2, 2),
    ("vitamine_a", months(8), None, 1, 1),
    ("albendazole", months(18), None, 0.5, 1),
    ("fer", months(20), 10.5, 2, 1),
])
def test_dose_tables(treatment, age_days, weight, dose, quantity):
    line = pcime.propose(treatment, age_days, weight)
    assert line.problem is None
    assert line.dose == pytest.approx(dose, abs=0.11)
    assert line.quantity == quantity


def test_vitamin_a_strength_follows_age():
    assert pcime.propose("vitamine_a", months(8)).medicine == "vita_100000"
    assert pcime.propose("vitamine_a", months(30)).medicine == "vita_200000"


def test_rectal_artesunate_only_from_six_months_and_im_before():
    assert pcime.propose("artesunate_rectal_pre_transfert", months(4), 6.0) is None
    im = pcime.propose("artesunate_im_pre_transfert", months(4), 6.0)
    assert im.dose == pytest.approx(0.9) and im.quantity == 1


def test_a_weight_based_dose_needs_the_weight():
    line = pcime.propose("gentamicine_pre_transfert", months(12), None)
    assert line.dose is None and "Peser" in line.problem


def test_outside_the_table_the_dose_must_be_written_with_a_reason():
    line = pcime.propose("artemether_lumefantrine", months(3), 4.5)  # under 5 kg: no band
    assert line.dose is None and "Aucune tranche" in line.problem


def test_plans_give_instructions_and_sachets():
    plan_b = pcime.propose("sro_plan_b", months(8), 7.5)
    assert plan_b.text == "450 à 800 ml en 4 heures" and plan_b.quantity == 2


def test_check_dose_names_what_departs_from_the_table():
    assert pcime.check_dose("amoxicilline_pneumonie", months(14), 10.5, 2, 2, 5) == []
    problems = pcime.check_dose("amoxicilline_pneumonie", months(14), 10.5, 3, 3, 7)
    assert problems == ["Dose de 3 comprimés hors du tableau (2 comprimés, poids 10,5 kg).",
                        "3 prises par jour au lieu de 2.", "7 jours au lieu de 5."]
    # within the tolerance of a weight-based dose
    assert pcime.check_dose("gentamicine_pre_transfert", months(18), 11.0, 8.5, 1, 1) == []
    assert pcime.check_dose("gentamicine_pre_transfert", months(18), 11.0, 10, 1, 1)


def test_every_row_treatment_and_medicine_exists():
    pcime.load_all()
    book = pcime.formulary()
    for chart in pcime.charts():
        for table in chart.tables:
            for row in table.rows:
                for code in row.treatments:
                    assert book.treatments[code].medicine in book.medicines


def test_every_diagnosis_is_in_the_diagnosis_list():
    import csv
    from pathlib import Path

    path = Path(pcime.__file__).parents[1] / "patients" / "data" / "codes" / "diagnoses.csv"
    with path.open(encoding="utf-8") as handle:
        known = {row["code"] for row in csv.DictReader(handle)}
    for chart in pcime.charts():
        for table in chart.tables:
            for row in table.rows:
                assert row.diagnosis is None or row.diagnosis in known, (chart.code, row.code, row.diagnosis)


def test_preventive_doses_due():
    today = dt.date(2026, 6, 1)
    due = {entry.treatment for entry in pcime.preventive_due(months(18), {}, today)}
    assert due == {"vitamine_a", "albendazole"}
    recent = {"vitamine_a": today - dt.timedelta(days=90), "albendazole": today - dt.timedelta(days=200)}
    assert {entry.treatment for entry in pcime.preventive_due(months(18), recent, today)} == {"albendazole"}
    assert {entry.treatment for entry in pcime.preventive_due(months(8), {}, today)} == {"vitamine_a"}
    assert pcime.preventive_due(months(4), {}, today) == []


# --- the files are checked at start-up ------------------------------------------------------------


def _copy_data(tmp_path):
    for name in (*pcime.CHART_FILES, pcime.MEDICINES_FILE, pcime.DOSES_FILE):
        shutil.copy(pcime.DATA_DIR / name, tmp_path / name)
    return tmp_path


@pytest.mark.parametrize(("file", "old", "new", "message"), [
    ("pcime_2_59_mois.toml", 'any = ["respiration_rapide", "tirage"]', 'any = ["respiration_rapid", "tirage"]',
     "pcime_2_59_mois.toml : table[1].row[1] : signe « respiration_rapid » inconnu"),
    ("pcime_2_59_mois.toml", 'colour = "jaune"', 'colour = "orange"', "« orange » (rose, jaune ou vert)"),
    ("pcime_0_2_mois.toml", "below_days = 60", "below_days = 59", "l'âge doit commencer où finit"),
    ("pcime_doses.toml", 'medicine = "zinc_20_cpd"', 'medicine = "zinc_10"', "médicament « zinc_10 » absent"),
    ("pcime_2_59_mois.toml", 'treatments = ["fer"]', 'treatments = ["fer_sirop"]', "traitement « fer_sirop » absent"),
    ("pcime_2_59_mois.toml", 'any_of = ["fievre_atcd", "temperature_elevee"]',
     'any_of = ["fievre", "temperature_elevee"]', "signes dérivés en boucle"),
])
def test_a_broken_data_file_is_reported_with_its_file_and_key(tmp_path, file, old, new, message):
    folder = _copy_data(tmp_path)
    text = (folder / file).read_text(encoding="utf-8")
    assert old in text
    (folder / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(pcime.PcimeDataError, match=re.escape(message)):
        pcime.load_all(folder)
