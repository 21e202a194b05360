"""Checking each row of a users file, with every problem worded for the person who must fix it."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from appliance.spreadsheets import heading, strip_accents
from appliance.store.models import ROLES
from appliance.users.csvfile import CsvRow, Problem

USERNAME = re.compile(r"[a-z0-9._-]{2,40}")
MAX_NAME = 80
ROLE_LIST = ", ".join(ROLES)
# Labels people type instead of codes, once normalised (« Sage-femme », « Infirmière »…).
ROLE_ALIASES = {code: code for code in ROLES} | {heading(label): code for code, label in ROLES.items()} | {
    "infirmiere": "infirmier", "infirmier_ere": "infirmier", "administrateur": "admin",
    "agent_de_saisie": "agent_saisie", "sage_femmes": "sage_femme", "docteur": "medecin",
}
_EXCEL_NUMBER = re.compile(r"\d+(?:[.,]\d+)?[eE][+]?\d+")


@dataclass
class RowCheck:
    """One row as it will be created, and what stops it."""

    line: int
    username: str
    first_name: str
    last_name: str
    role: str
    phone: str
    replaces: str = ""
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class ExistingAccount:
    username: str
    full_name: str
    active: bool


def check_rows(rows: list[CsvRow], existing: dict[str, ExistingAccount]) -> list[RowCheck]:
    """Validate every row against the others and the accounts already on the box."""
    checks = [check_row(row, existing) for row in rows]
    _flag_duplicates(checks, "username", "identifiant", "identifiant « {value} » en double dans le fichier")
    _flag_duplicates(checks, "replaces", "remplace", "le compte « {value} » est remplacé deux fois dans le fichier")
    return checks


def check_row(row: CsvRow, existing: dict[str, ExistingAccount]) -> RowCheck:
    values = row.values
    check = RowCheck(row.line, values.get("identifiant", "").lower(), values.get("prenom", ""),
                     values.get("nom", ""), "", "", values.get("remplace", "").lower())

    def problem(column: str, message: str) -> None:
        check.problems.append(Problem(row.line, column, message))

    check.problems.extend(row.problems)

    if not check.username:
        problem("identifiant", "identifiant vide")
    elif not USERNAME.fullmatch(check.username):
        suggestion = re.sub(r"[^a-z0-9._-]+", ".", strip_accents(check.username)).strip(".")
        hint = f" (proposition : « {suggestion} »)" if USERNAME.fullmatch(suggestion) else ""
        problem("identifiant", f"identifiant « {check.username} » invalide : 2 à 40 lettres sans accents, chiffres, "
                               f"point, tiret ou souligné{hint}")
    elif account := existing.get(check.username):
        problem("identifiant", f"identifiant « {check.username} » déjà utilisé par un compte existant "
                               f"({account.full_name}{'' if account.active else ', désactivé'})")
    for column, label, value in (("prenom", "prénom", check.first_name), ("nom", "nom", check.last_name)):
        if not value:
            problem(column, f"{label} vide")
        elif len(value) > MAX_NAME:
            problem(column, f"{label} trop long ({len(value)} caractères, {MAX_NAME} au plus)")
    check.role, role_problem = parse_role(values.get("role", ""))
    if role_problem:
        problem("role", role_problem)
    check.phone, phone_problem = normalise_phone(values.get("telephone", ""))
    if phone_problem:
        problem("telephone", phone_problem)
    if check.replaces:
        replaced = existing.get(check.replaces)
        if replaced is None:
            problem("remplace", f"aucun compte « {check.replaces} » à remplacer")
        elif not replaced.active:
            problem("remplace", f"le compte « {check.replaces} » est déjà désactivé")
    return check


def parse_role(value: str) -> tuple[str, str | None]:
    """(role code, problem): codes, or the French labels people type instead."""
    if not value:
        return "", f"rôle vide (rôles : {ROLE_LIST})"
    code = ROLE_ALIASES.get(heading(value))
    if code is None:
        return "", f"rôle inconnu « {value} » (rôles : {ROLE_LIST})"
    return code, None


def normalise_phone(value: str) -> tuple[str, str | None]:
    """A Malian number as « +223XXXXXXXX », or a problem; empty stays empty (the column is optional).

    8 digits, optionally after +223, 00223, or 223 (Excel drops the leading zeros and the +),
    with spaces, dots or dashes anywhere.
    """
    if not value:
        return "", None
    if _EXCEL_NUMBER.fullmatch(value.replace(" ", "")):
        return "", (f"numéro « {value} » abîmé par Excel (écrit comme un nombre) : mettez la colonne telephone "
                    "au format Texte et retapez-le")
    digits = re.sub(r"[\s.\-()/]", "", value)
    if digits.startswith("+223"):
        digits = digits[4:]
    elif digits.startswith("00223"):
        digits = digits[5:]
    elif len(digits) == 11 and digits.startswith("223"):
        digits = digits[3:]
    if not re.fullmatch(r"\d{8}", digits):
        return "", f"numéro « {value} » invalide : 8 chiffres au Mali, avec ou sans +223"
    return "+223" + digits, None


def _flag_duplicates(checks: list[RowCheck], attribute: str, column: str, template: str) -> None:
    lines_by_value: dict[str, list[int]] = defaultdict(list)
    for check in checks:
        if value := getattr(check, attribute):
            lines_by_value[value].append(check.line)
    for check in checks:
        value = getattr(check, attribute)
        others = [line for line in lines_by_value.get(value, []) if line != check.line] if value else []
        if others:
            where = ", ".join(str(line) for line in others)
            check.problems.append(Problem(check.line, column, template.format(value=value) + f" (aussi ligne {where})"))
