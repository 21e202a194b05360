"""A user whose language is English reads the whole EMR in English; French stays the default.

The main page of every area is fetched by users whose account language is English. Their visible
text (what a person reads, plus tooltips, placeholders and screen-reader labels) must keep none of
the French words of the interface and must show the English ones. Patient names and villages are
data, and the labels of the French data files (report indicators, schedule items, alert rules, the
site's name) stay French by design: the French words checked only come from the interface, which
the second test proves by finding each of them on the same pages seen by a French-speaking user.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from html.parser import HTMLParser

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
)
from appliance.patients.registry import Identity, get_patient, record_delivery, register_patient
from appliance.patients.visits import PrescriptionLine, record_visit
from appliance.store.audit import Actor

TODAY = dt.date.today()
SITE = "demo-cscom"
LAST_MONTH = TODAY.replace(day=1) - dt.timedelta(days=1)
ENGLISH_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                  "October", "November", "December")

# Words of the French interface (buttons, menus, headings, field labels, role names, register
# abbreviations and decimal commas of the visit summaries). None is a patient's data or a data-file label.
FRENCH_INTERFACE = {
    "Accueil": r"\bAccueil\b",
    "Mon compte": r"\bMon compte\b",
    "Se déconnecter": r"\bSe déconnecter\b",
    "Enregistrer": r"\bEnregistrer\b",
    "Annuler": r"\bAnnuler\b",
    "Rechercher": r"\bRechercher\b",
    "Nouveau patient": r"\bNouveau patient\b",
    "Nouvelle visite": r"\bNouvelle visite\b",
    "Nouveau compte": r"\bNouveau compte\b",
    "Nom de famille": r"\bNom de famille\b",
    "Prénom": r"\bPrénom",
    "Date de naissance": r"\bDate de naissance\b",
    "Sexe": r"\bSexe\b",
    "Poids": r"\bPoids\b",
    "Motif": r"\bMotif\b",
    "Historique": r"\bHistorique\b",
    "Signes de danger": r"\bSignes de danger\b",
    "Famille / concession": r"\bFamille / concession\b",
    "Mère": r"\bMère\b",
    "Suivi": r"\bSuivi\b",
    "À revoir": r"À revoir\b",
    "En retard": r"\bEn retard\b",
    "Mes programmes": r"\bMes programmes\b",
    "Tous les villages": r"\bTous les villages\b",
    "Afficher": r"\bAfficher\b",
    "Alertes": r"\bAlertes\b",
    "Rapports mensuels": r"\bRapports mensuels\b",
    "Mois en cours": r"\bMois en cours\b",
    "Non scellé": r"\bNon scellé\b",
    "Sceller": r"\bSceller\b",
    "moins de 1 an": r"\bmoins de 1 an\b",
    "ans et plus": r"\bans et plus\b",
    "Utilisateurs": r"\bUtilisateurs\b",
    "Identifiant": r"\bIdentifiant\b",
    "Désactiver": r"\bDésactiver\b",
    "Journal des modifications": r"\bJournal des modifications\b",
    "Filtrer": r"\bFiltrer\b",
    "Médecin": r"\bMédecin\b",
    "Sage-femme": r"\bSage-femme\b",
    "Matrone": r"\bMatrone\b",
    "Agent de saisie": r"\bAgent de saisie\b",
    "Administrateur": r"\bAdministrateur\b",
    "TA (tension)": r"\bTA \d",
    "HU (hauteur utérine)": r"\bHU \d",
    "decimal comma": r"\d,\d (?:kg|°C|g/dL)",
    "age in months": r"\b\d+ mois\b",
}

# What each page must say in English (and, being English, not say to a French user).
ENGLISH_WORDS = {
    "home": ["Home", "My account", "Log out", "New patient", "Follow-up due", "Monthly reports", "Doctor"],
    "patient search": ["Search", "30 years", "13 months"],
    "registration form": ["Family name", "First name(s)", "Date of birth", "Village / neighbourhood", "Save"],
    "mother's chart": ["Edit identity", "New visit", "Visit history", "ANC (antenatal care)", "Reason: Fever",
                       "BP 120/75", "61.5 kg", "ANC1", "FH 23 cm", "IPTp-SP1", "Danger signs: Fever",
                       "live birth", "Midwife", "Family / household compound:"],
    "child's chart": ["Follow-up", "Overdue", "Growth charts (WHO)", "MUAC 110 mm", "4.1 kg", "Mother:",
                      "given here"],
    "consultation form": ["Reason for consultation", "Respiratory rate", "Diagnosis", "Prescription", "Save"],
    "cpn form": ["Last menstrual period (LMP)", "Gravidity", "Fundal height", "Haemoglobin", "Next ANC visit"],
    "accouchement form": ["Mode of delivery", "Live birth", "Fresh stillbirth", "Open the newborn's record"],
    "cpon form": ["PNC contact number", "Breastfeeding", "Danger signs"],
    "pf form": ["Method", "New user", "Continuing user", "Quantity dispensed", "Next appointment"],
    "chronique form": ["Blood glucose", "Fasting blood glucose", "Treatment"],
    "vaccination form": ["Vaccine", "Dose number", "Lot number", "Elsewhere (according to the vaccination card)"],
    "croissance form": ["Mid-upper arm circumference (MUAC)", "Bilateral pitting oedema", "Lying down (length)"],
    "worklist": ["Follow-up due", "then the most recent delays", "days overdue", "All programmes", "Mother:"],
    "alerts": ["Alerts", "All alerts", "High-risk pregnancies", "Since the visit of"],
    "families seen": ["Families visited this month", "Families seen", "Not yet seen"],
    "reports list": ["Monthly reports", "Current month", "Not sealed",
                     f"{ENGLISH_MONTHS[TODAY.month - 1]} {TODAY.year}"],
    "month's report": [f"Monthly report — {ENGLISH_MONTHS[LAST_MONTH.month - 1]} {LAST_MONTH.year}",
                       "Seal the report", "under 1 year", "50 years and over", "Definition"],
    "users admin": ["Users", "New account", "Name Username Role", "Midwife", "Doctor", "Administrator"],
    "bulk users": ["Bulk accounts", "Create accounts from a CSV file", "Data clerk", "Matron (auxiliary midwife)",
                   "Nurse", "Deactivate"],
    "audit trail": ["Audit trail", "User", "Filter"],
    "coverage": ["Coverage and drop-out", "Year to date", "Month by month", "Population and targets", "Target"],
    "chronic care": ["Under care (denominator)", "Quarterly cohorts", "Registered (total)", "New this month"],
    "access": ["Access to care", "Trends over 24 months", "Age band", "Women", "Men", "District review sheet"],
}


class VisibleText(HTMLParser):
    """The text a person reads on a page, with the tooltips, placeholders and screen-reader labels."""

    SHOWN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        values = dict(attrs)
        self.parts += [values[name] or "" for name in self.SHOWN_ATTRIBUTES if values.get(name)]
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.parts.append(values["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def days_ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


@pytest.fixture(autouse=True)
def followup_hooks(record_hooks) -> None:
    """The visits written here fill the worklists and alerts, as in the web."""


@pytest.fixture
def clinic(store, make_user) -> dict:
    """A mother with a visit of every adult programme; her newborn son (vaccinated, measured, so vaccines
    are overdue) and her daughter with severe acute malnutrition (an alert). All written through the
    record's own functions, which also compute the follow-up lists and alerts."""
    midwife = make_user("sage_femme", username="sf.records")
    actor = Actor(midwife.id, midwife.username, midwife.role)
    mother = register_patient(actor, Identity(
        family_name="Diarra", first_names="Mariam", sex="F", birth_date=days_ago(365 * 30 + 20),
        village="Kalaban", phone="76123456", household_name="Famille Diarra"), site_id=SITE)
    record_visit(actor, mother, Consultation(
        visit_date=days_ago(300), reason="Fever", temperature_c=38.6, pulse_bpm=96, resp_rate=22, systolic=120,
        diastolic=75, weight_kg=61.5, diagnosis_code="B50.9", treatment="ACT"),
        prescriptions=[PrescriptionLine("Artemether-lumefantrine", "4 tabs twice a day", 24, 3)])
    record_visit(actor, mother, AntenatalVisit(
        visit_date=days_ago(200), gestational_age_weeks=24, gravidity=3, parity=2,
        previous_caesarean=True, weight_kg=64, systolic=118, diastolic=72, fundal_height_cm=23, hb_g_dl=10.9,
        danger_signs="fievre", iptp_dose=1, iron_folic=True, td_dose=2, next_visit_date=days_ago(170)))
    delivery = record_delivery(actor, mother, Delivery(
        visit_date=days_ago(60), place="ici", mode="voie_basse", outcome="vivant", babies=1,
        gestational_age_weeks=39, birth_weight_g=3150, baby_sex="M"), site_id=SITE,
        newborn=Identity(family_name="Diarra", first_names="Seydou", sex="M", birth_date=days_ago(60),
                         village="Kalaban"))
    record_visit(actor, mother, PostnatalVisit(
        visit_date=days_ago(58), subject="mere", contact_number=1, temperature_c=36.8, systolic=115, diastolic=70,
        breastfeeding=True))
    record_visit(actor, mother, FamilyPlanningVisit(
        visit_date=days_ago(40), method="dmpa_sc", user_status="nouvelle", quantity=1, next_date=days_ago(-50)))
    record_visit(actor, mother, ChronicVisit(
        visit_date=days_ago(30), programme="hta", systolic=152, diastolic=94, weight_kg=63, treatment="Amlodipine",
        next_appointment=days_ago(-30)))
    son = get_patient(delivery.newborn_id)
    record_visit(actor, son, Immunisation(visit_date=days_ago(58), antigen="BCG", dose_number=0, given_here=True,
                                          lot="BC123"))
    record_visit(actor, son, GrowthMeasurement(visit_date=days_ago(2), weight_kg=4.1, height_cm=55,
                                               position="couche", muac_mm=110))
    daughter = register_patient(actor, Identity(
        family_name="Diarra", first_names="Fanta", sex="F", birth_date=days_ago(400), village="Kalaban",
        mother=mother), site_id=SITE)
    record_visit(actor, daughter, GrowthMeasurement(visit_date=days_ago(1), weight_kg=6.2, height_cm=70,
                                                    position="couche", muac_mm=108))
    return {"mother": mother, "son": son}


