"""Row checks: each problem names its line and column, in French."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from appliance.users.csvfile import CsvRow
from appliance.users.validation import ExistingAccount, check_rows, normalise_phone, parse_role


def row(line, username="awa.traore", prenom="Awa", nom="Traoré", role="sage_femme", telephone="", **extra):
    return CsvRow(line, {"identifiant": username, "prenom": prenom, "nom": nom, "role": role,
                         "telephone": telephone, **extra})


def messages(checks):
    return [str(problem) for check in checks for problem in check.problems]


def test_every_kind_of_row_problem_is_worded_with_line_and_column():
    existing = {"moussa": ExistingAccount("moussa", "Moussa Koné", True)}
    checks = check_rows([
        row(2, role="nurse"),
        row(3, username="moussa"),
        row(4, username="fanta", prenom="", nom=""),
        row(5, username="aminata", telephone="7612"),
        row(6, username="awa.traore"),
        row(7, username="Adama Diarra"),
        row(8, username="kadi", remplace="personne"),
    ], existing)
    found = messages(checks)
    assert "ligne 2, colonne role : rôle inconnu « nurse » (rôles : medecin, sage_femme, infirmier, matrone, " \
           "agent_saisie, admin)" in found
    assert "ligne 3, colonne identifiant : identifiant « moussa » déjà utilisé par un compte existant " \
           "(Moussa Koné)" in found
    assert "ligne 4, colonne prenom : prénom vide" in found and "ligne 4, colonne nom : nom vide" in found
    assert "ligne 5, colonne telephone : numéro « 7612 » invalide : 8 chiffres au Mali, avec ou sans +223" in found
    assert "ligne 6, colonne identifiant : identifiant « awa.traore » en double dans le fichier (aussi ligne 2)" \
           in found
    assert any(m.startswith("ligne 7, colonne identifiant : identifiant « adama diarra » invalide") and
               "proposition : « adama.diarra »" in m for m in found)
    assert "ligne 8, colonne remplace : aucun compte « personne » à remplacer" in found


def test_labels_people_type_are_accepted_as_roles():
    for typed, code in [("Sage-femme", "sage_femme"), ("Infirmière", "infirmier"), ("MEDECIN", "medecin"),
                        ("Agent de saisie", "agent_saisie"), ("admin", "admin"), ("Administrateur", "admin")]:
        assert parse_role(typed) == (code, None)


def test_malian_phone_numbers_are_normalised():
    for typed in ["76 12 34 56", "+223 76 12 34 56", "0022376123456", "22376123456", "76.12.34.56", "76-12-34-56"]:
        assert normalise_phone(typed) == ("+22376123456", None)
    assert normalise_phone("") == ("", None)
    assert "abîmé par Excel" in normalise_phone("2,23761E+11")[1]
    for wrong in ["7612345", "761234567", "+33 6 12 34 56 78", "abcdefgh"]:
        assert normalise_phone(wrong)[1].startswith(f"numéro « {wrong} » invalide")


@given(st.text(max_size=30))
def test_any_typed_phone_is_either_a_malian_number_or_a_problem(typed):
    normalised, problem = normalise_phone(typed.strip())
    if problem is None and normalised:
        assert normalised.startswith("+223") and len(normalised) == 12 and normalised[4:].isdigit()
    assert (problem is None) or normalised == ""
