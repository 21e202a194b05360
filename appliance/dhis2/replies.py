"""Reading DHIS2's reply to ``POST /api/dataValueSets`` into a delivery outcome.

The contract (dhis2-core WebMessageUtils.importSummary, dhis2-docs web-api data.md, 2.38–2.41):
unversioned endpoints wrap the ImportSummary in a WebMessage envelope; 200 ``status: OK`` with
``response.status: SUCCESS`` when everything was imported, 409 ``status: WARNING`` with
``response.conflicts[]`` (``errorCode``, ``indexes`` into dataValues) and ``rejectedIndexes``
when some values were refused, 409 ``status: ERROR`` when the whole set was refused (E7600 data
set, E7603 org unit…). ``/api/37`` and older answer the bare ImportSummary with 200, conflicts
included (``object``/``value`` only, no indexes). Table in docs/dhis2.md.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.dhis2.client import HttpExchange, TransportError
from appliance.dhis2.payload import DataValueSetPayload, PayloadRow
from appliance.outbox.outcome import Conflict, Outcome, OutcomeKind

CONFLICT_MESSAGES: dict[str, str] = tomllib.loads(
    (Path(__file__).parent / "data" / "conflicts_fr.toml").read_text(encoding="utf-8")
)["codes"]
SET_LEVEL_CODES = frozenset({"E7600", "E7601", "E7602", "E7603", "E7604"})


@dataclass(frozen=True)
class ImportSummary:
    status: str  # SUCCESS, WARNING or ERROR
    description: str
    import_count: dict[str, int]
    conflicts: list[dict[str, Any]]
    rejected_indexes: list[int]
    enveloped: bool  # True: WebMessage envelope (unversioned API); False: bare (/api/37 and older)
    message: str = ""  # the envelope's message
    data_set_complete: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def parse_import_summary(body: Any) -> ImportSummary | None:
    """The ImportSummary in an envelope or bare; None when the JSON is something else."""
    if not isinstance(body, dict):
        return None
    enveloped = isinstance(body.get("response"), dict) and "httpStatusCode" in body
    summary = body["response"] if enveloped else body
    if summary.get("responseType") != "ImportSummary" and "importCount" not in summary:
        return None
    count = summary.get("importCount") or {}
    return ImportSummary(
        status=str(summary.get("status") or "").upper(),
        description=str(summary.get("description") or ""),
        import_count={key: _int(count.get(key)) for key in ("imported", "updated", "ignored", "deleted")},
        conflicts=[conflict for conflict in summary.get("conflicts") or [] if isinstance(conflict, dict)],
        rejected_indexes=[index for index in summary.get("rejectedIndexes") or [] if isinstance(index, int)],
        enveloped=enveloped,
        message=str(body.get("message") or "") if enveloped else "",
        data_set_complete=None if summary.get("dataSetComplete") is None else str(summary["dataSetComplete"]),
    )


def _int(value: Any) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return 0


def classify_transport_error(error: TransportError) -> Outcome:
    return Outcome(
        OutcomeKind.RETRY_LATER,
        f"envoi à DHIS2 non abouti, nouvel essai plus tard : {error.message}",
        bytes_sent=error.bytes_sent,
        bytes_received=error.bytes_received,
        link_down=error.link_down,
    )


def classify_import_reply(exchange: HttpExchange, payload: DataValueSetPayload) -> Outcome:
    """The outcome of one ``POST /api/dataValueSets``: delivered, with conflicts, retry or needs action."""

    def outcome(kind: OutcomeKind, message: str, **extra: Any) -> Outcome:
        return Outcome(
            kind,
            message,
            http_status=exchange.status,
            bytes_sent=exchange.bytes_sent,
            bytes_received=exchange.bytes_received,
            **extra,
        )

    status = exchange.status
    if status == 401:
        scheme = exchange.headers.get("www-authenticate", "").split(" ")[0] or "?"
        return outcome(
            OutcomeKind.NEEDS_ACTION,
            f"DHIS2 refuse l'authentification (401, schéma demandé : {scheme}) : le jeton d'accès "
            "est invalide ou expiré ; placez un nouveau jeton dans le fichier du jeton, puis renvoyez.",
        )
    if status == 403:
        return outcome(
            OutcomeKind.NEEDS_ACTION,
            f"DHIS2 refuse l'accès (403) : le compte n'a pas le droit de saisir des données "
            f"(autorité F_DATAVALUE_ADD). {_server_message(exchange)}".strip(),
        )
    if status == 415:
        return outcome(
            OutcomeKind.NEEDS_ACTION,
            "DHIS2 ou un proxy refuse le format envoyé (415) : essayez [dhis2] "
            "content_encoding_header = false, ou gzip_requests = false.",
        )
    if status == 404:
        return outcome(
            OutcomeKind.NEEDS_ACTION,
            "adresse introuvable (404) : vérifiez [dhis2] base_url (l'adresse du serveur, sans /api).",
        )
    if 300 <= status < 400:
        return outcome(
            OutcomeKind.NEEDS_ACTION,
            f"DHIS2 redirige la requête ({status}, vers {exchange.headers.get('location', '?')}) : "
            "vérifiez [dhis2] base_url (https:// ?) et l'authentification.",
        )
    if status in (408, 429) or status >= 500:
        return outcome(
            OutcomeKind.RETRY_LATER,
            f"DHIS2 indisponible pour le moment ({status} {exchange.reason}) : nouvel essai plus tard.",
            retry_after_s=_retry_after(exchange),
        )
    body = _json_body(exchange)
    summary = parse_import_summary(body)
    if summary is None:
        if status in (200, 409) and not isinstance(body, dict):
            kind = (
                "une page HTML (proxy ou portail de l'opérateur ?)"
                if exchange.content_type == "text/html"
                else "un contenu illisible ou tronqué"
            )
            return outcome(OutcomeKind.RETRY_LATER, f"réponse inattendue ({status}) : {kind} ; nouvel essai plus tard.")
        if status == 200:
            return outcome(
                OutcomeKind.RETRY_LATER,
                "réponse de DHIS2 incomprise (200 sans résumé d'import) ; nouvel essai plus tard.",
            )
        return outcome(OutcomeKind.NEEDS_ACTION, f"DHIS2 refuse l'envoi ({status}) : {_server_message(exchange)}")
    detail = {
        "import_count": summary.import_count,
        "status": summary.status,
        "enveloped": summary.enveloped,
        "description": summary.description,
        "rejected_indexes": summary.rejected_indexes,
        "data_set_complete": summary.data_set_complete,
    }
    conflicts = staff_conflicts(summary, payload)
    if summary.status == "ERROR":
        if not summary.conflicts:
            return outcome(
                OutcomeKind.RETRY_LATER,
                f"l'import a échoué côté DHIS2 ({summary.description or 'sans détail'}) : nouvel essai plus tard.",
                detail=detail,
            )
        reasons = " ; ".join(dict.fromkeys(conflict.message for conflict in conflicts))
        return outcome(
            OutcomeKind.NEEDS_ACTION, f"DHIS2 a refusé tout l'envoi : {reasons}", conflicts=conflicts, detail=detail
        )
    count = summary.import_count
    done = (
        f"{count['imported']} importée(s), {count['updated']} mise(s) à jour, {count['deleted']} supprimée(s), "
        f"{count['ignored']} ignorée(s)"
    )
    if conflicts:
        return outcome(
            OutcomeKind.DELIVERED_WITH_CONFLICTS,
            f"reçu par DHIS2 avec {len(conflicts)} valeur(s) refusée(s) à corriger ; {done}.",
            conflicts=conflicts,
            detail=detail,
        )
    if summary.status in ("SUCCESS", "OK"):
        return outcome(OutcomeKind.DELIVERED, f"reçu par DHIS2 : {done}.", detail=detail)
    return outcome(
        OutcomeKind.RETRY_LATER,
        f"statut d'import inconnu « {summary.status} » ; nouvel essai plus tard.",
        detail=detail,
    )


def staff_conflicts(summary: ImportSummary, payload: DataValueSetPayload) -> tuple[Conflict, ...]:
    """Each refused value as staff see it: the report row, the value, the code and a French reason."""
    result: list[Conflict] = []
    for raw in summary.conflicts:
        code = str(raw.get("errorCode") or "")
        message = conflict_message(code, raw)
        rows = _rows_of(raw, payload)
        if not rows:
            row_label = "Tout le rapport" if code in SET_LEVEL_CODES else "Ligne non identifiée"
            result.append(
                Conflict(
                    row=row_label,
                    value=str(raw.get("object") or ""),
                    code=code or "—",
                    message=message,
                    ref={"object": str(raw.get("object") or "")},
                )
            )
            continue
        for row in rows:
            result.append(
                Conflict(row=row.label, value=str(row.value), code=code or "—", message=message, ref=_row_ref(row))
            )
    return tuple(result)


def conflict_message(code: str, raw: dict[str, Any]) -> str:
    template = CONFLICT_MESSAGES.get(code, CONFLICT_MESSAGES["default"])
    return template.format(object=raw.get("object") or "?", value=raw.get("value") or code or "?")


def _rows_of(raw: dict[str, Any], payload: DataValueSetPayload) -> list[PayloadRow]:
    """The rows a conflict names: by index (2.38+), else by the UIDs it names (older servers)."""
    indexes = [index for index in raw.get("indexes") or [] if isinstance(index, int)]
    if indexes:
        return [payload.rows[index] for index in indexes if 0 <= index < len(payload.rows)]
    if str(raw.get("errorCode") or "") in SET_LEVEL_CODES:
        return []
    objects = raw.get("objects") if isinstance(raw.get("objects"), dict) else {}
    data_element = objects.get("dataElement")
    combo = objects.get("categoryOptionCombo")
    if data_element is None and combo is None:
        named = raw.get("object")
        return [
            row for row in payload.rows if named in (row.cell.indicator.data_element, row.cell.category_option_combo)
        ]
    return [
        row
        for row in payload.rows
        if data_element in (None, row.cell.indicator.data_element) and combo in (None, row.cell.category_option_combo)
    ]


def _row_ref(row: PayloadRow) -> dict[str, str]:
    return {
        "indicator": row.cell.indicator.code,
        "disaggregation": row.cell.disaggregation,
        "dataElement": row.cell.indicator.data_element,
        "categoryOptionCombo": row.cell.category_option_combo,
    }


def _json_body(exchange: HttpExchange) -> Any:
    try:
        return json.loads(exchange.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _server_message(exchange: HttpExchange) -> str:
    body = _json_body(exchange)
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])[:300]
    return exchange.reason


def _retry_after(exchange: HttpExchange) -> float | None:
    value = exchange.headers.get("retry-after", "")
    return float(value) if value.strip().isdigit() else None