def main_pages(login_as, clinic: dict, language: str) -> dict[str, str]:
    """The visible text of the main page of every area, for users whose account is in ``language``."""
    mother, son = clinic["mother"], clinic["son"]
    doctor = login_as("medecin", username=f"dr.{language}", language=language)
    admin = login_as("admin", username=f"admin.{language}", language=language)
    urls = {
        "home": (doctor, "/"),
        "patient search": (doctor, "/patients/?q=Diarra"),
        "registration form": (doctor, "/patients/nouveau"),
        "mother's chart": (doctor, f"/patients/{mother.id}"),
        "child's chart": (doctor, f"/patients/{son.id}"),
        **{f"{programme} form": (doctor, f"/patients/{mother.id}/{programme}/nouveau")
           for programme in ("consultation", "cpn", "accouchement", "cpon", "pf", "chronique")},
        **{f"{programme} form": (doctor, f"/patients/{son.id}/{programme}/nouveau")
           for programme in ("vaccination", "croissance")},
        "worklist": (doctor, "/a-revoir?programme=tous"),
        "alerts": (doctor, "/alertes"),
        "families seen": (doctor, "/visites-du-mois"),
        "reports list": (doctor, "/rapports/"),
        "month's report": (doctor, f"/rapports/{LAST_MONTH:%Y-%m}"),
        "users admin": (admin, "/admin/utilisateurs"),
        "bulk users": (admin, "/admin/comptes/"),
        "audit trail": (doctor, "/admin/journal"),
        "coverage": (doctor, "/couverture/"),
        "chronic care": (doctor, "/chronique/"),
        "access": (doctor, "/acces/"),
    }
    pages = {}
    for name, (web, url) in urls.items():
        response = web.get(url)
        assert response.status_code == 200, (name, url, response.status_code)
        pages[name] = visible_text(response.get_data(as_text=True))
    return pages


