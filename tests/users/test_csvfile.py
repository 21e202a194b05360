"""The files people really send: encodings, separators, quotes, blank lines, sizes."""

from __future__ import annotations

import codecs
import unicodedata

import pytest

from appliance.users.csvfile import MAX_BYTES, MAX_ROWS, parse
from appliance.users.validation import check_rows

HEADER = "identifiant,prenom,nom,role,telephone"


def values(parsed):
    return [(row.line, row.values) for row in parsed.rows]


def test_utf8_with_bom_crlf_quotes_and_trailing_blank_lines():
    text = HEADER + '\r\n"awa.traore","Awa","Traoré, née Diarra",sage_femme,"76 12 34 56"\r\n\r\n,,,,\r\n\r\n'
    parsed = parse(codecs.BOM_UTF8 + text.encode("utf-8"))
    assert parsed.problems == [] and parsed.encoding == "UTF-8" and parsed.delimiter == ","
    assert values(parsed) == [(2, {"identifiant": "awa.traore", "prenom": "Awa", "nom": "Traoré, née Diarra",
                                   "role": "sage_femme", "telephone": "76 12 34 56"})]


def test_french_excel_windows_1252_with_semicolons_and_accented_headers():
    text = "Identifiant;Prénom;Nom;Rôle;Téléphone\r\nmoussa.kone;Moussa;Koné;infirmier;65\u00a000\u00a000\u00a000\r\n"
    parsed = parse(text.encode("cp1252"))
    assert parsed.problems == [] and parsed.encoding == "Windows-1252" and parsed.delimiter == ";"
    assert parsed.rows[0].values["nom"] == "Koné"
    assert parsed.rows[0].values["telephone"] == "65 00 00 00"


def test_excel_sep_line_is_honoured_and_counted_in_line_numbers():
    parsed = parse(f"sep=;\n{HEADER.replace(',', ';')}\na;b;c;medecin;\n".encode())
    assert parsed.delimiter == ";" and [row.line for row in parsed.rows] == [3]


def test_a_quoted_value_over_two_lines_keeps_the_next_rows_line_numbers_right():
    text = f'{HEADER}\nawa,Awa,"Traoré\nDiarra",medecin,\nmoussa,Moussa,Koné,medecin,\n'
    assert [row.line for row in parse(text.encode()).rows] == [2, 4]


def test_bytes_that_are_neither_utf8_nor_windows_1252_name_their_line():
    data = f"{HEADER}\nawa,Awa,Traoré,medecin,\nbad,B\x81d,X,medecin,\n".encode("latin-1")
    (problem,) = parse(data).problems
    assert str(problem).startswith("ligne 3 : encodage illisible : ni UTF-8 ni Windows-1252")


def test_a_file_mixing_utf8_and_windows_1252_is_refused_rather_than_garbled():
    data = f"{HEADER}\nawa,Awa,Traoré,medecin,\n".encode() + "moussa,Moussa,Koné,medecin,\n".encode("cp1252")
    (problem,) = parse(data).problems
    assert str(problem).startswith("ligne 3 : encodage illisible : le fichier mélange UTF-8 et Windows-1252")


@pytest.mark.parametrize(("data", "message"), [
    (b"PK\x03\x04\x14\x00 xlsx", "classeur Excel"),
    (codecs.BOM_UTF16_LE + HEADER.encode("utf-16-le"), "UTF-16"),
    (b"", "fichier vide"),
    (b"\n\n", "fichier vide"),
    (HEADER.encode(), "seulement"),
])
def test_files_that_are_not_a_users_csv_say_so(store, data, message):
    from appliance.users.importer import check_file

    problems = check_file(data).problems
    assert problems and message in str(problems[0])


def test_missing_unknown_and_duplicated_columns_are_named():
    parsed = parse(b"identifiant;prenom;prenom;role;tel\nawa;Awa;Awa;medecin;76000000\n")
    messages = [str(problem) for problem in parsed.problems]
    assert "ligne 1, colonne prenom : colonne en double" in messages
    assert any(m.startswith("ligne 1, colonne tel : colonne inconnue « tel »") for m in messages)
    assert any(m.startswith("ligne 1, colonne nom : colonne manquante") for m in messages)
    assert any(m.startswith("ligne 1, colonne telephone : colonne manquante") for m in messages)
    assert parsed.rows == []


def test_a_row_with_too_many_values_points_at_the_unquoted_separator():
    parsed = parse(f"{HEADER}\nawa,Awa,Traoré, née Diarra,medecin,\n".encode())
    (problem,) = parsed.problems
    assert str(problem).startswith("ligne 2 : 6 valeurs pour 5 colonnes")


def test_too_big_and_too_many_rows_are_refused_with_the_limit():
    (big,) = parse(b"x" * (MAX_BYTES + 1)).problems
    assert "trop gros (1,0 Mo)" in str(big)
    rows = "".join(f"u{n},A,B,medecin,\n" for n in range(MAX_ROWS + 1))
    (many,) = parse(f"{HEADER}\n{rows}".encode()).problems
    assert f"trop de lignes ({MAX_ROWS + 1})" in str(many)


def test_values_get_the_browsers_text_rule_nfc_and_ascii_digits():
    # A Mac (Numbers, TextEdit) writes decomposed accents; a phone may type Arabic-Indic digits.
    text = unicodedata.normalize("NFD", f"{HEADER}\naissata,Aïssata,Kéïta,medecin,\u0667\u0666 12 34 56\n")
    (row,) = parse(text.encode()).rows
    assert row.values["prenom"] == "A\u00efssata" and row.values["nom"] == "K\u00e9\u00efta"
    assert row.values["telephone"] == "76 12 34 56" and row.problems == ()


def test_an_invisible_character_or_a_line_break_in_a_value_is_a_problem_of_its_line_and_column():
    text = f'{HEADER}\nawa,Awa,"Traoré\nDiarra",medecin,\nmoussa,Moussa\u200b,Koné,medecin,\nok,Ok,Ok,medecin,\n'
    checked = check_rows(parse(text.encode()).rows, {})
    assert [[str(problem) for problem in row.problems] for row in checked] == [
        ["ligne 2, colonne nom : retour à la ligne ou tabulation dans la valeur (Alt+Entrée dans Excel ?) : "
         "mettez-la sur une seule ligne"],
        ["ligne 4, colonne prenom : caractère invisible ou de contrôle (U+200B) dans la valeur : retapez-la au "
         "clavier, sans copier-coller"],
        [],
    ]


def test_a_quote_never_closed_names_the_line_where_it_opened():
    # Without strict reading, the rest of the file would be swallowed into one cell, silently.
    parsed = parse(f'{HEADER}\nawa,Awa,Traoré,medecin,\nmoussa,Moussa,"Koné,medecin,\n'.encode())
    (problem,) = parsed.problems
    assert str(problem).startswith("ligne 3 : guillemet ouvert jamais refermé")


def test_text_after_a_closing_quote_is_refused_rather_than_glued():
    (problem,) = parse(f'{HEADER}\nawa,Awa,"Traoré" Diarra,medecin,\n'.encode()).problems
    assert str(problem).startswith("ligne 2 : du texte suit un guillemet fermant")
