"""``appliance dhis2 check``: compare the mapping with the server's metadata before anything is sent.

Four small GETs (a few kB over 3G): the server version, the account's authorities, the data set
with its elements and their category option combos, and the org unit's data sets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from appliance.dhis2.client import Dhis2Client, HttpExchange, TransportError
from appliance.dhis2.mapping import Dhis2Mapping
from appliance.reports.figures import disaggregation_label

DATA_SET_FIELDS = (
    "id,name,periodType,categoryCombo[id,name,categoryOptionCombos[id,name]],"
    "dataSetElements[dataElement[id,name,valueType,categoryCombo[id,categoryOptionCombos[id,name,code]]]]"
)
ORG_UNIT_FIELDS = "id,name,dataSets[id]"
NUMERIC_TYPES = {"INTEGER", "INTEGER_ZERO_OR_POSITIVE", "INTEGER_POSITIVE", "NUMBER"}
TESTED_VERSIONS = ("2.38", "2.39", "2.40", "2.41")


class CheckAborted(RuntimeError):
    """The server could not be questioned at all (unreachable, refused credentials…)."""


@dataclass(frozen=True)
class Problem:
    where: str  # « demo_mapping.toml, ligne 96 »
    message: str  # French


@dataclass
class CheckReport:
    server_version: str = ""
    username: str = ""
    data_set_name: str = ""
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_mapping(client: Dhis2Client, mapping: Dhis2Mapping) -> CheckReport:
    report = CheckReport()
    info = _get_json(client, "/api/system/info", {"fields": "version,revision"})
    report.server_version = str(info.get("version") or "")
    if not report.server_version.startswith(TESTED_VERSIONS):
        report.warnings.append(
            Problem(
                "serveur",
                f"version DHIS2 {report.server_version or 'inconnue'} : testé avec {', '.join(TESTED_VERSIONS)}",
            )
        )
    me = _get_json(client, "/api/me", {"fields": "id,username,authorities"})
    report.username = str(me.get("username") or "")
    authorities = set(me.get("authorities") or [])
    if not authorities & {"ALL", "F_DATAVALUE_ADD"}:
        report.problems.append(
            Problem(
                "compte DHIS2",
                f"le compte « {report.username} » n'a pas l'autorité "
                "F_DATAVALUE_ADD : il ne pourra pas envoyer de données",
            )
        )
    data_set = _get_json(
        client,
        f"/api/dataSets/{mapping.data_set}",
        {"fields": DATA_SET_FIELDS},
        missing=f"l'ensemble de données {mapping.data_set} n'existe pas dans DHIS2 (ou le compte "
        f"ne le voit pas) [{mapping.where('data_set')}]",
        report=report,
    )
    if not data_set:
        return report
    report.data_set_name = str(data_set.get("name") or "")
    _check_data_set(data_set, mapping, report)
    if mapping.org_unit:
        _check_org_unit(client, mapping, report)
    else:
        report.problems.append(Problem("configuration", "aucune unité d'organisation : renseignez [dhis2] org_unit"))
    return report


def _check_data_set(data_set: dict[str, Any], mapping: Dhis2Mapping, report: CheckReport) -> None:
    name = report.data_set_name or mapping.data_set
    if data_set.get("periodType") != "Monthly":
        report.problems.append(
            Problem(
                mapping.where("data_set"),
                f"l'ensemble de données « {name} » est de "
                f"périodicité {data_set.get('periodType')}, pas "
                "mensuelle (Monthly)",
            )
        )
    attribute_combos = {
        coc.get("id") for coc in (data_set.get("categoryCombo") or {}).get("categoryOptionCombos") or []
    }
    if attribute_combos and mapping.attribute_option_combo not in attribute_combos:
        report.problems.append(
            Problem(
                mapping.where("attribute_option_combo"),
                f"attribute_option_combo {mapping.attribute_option_combo} n'appartient pas "
                f"à la combinaison d'attributs de « {name} »",
            )
        )
    elements = {
        element["dataElement"]["id"]: element["dataElement"]
        for element in data_set.get("dataSetElements") or []
        if isinstance(element.get("dataElement"), dict) and element["dataElement"].get("id")
    }
    # A mistake in a category-combo table touches every indicator using it: reported once, with them.
    wrong_combo: dict[tuple[str, str], list[str]] = {}
    foreign_option: dict[tuple[str, str, str], list[str]] = {}
    choices: dict[str, str] = {}
    not_sent: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for indicator in mapping.indicators.values():
        where = _where(mapping, indicator.line)
        element = elements.get(indicator.data_element)
        if element is None:
            report.problems.append(
                Problem(
                    where,
                    f"indicateur « {indicator.code} » ({indicator.label}) : l'élément "
                    f"de données {indicator.data_element} n'est pas dans l'ensemble "
                    f"« {name} »",
                )
            )
            continue
        value_type = element.get("valueType")
        if value_type not in NUMERIC_TYPES:
            report.problems.append(
                Problem(
                    where,
                    f"indicateur « {indicator.code} » : l'élément « {element.get('name')} »"
                    f" est de type {value_type}, pas un nombre",
                )
            )
        elif value_type == "INTEGER_POSITIVE":
            report.warnings.append(
                Problem(
                    where,
                    f"indicateur « {indicator.code} » : le type INTEGER_POSITIVE refuse "
                    "le zéro ; les zéros envoyés seront refusés (E7619)",
                )
            )
        combo = element.get("categoryCombo") or {}
        expected = indicator.category_combo
        known = {coc.get("id"): coc for coc in combo.get("categoryOptionCombos") or []}
        choices[expected.code] = ", ".join(f"{option.get('name')} ({uid})" for uid, option in list(known.items())[:12])
        if combo.get("id") and combo.get("id") != expected.id:
            wrong_combo.setdefault((expected.code, combo["id"]), []).append(indicator.code)
            continue
        for disaggregation, coc in expected.option_combos.items():
            if coc not in known:
                foreign_option.setdefault((expected.code, disaggregation, coc), []).append(indicator.code)
        unmapped = tuple(
            str(option.get("name") or uid)
            for uid, option in known.items()
            if uid not in set(expected.option_combos.values())
        )
        if unmapped:
            not_sent.setdefault((expected.code, unmapped), []).append(indicator.code)
    for (code, names), codes in not_sent.items():
        report.notes.append(
            f"[category_combos.{code}] : DHIS2 a aussi {', '.join(names)} pour {_listing(codes)} (jamais envoyés)"
        )
    for (code, actual), codes in wrong_combo.items():
        expected = mapping.category_combos[code]
        report.problems.append(
            Problem(
                _where(mapping, expected.line),
                f"[category_combos.{code}] id = {expected.id}, mais DHIS2 range "
                f"{_listing(codes)} dans la combinaison de catégories {actual} "
                f"(ses combinaisons : {choices[code] or 'aucune'})",
            )
        )
    for (code, disaggregation, coc), codes in foreign_option.items():
        expected = mapping.category_combos[code]
        report.problems.append(
            Problem(
                _where(mapping, expected.option_lines.get(disaggregation) or expected.line),
                f"[category_combos.{code}] {disaggregation} ({disaggregation_label(disaggregation)})"
                f" : la combinaison {coc} n'appartient pas à la catégorie {_listing(codes, after_de=True)} "
                f"(possibles : {choices[code] or 'aucune'})",
            )
        )


def _listing(codes: list[str], *, after_de: bool = False) -> str:
    """« l'indicateur x » / « les indicateurs x, y » (« de l'… » / « des … » after « de »)."""
    shown = ", ".join(codes[:5]) + (f"… ({len(codes)} au total)" if len(codes) > 5 else "")
    if len(codes) == 1:
        return f"{'de ' if after_de else ''}l'indicateur {shown}"
    return f"{'des' if after_de else 'les'} indicateurs {shown}"


def _check_org_unit(client: Dhis2Client, mapping: Dhis2Mapping, report: CheckReport) -> None:
    org_unit = _get_json(
        client,
        f"/api/organisationUnits/{mapping.org_unit}",
        {"fields": ORG_UNIT_FIELDS},
        missing=f"l'unité d'organisation {mapping.org_unit} n'existe pas dans DHIS2 (ou le compte ne la voit pas)",
        report=report,
    )
    if not org_unit:
        return
    assigned = {data_set.get("id") for data_set in org_unit.get("dataSets") or []}
    if mapping.data_set not in assigned:
        report.problems.append(
            Problem(
                "configuration",
                f"l'ensemble de données « {report.data_set_name} » n'est pas "
                f"assigné à l'unité « {org_unit.get('name')} » "
                f"({mapping.org_unit}) : DHIS2 refuserait les valeurs",
            )
        )


def _where(mapping: Dhis2Mapping, line: int | None) -> str:
    name = mapping.source.name if mapping.source else "table de correspondance"
    return f"{name}, ligne {line}" if line else name


def _get_json(
    client: Dhis2Client, path: str, params: dict[str, str], *, missing: str = "", report: CheckReport | None = None
) -> dict[str, Any]:
    """The JSON object at ``path``; with ``missing``, a 404 becomes that Problem in ``report``."""
    try:
        exchange = client.get(path, params)
    except TransportError as exc:
        raise CheckAborted(f"DHIS2 injoignable ({client.base_url}) : {exc.message}") from exc
    if exchange.status == 404 and missing and report is not None:
        report.problems.append(Problem("configuration", missing))
        return {}
    if exchange.status == 401:
        raise CheckAborted("DHIS2 refuse le jeton ou le mot de passe (401) : vérifiez le fichier du jeton")
    if exchange.status != 200:
        raise CheckAborted(f"{path} : réponse {exchange.status} {exchange.reason} de DHIS2")
    return _parse(exchange, path)


def _parse(exchange: HttpExchange, path: str) -> dict[str, Any]:
    try:
        body = json.loads(exchange.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckAborted(f"{path} : réponse illisible (page HTML d'un proxy ?)") from exc
    if not isinstance(body, dict):
        raise CheckAborted(f"{path} : objet JSON attendu")
    return body