def test_every_main_page_reads_in_english(login_as, clinic):
    pages = main_pages(login_as, clinic, "en")
    assert set(pages) == set(ENGLISH_WORDS)
    problems = []
    for name, text in pages.items():
        for word, pattern in FRENCH_INTERFACE.items():
            for match in re.finditer(pattern, text):
                problems.append(f"{name}: French « {word} » in …{text[max(match.start() - 60, 0):match.end() + 60]}…")
        problems += [f"{name}: no “{word}”" for word in ENGLISH_WORDS[name] if word not in text]
    assert not problems, "\n".join(problems)


def test_french_stays_the_default_and_has_every_word_checked(login_as, clinic):
    """The same pages for French-speaking users: every French word the English test looks for is there
    (so that test can fail), and the English ones are not."""
    pages = main_pages(login_as, clinic, "fr")
    french = " ".join(pages.values())
    assert [word for word, pattern in FRENCH_INTERFACE.items() if not re.search(pattern, french)] == []
    same_in_both = {"Alerts", "Patients", "Consultation", "Vaccination", "Programme", "Total", "Definition"}
    english_seen = [(name, word) for name, words in ENGLISH_WORDS.items() for word in words
                    if word not in same_in_both and word in pages[name]]
    assert english_seen == []


@pytest.mark.parametrize("language, expected, absent", [
    ("en", ["Weight-for-age, boys", "Age (months)", "Weight (kg)", "4.1 kg", "Battery voltage, last 7 days",
            "No reading in the last 7 days", "Sun"],
     ["Poids", "garçons", "Âge", "mois", "Tension de la batterie", "Aucune mesure", "dim."]),
    ("fr", ["Poids pour l'âge, garçons", "Âge (mois)", "Poids (kg)", "4,1 kg",
            "Tension de la batterie, 7 derniers jours", "Aucune mesure sur les 7 derniers jours", "dim."],
     ["Weight", "boys", "Battery voltage"]),
])
def test_charts_are_drawn_in_the_readers_language(login_as, clinic, language, expected, absent):
    """The SVG charts (a child's growth curve, the battery's voltage) take their titles, axes and
    tooltips from data files: an English reader gets them in English, a French one in French."""
    doctor = login_as("medecin", username=f"dr.{language}", language=language)
    admin = login_as("admin", username=f"admin.{language}", language=language)
    growth = doctor.get(f"/patients/{clinic['son'].id}/croissance/wfa.svg")
    battery = admin.get("/admin/batterie/")
    assert growth.status_code == battery.status_code == 200
    text = html.unescape(growth.get_data(as_text=True) + battery.get_data(as_text=True))
    assert [word for word in expected if word not in text] == []
    assert [word for word in absent if re.search(rf"\b{re.escape(word)}", text)] == []


def test_every_interface_string_of_the_code_has_its_english_translation():
    """Extracted as `make extract-messages` does: a new string without its English text fails here."""
    from pathlib import Path

    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[2] / "appliance"
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_pgettext": ((1, "c"), 2)}
    with (root / "emr/babel.cfg").open(encoding="utf-8") as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    assert any(method.startswith("appliance.") for _, method in method_map)  # the chart label files too
    in_code = {message[2] if isinstance(message[2], str) else message[2][0]
               for message in extract_from_dir(str(root), method_map, options_map, keywords=keywords)}
    with (root / "emr/translations/en/LC_MESSAGES/messages.po").open("rb") as file:
        catalogue = read_po(file, locale="en")
    translated = {message.id if isinstance(message.id, str) else message.id[0]
                  for message in catalogue if message.id and message.string and not message.fuzzy
                  and all(message.string if isinstance(message.string, tuple) else [message.string])}
    missing = sorted(in_code - translated)
    assert not missing, f"{len(missing)} without English (make extract-messages, then translate): {missing[:10]}"
