"""A fake DHIS2 (2.38–2.41) Web API for tests and for ``make run`` demos: the national server is the
one part we cannot run here, so this follows its documented contract, not our client's wishes.

Contract followed, and where it is written:

- ``POST /api/dataValueSets`` (JSON; gzip bodies recognised by their magic bytes as in dhis2-core
  ``StreamUtils.wrapAndCheckCompressionFormat``, whatever Content-Encoding says): dhis2-docs
  ``src/developer/web-api/data.md`` "Sending data values"; import logic of dhis2-core
  ``DefaultDataValueSetService`` (2.40/2.41): upsert key (dataElement, period, orgUnit,
  categoryOptionCombo, attributeOptionCombo); a changed value is ``updated``; an identical re-post
  is ``ignored`` (2.38.6/2.39.5/2.40.3/2.41.0, DHIS2-15254; ``identical_counts_as="updated"`` for
  older patch releases); a zero for a numeric element whose zeros are not significant deletes the
  stored value (``deleted``) or is ``ignored`` when there is none; a deleted value sent again is
  ``imported``.
- Replies: dhis2-core ``WebMessageUtils.importSummary``: 200 ``status: OK`` / ``response.status:
  SUCCESS``; 409 ``WARNING`` "One more conflicts encountered, please check import summary." with
  ``conflicts[]`` and ``rejectedIndexes``; 409 ``ERROR`` "An error occurred, please check import
  summary." when the import is aborted. ``/api/37/dataValueSets`` answers the bare ImportSummary with
  200, conflicts included (as 2.37 and older did for every path).
- Conflicts: dhis2-core ``DataValueSetImportValidator`` with ``DataValueSetImportConflict`` (E7600
  data set, E7603 org unit, E7604 attribute option combo: the whole set is aborted) and
  ``DataValueImportConflict`` (E7610 data element, E7611 period, E7612 org unit, E7613 category
  option combo, E7618 missing value, E7619 value type, E7634 combo not in the element's category
  combo, E7640 period locked); each conflict has object, objects, value, errorCode, property and
  indexes, identical ones merged with all their indexes; a null property is left out of the JSON
  (``ImportConflict`` is ``@JsonInclude(NON_NULL)``). E7634 is checked as on servers with
  "strict category option combos" on (``strict_category_option_combos``).
- A period of the wrong type for the data element (a monthly ``202612`` for the weekly SIMR data set):
  dhis2-core ``DataValueImportConflict.PERIOD_TYPE_NOT_VALID_FOR_DATA_ELEMENT`` = ErrorCode **E7632**
  "Period type of period: `{0}` not valid for data element: `{1}`", property null, objects period and
  dataElement, raised by ``DataValueSetImportValidator.checkDataValuePeriodType`` only when strict
  periods are on: the import parameter ``strictPeriods=true`` (``ImportOptions``) or the system setting
  ``keyDataImportStrictPeriods`` (``strict_periods`` here, off by default as in DHIS2). Otherwise the
  value is stored under that period, as the real server does. (E7616 is "Attribute option combo:
  `{0}` option not accessible: `{1}`", ``ATTR_OPTION_COMBO_NOT_ACCESSIBLE``.)
- Metadata: ``/api/system/info``, ``/api/me``, ``/api/dataSets/{id}``, ``/api/organisationUnits/{id}``
  honouring the ``fields`` filter (``a,b[c,d[e]]``, ``*``); 404 as a WebMessage (E1005).
- Auth: ``Authorization: ApiToken d2pat_…`` or Basic; a bad token gets 401 with
  ``WWW-Authenticate: ApiToken error="invalid_token"``; an account without F_DATAVALUE_ADD gets 403;
  a content type other than JSON gets 415.
- Faults, drawn with a seeded random rate: 500, 503 (Retry-After), time-out (sleeps past the
  client's read time-out, then closes), connection reset (RST), truncated body, HTML proxy page;
  server faults strike before the import or after it (the values are stored but the reply is lost,
  which is what makes retries and upsert keys matter).

Standalone, without the appliance package: ``python -m tests.fakes.fake_dhis2 --port 8091``.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import random
import re
import socket
import struct
import threading
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEMO_MAPPING = Path(__file__).resolve().parents[2] / "appliance" / "dhis2" / "data" / "demo_mapping.toml"
DEMO_TOKEN = "d2pat_demoAppliance0000000000000000000000000000"
DEFAULT_CATEGORY_COMBO = "bjDvmb4bfuf"
DEFAULT_COC = "HllvX50cXC0"
FAULT_KINDS = ("500", "503", "timeout", "reset", "truncated", "html")
PERIOD = re.compile(r"(\d{4})(0[1-9]|1[0-2])")
WEEKLY = re.compile(r"(\d{4})W([1-9]|[1-4]\d|5[0-3])")  # DHIS2's WeeklyPeriodType ISO format: 2026W49
PERIOD_TYPES = {"Monthly": PERIOD, "Weekly": WEEKLY}
SIMR_MAPPING = Path(__file__).resolve().parents[2] / "appliance" / "dhis2" / "data" / "simr_mapping.toml"
INTEGER_TYPES = {
    "INTEGER": re.compile(r"-?\d+"),
    "INTEGER_ZERO_OR_POSITIVE": re.compile(r"\d+"),
    "INTEGER_POSITIVE": re.compile(r"0*[1-9]\d*"),
}
NUMERIC_TYPES = {*INTEGER_TYPES, "NUMBER"}
VALUE_ERRORS = {
    "INTEGER": "value_not_integer",
    "INTEGER_ZERO_OR_POSITIVE": "value_not_zero_or_positive_integer",
    "INTEGER_POSITIVE": "value_not_positive_integer",
    "NUMBER": "value_not_numeric",
}


# --- Metadata --------------------------------------------------------------------------------------


@dataclass
class CategoryCombo:
    id: str
    name: str
    option_combos: list[tuple[str, str, str]]  # (uid, name, code)


@dataclass
class DataElement:
    id: str
    name: str
    category_combo: str
    value_type: str = "INTEGER_ZERO_OR_POSITIVE"
    zero_is_significant: bool = False
    aggregation_type: str = "SUM"

    def zero_is_insignificant(self, value: str) -> bool:
        """dhis2-core ``ValidationUtils.dataValueIsZeroAndInsignificant``: a numeric zero, not significant,
        and not averaged (a zero in an AVERAGE or AVERAGE_SUM_ORG_UNIT element is a real value)."""
        return (self.value_type in NUMERIC_TYPES and _is_zero(value) and not self.zero_is_significant
                and self.aggregation_type not in ("AVERAGE", "AVERAGE_SUM_ORG_UNIT"))


@dataclass
class DataSet:
    id: str
    name: str
    elements: list[str]
    period_type: str = "Monthly"
    category_combo: str = DEFAULT_CATEGORY_COMBO


@dataclass
class Metadata:
    data_sets: dict[str, DataSet] = field(default_factory=dict)
    data_elements: dict[str, DataElement] = field(default_factory=dict)
    category_combos: dict[str, CategoryCombo] = field(default_factory=dict)
    org_units: dict[str, tuple[str, set[str]]] = field(default_factory=dict)  # uid → (name, data sets)

    def __post_init__(self) -> None:
        self.category_combos.setdefault(
            DEFAULT_CATEGORY_COMBO, CategoryCombo(DEFAULT_CATEGORY_COMBO, "default", [(DEFAULT_COC, "default", "")])
        )

    @classmethod
    def from_mapping_file(cls, path: Path = DEMO_MAPPING, *, period_type: str = "Monthly") -> Metadata:
        """Metadata that matches a mapping file exactly (read with tomllib: no appliance import); the
        demo mapping also brings the weekly SIMR data set of simr_mapping.toml."""
        meta = cls()
        meta.add_mapping_file(path, period_type=period_type)
        if Path(path) == DEMO_MAPPING:
            meta.add_mapping_file(SIMR_MAPPING, period_type="Weekly")
        return meta

    def add_mapping_file(self, path: Path, *, period_type: str = "Monthly") -> None:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        meta = self
        before = set(meta.data_elements)
        for combo in raw["category_combos"].values():
            meta.category_combos[combo["id"]] = CategoryCombo(
                combo["id"],
                combo["label"],
                [(uid, dis.replace("_", " "), dis) for dis, uid in combo["option_combos"].items()],
            )
        for indicator in raw["indicators"].values():
            combo_id = raw["category_combos"][indicator["category_combo"]]["id"]
            meta.data_elements[indicator["data_element"]] = DataElement(
                indicator["data_element"], indicator["label"], combo_id
            )
        meta.data_sets[raw["data_set"]] = DataSet(
            raw["data_set"],
            "Rapport mensuel d'activités du CSCom" if period_type == "Monthly" else "SIMR hebdomadaire",
            [uid for uid in meta.data_elements if uid not in before], period_type=period_type,
        )
        if raw.get("org_unit"):
            known = meta.org_units.get(raw["org_unit"], ("", set()))[1]
            meta.add_org_unit(raw["org_unit"], "CSCom de démonstration", data_sets=[*known, raw["data_set"]])

    def add_org_unit(self, uid: str, name: str, *, data_sets: list[str] | None = None) -> None:
        self.org_units[uid] = (name, set(data_sets if data_sets is not None else self.data_sets))

    def option_combo_ids(self) -> set[str]:
        return {uid for combo in self.category_combos.values() for uid, _, _ in combo.option_combos}

    def combo_json(self, combo_id: str, *, with_code: bool = True) -> dict[str, Any]:
        combo = self.category_combos[combo_id]
        return {
            "id": combo.id,
            "name": combo.name,
            "categoryOptionCombos": [
                {"id": uid, "name": name, **({"code": code} if with_code and code else {})}
                for uid, name, code in combo.option_combos
            ],
        }

    def data_set_json(self, uid: str) -> dict[str, Any]:
        data_set = self.data_sets[uid]
        return {
            "id": data_set.id,
            "name": data_set.name,
            "periodType": data_set.period_type,
            "categoryCombo": self.combo_json(data_set.category_combo),
            "dataSetElements": [{"dataElement": self.data_element_json(de)} for de in data_set.elements],
            "organisationUnits": [{"id": ou} for ou, (_, sets) in self.org_units.items() if uid in sets],
        }

    def data_element_json(self, uid: str) -> dict[str, Any]:
        element = self.data_elements[uid]
        return {
            "id": element.id,
            "name": element.name,
            "valueType": element.value_type,
            "zeroIsSignificant": element.zero_is_significant,
            "aggregationType": element.aggregation_type,
            "categoryCombo": self.combo_json(element.category_combo),
        }


# --- Field filter (?fields=a,b[c,d[e]]) ------------------------------------------------------------


def parse_fields(text: str) -> dict[str, Any]:
    """``id,name,a[b,c[d]]`` → ``{"id": None, "name": None, "a": {"b": None, "c": {"d": None}}}``."""
    root: dict[str, Any] = {}
    stack = [root]
    name = ""
    for char in text + ",":
        if char in ",[]":
            if name.strip():
                stack[-1][name.strip()] = None
            if char == "[":
                child: dict[str, Any] = {}
                stack[-1][name.strip()] = child
                stack.append(child)
            elif char == "]" and len(stack) > 1:
                stack.pop()
            name = ""
        else:
            name += char
    return root


def apply_fields(value: Any, tree: dict[str, Any] | None) -> Any:
    if tree is None:
        return value
    if isinstance(value, list):
        return [apply_fields(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    if "*" in tree or ":all" in tree:
        return {key: apply_fields(item, tree.get(key)) for key, item in value.items()}
    return {key: apply_fields(value[key], sub) for key, sub in tree.items() if key in value}


# --- Faults ----------------------------------------------------------------------------------------


@dataclass
class FaultPlan:
    """Each request, with probability ``rate``, gets one fault of ``kinds``, before or after the import."""

    rate: float = 0.0
    seed: int = 0
    kinds: tuple[str, ...] = FAULT_KINDS
    timeout_s: float = 2.0  # how long a "time-out" fault sleeps: longer than the client's read time-out
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def draw(self) -> tuple[str, str] | None:
        if self.rate <= 0 or self._random.random() >= self.rate:
            return None
        kind = self._random.choice(self.kinds)
        phase = "before" if kind == "html" else self._random.choice(("before", "after"))
        return kind, phase


# --- The server ------------------------------------------------------------------------------------


@dataclass
class StoredValue:
    value: str
    deleted: bool = False


Key = tuple[str, str, str, str, str]  # dataElement, period, orgUnit, categoryOptionCombo, attributeOptionCombo


class FakeDhis2:
    def __init__(
        self,
        metadata: Metadata | None = None,
        *,
        tokens: dict[str, str] | None = None,
        basic_users: dict[str, str] | None = None,
        authorities: dict[str, list[str]] | None = None,
        faults: FaultPlan | None = None,
        version: str = "2.40.3",
        identical_counts_as: str = "ignored",
        strict_category_option_combos: bool = True,
        strict_periods: bool = False,
        reject_content_encoding: bool = False,
        gzip_responses: bool = True,
    ) -> None:
        self.metadata = metadata or Metadata.from_mapping_file()
        self.tokens = dict(tokens if tokens is not None else {DEMO_TOKEN: "admin"})  # token → username
        self.basic_users = dict(basic_users or {})  # username → password
        self.authorities = authorities or {"admin": ["ALL"]}
        self.faults = faults or FaultPlan()
        self.version = version
        self.identical_counts_as = identical_counts_as
        self.strict_category_option_combos = strict_category_option_combos
        self.strict_periods = strict_periods  # the system setting keyDataImportStrictPeriods
        self.reject_content_encoding = reject_content_encoding
        self.gzip_responses = gzip_responses
        self.locked_periods: set[tuple[str, str]] = set()  # (data set, period): E7640
        self.store: dict[Key, StoredValue] = {}
        self.completions: dict[tuple[str, str, str, str], str] = {}
        self.created = Counter()  # key → times a value was created (1 = exactly once)
        self.posts: list[dict[str, Any]] = []  # one record per POST processed (after auth)
        self.request_count = 0
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --
    def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeDhis2:
        handler = type("BoundHandler", (_Handler,), {"fake": self})
        self._server = _QuietServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-dhis2", daemon=True
        )
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeDhis2:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- inspection, for tests --
    def values_for(
        self, org_unit: str, period: str, attribute_option_combo: str = DEFAULT_COC
    ) -> dict[tuple[str, str], str]:
        """``{(dataElement, categoryOptionCombo): value}`` stored for an org unit and period (yyyyMM)."""
        with self.lock:
            return {
                (de, coc): stored.value
                for (de, pe, ou, coc, aoc), stored in self.store.items()
                if ou == org_unit and pe == period and aoc == attribute_option_combo and not stored.deleted
            }

    # -- the import --
    def import_data_value_set(self, data: Any, *, dry_run: bool = False, strict_periods: bool = False
                              ) -> dict[str, Any]:
        """The ImportSummary of one dataValueSet, applied to the store unless ``dry_run``; periods of the wrong
        type refused (E7632) when ``strict_periods`` (the import parameter) or the server's setting says so."""
        summary: dict[str, Any] = {
            "responseType": "ImportSummary",
            "status": "SUCCESS",
            "importOptions": {
                "idSchemes": {},
                "dryRun": dry_run,
                "async": False,
                "strictPeriods": strict_periods or self.strict_periods,
                "importStrategy": "CREATE_AND_UPDATE",
            },
            "description": "Import process completed successfully",
            "importCount": {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0},
            "conflicts": [],
            "rejectedIndexes": [],
            "dataSetComplete": "false",
        }
        if not isinstance(data, dict):
            summary |= {"status": "ERROR", "description": "The import process failed: expected a JSON object"}
            return summary
        conflicts: dict[tuple[str, str, str], dict[str, Any]] = {}

        def conflict(index: int | None, code: str, prop: str | None, objects: dict[str, str], message: str) -> None:
            obj = next(iter(objects.values()), "")
            entry = conflicts.setdefault(
                (code, obj, message),
                {
                    "object": obj,
                    "objects": objects,
                    "value": message,
                    "errorCode": code,
                    **({"property": prop} if prop is not None else {}),
                    "indexes": [],
                },
            )
            if index is not None:
                entry["indexes"].append(index)

        meta = self.metadata
        data_set = data.get("dataSet")
        header_ou = data.get("orgUnit")
        header_aoc = data.get("attributeOptionCombo")
        if data_set and data_set not in meta.data_sets:
            conflict(
                None, "E7600", "dataSet", {"dataSet": data_set}, f"Data set not found or not accessible: `{data_set}`"
            )
        if header_ou and header_ou not in meta.org_units:
            conflict(
                None,
                "E7603",
                "orgUnit",
                {"organisationUnit": header_ou, "dataSet": data_set or ""},
                f"Org unit not found or not accessible: `{header_ou}`",
            )
        if header_aoc and header_aoc not in meta.option_combo_ids():
            conflict(
                None,
                "E7604",
                "attributeOptionCombo",
                {"categoryOptionCombo": header_aoc, "dataSet": data_set or ""},
                f"Attribute option combo not found or not accessible: `{header_aoc}`",
            )
        if conflicts:
            summary |= {"status": "ERROR", "description": "Import process was aborted", "conflicts": _listed(conflicts)}
            return summary
        if data_set and data.get("completeDate") and data.get("period"):
            completed = str(data["completeDate"])
            if not dry_run:
                self.completions[(data_set, data["period"], header_ou or "", header_aoc or DEFAULT_COC)] = completed
            summary["dataSetComplete"] = completed
        count = summary["importCount"]
        rejected = []
        for index, value in enumerate(data.get("dataValues") or []):
            key = self._validate_value(index, value, data, conflict, strict_periods or self.strict_periods)
            if key is None:
                count["ignored"] += 1
                rejected.append(index)
                continue
            self._upsert(key, str(value.get("value")), count, dry_run=dry_run)
        if conflicts:
            summary |= {"status": "WARNING", "conflicts": _listed(conflicts), "rejectedIndexes": rejected}
        return summary

    def _validate_value(self, index: int, value: Any, data: dict[str, Any], conflict, strict_periods: bool
                        ) -> Key | None:
        meta = self.metadata
        if not isinstance(value, dict):
            conflict(index, "E7618", "value", {"dataElement": ""}, "Data value or comment not specified")
            return None
        de = value.get("dataElement") or ""
        period = value.get("period") or data.get("period") or ""
        ou = value.get("orgUnit") or data.get("orgUnit") or ""
        coc = value.get("categoryOptionCombo") or DEFAULT_COC
        aoc = value.get("attributeOptionCombo") or data.get("attributeOptionCombo") or DEFAULT_COC
        element = meta.data_elements.get(de)
        if element is None:
            conflict(
                index, "E7610", "dataElement", {"dataElement": de}, f"Data element not found or not accessible: `{de}`"
            )
            return None
        if not any(pattern.fullmatch(period) for pattern in PERIOD_TYPES.values()):
            conflict(index, "E7611", "period", {"period": period}, f"Period not valid: `{period}`")
            return None
        types = {ds.period_type for ds in meta.data_sets.values() if de in ds.elements} or {"Monthly"}
        if strict_periods and not any(PERIOD_TYPES[kind].fullmatch(period) for kind in types):
            conflict(index, "E7632", None, {"period": period, "dataElement": de},
                     f"Period type of period: `{period}` not valid for data element: `{de}`")
            return None
        if ou not in meta.org_units:
            conflict(
                index,
                "E7612",
                "orgUnit",
                {"organisationUnit": ou},
                f"Organisation unit not found or not accessible: `{ou}`",
            )
            return None
        if coc not in meta.option_combo_ids():
            conflict(
                index,
                "E7613",
                "categoryOptionCombo",
                {"categoryOptionCombo": coc},
                f"Category option combo not found or not accessible for writing data: `{coc}`",
            )
            return None
        raw = value.get("value")
        if raw is None or str(raw) == "":
            conflict(
                index,
                "E7618",
                "value",
                {"dataElement": de},
                f"Data value or comment not specified for data element: `{de}`",
            )
            return None
        error = _value_error(str(raw), element.value_type)
        if error:
            conflict(
                index,
                "E7619",
                "value",
                {"dataElement": de},
                f"Value must match data element's `{de}` type constraints: {error}",
            )
            return None
        allowed = {uid for uid, _, _ in meta.category_combos[element.category_combo].option_combos}
        if self.strict_category_option_combos and coc not in allowed:
            conflict(
                index,
                "E7634",
                "categoryOptionCombo",
                {"categoryOptionCombo": coc, "dataElement": de},
                f"Category option combo: `{coc}` must be part of category combo of data element: `{de}`",
            )
            return None
        data_set = data.get("dataSet")
        if data_set and (data_set, period) in self.locked_periods:
            conflict(
                index,
                "E7640",
                "period",
                {"period": period, "dataSet": data_set},
                f"Current date is past expiry days for period: `{period}`  and data set: `{data_set}`",
            )
            return None
        return (de, period, ou, coc, aoc)

    def _upsert(self, key: Key, value: str, count: dict[str, int], *, dry_run: bool) -> None:
        element = self.metadata.data_elements[key[0]]
        zero_insignificant = element.zero_is_insignificant(value)
        existing = self.store.get(key)
        live = existing is not None and not existing.deleted
        if zero_insignificant and not live:
            count["ignored"] += 1
            return
        if live:
            if zero_insignificant:
                count["deleted"] += 1
                if not dry_run:
                    existing.deleted = True
            elif existing.value == value:
                count[self.identical_counts_as] += 1
            else:
                count["updated"] += 1
                if not dry_run:
                    existing.value = value
            return
        count["imported"] += 1
        if not dry_run:
            self.store[key] = StoredValue(value)
            self.created[key] += 1


def _listed(conflicts: dict[tuple[str, str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    listed = []
    for entry in conflicts.values():
        item = dict(entry)
        if not item["indexes"]:
            del item["indexes"]
        listed.append(item)
    return listed


def _is_zero(value: str) -> bool:
    try:
        return float(value) == 0
    except ValueError:
        return False


def _value_error(value: str, value_type: str) -> str | None:
    if value_type in INTEGER_TYPES:
        return None if INTEGER_TYPES[value_type].fullmatch(value) else VALUE_ERRORS[value_type]
    if value_type == "NUMBER":
        try:
            float(value)
        except ValueError:
            return VALUE_ERRORS["NUMBER"]
    return None


def web_message(
    status: int, message: str, *, response: dict[str, Any] | None = None, web_status: str = "ERROR", **extra: Any
) -> dict[str, Any]:
    names = {
        200: "OK",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
        415: "Unsupported Media Type",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }
    body = {
        "httpStatus": names.get(status, str(status)),
        "httpStatusCode": status,
        "status": web_status,
        "message": message,
        **extra,
    }
    if response is not None:
        body["response"] = response
    return body


PROXY_PAGE = (
    b"<!DOCTYPE html><html><head><title>Forfait internet</title></head><body><h1>Votre forfait est \xc3\xa9puis\xc3\xa9"
    b"</h1><p>Rechargez votre compte pour continuer la navigation.</p></body></html>"
)


class _QuietServer(ThreadingHTTPServer):
    """Clients that vanish mid-request (killed flushers, time-outs) are normal here, not errors to print."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeDHIS2/2.40"
    fake: FakeDhis2

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes: without this, Nagle + delayed ACK add ~40 ms a reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and demos read the summary, not an access log."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    # -- dispatch --
    def _serve(self, method: str) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with fake.lock:
            fake.request_count += 1
            fault = fake.faults.draw()
        if fault and fault[1] == "before":
            self._fault(fault[0])
            return
        status, headers, payload = self._route(method, body)
        if fault:
            self._fault(fault[0])
            return
        self._send(status, payload, headers)

    def _route(self, method: str, body: bytes) -> tuple[int, dict[str, str], Any]:
        fake = self.fake
        url = urlsplit(self.path)
        params = {key: values[-1] for key, values in parse_qs(url.query).items()}
        user, challenge = self._authenticate()
        if user is None:
            return 401, {"WWW-Authenticate": challenge}, web_message(401, "Unauthorized")
        path = url.path.rstrip("/")
        fields = parse_fields(params["fields"]) if params.get("fields") else None
        meta = fake.metadata
        if method == "GET" and path == "/api/system/info":
            info = {
                "version": fake.version,
                "revision": "f4k3d42",
                "serverDate": datetime.now(UTC).isoformat(),
                "contextPath": f"http://{self.headers.get('Host', '')}",
            }
            return 200, {}, apply_fields(info, fields)
        if method == "GET" and path == "/api/me":
            me = {
                "id": "M5zQapPyTZI",
                "username": user,
                "authorities": fake.authorities.get(user, []),
                "organisationUnits": [{"id": uid} for uid in meta.org_units],
            }
            return 200, {}, apply_fields(me, fields)
        if method == "GET" and (match := re.fullmatch(r"/api/dataSets/(\w+)", path)):
            if match.group(1) not in meta.data_sets:
                return (
                    404,
                    {},
                    web_message(404, f"DataSet with id {match.group(1)} could not be found.", errorCode="E1005"),
                )
            return 200, {}, apply_fields(meta.data_set_json(match.group(1)), fields)
        if method == "GET" and (match := re.fullmatch(r"/api/organisationUnits/(\w+)", path)):
            if match.group(1) not in meta.org_units:
                return (
                    404,
                    {},
                    web_message(
                        404, f"OrganisationUnit with id {match.group(1)} could not be found.", errorCode="E1005"
                    ),
                )
            name, data_sets = meta.org_units[match.group(1)]
            unit = {"id": match.group(1), "name": name, "dataSets": [{"id": uid} for uid in sorted(data_sets)]}
            return 200, {}, apply_fields(unit, fields)
        if method == "POST" and (match := re.fullmatch(r"/api(/\d+)?/dataValueSets", path)):
            return self._post_data_value_set(user, body, params, versioned=match.group(1) is not None)
        return 404, {}, web_message(404, f"No endpoint {method} {path}")

    def _authenticate(self) -> tuple[str | None, str]:
        fake = self.fake
        header = self.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme == "ApiToken":
            user = fake.tokens.get(credential.strip())
            return user, 'ApiToken error="invalid_token", error_description="The API token does not exist"'
        if scheme == "Basic":
            try:
                username, _, password = base64.b64decode(credential).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return None, 'Basic realm="DHIS2"'
            if fake.basic_users.get(username) == password:
                return username, ""
        return None, 'Basic realm="DHIS2"'

    def _post_data_value_set(
        self, user: str, body: bytes, params: dict[str, str], *, versioned: bool
    ) -> tuple[int, dict[str, str], Any]:
        fake = self.fake
        authorities = set(fake.authorities.get(user, []))
        if not authorities & {"ALL", "F_DATAVALUE_ADD"}:
            return 403, {}, web_message(403, "You don't have the proper permissions to access this page.")
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return 415, {}, web_message(415, f"Content type '{content_type}' not supported")
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if encoding and encoding != "identity" and fake.reject_content_encoding:
            return 415, {}, web_message(415, f"Content encoding '{encoding}' not supported")
        if body[:2] == b"\x1f\x8b":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError):
                body = b""
        try:
            data = json.loads(body.decode("utf-8"))
            parse_error = ""
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            data, parse_error = None, str(exc)
        with fake.lock:
            if parse_error:
                summary = {
                    "responseType": "ImportSummary",
                    "status": "ERROR",
                    "description": f"The import process failed: {parse_error}",
                    "importCount": {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0},
                    "conflicts": [],
                }
            else:
                summary = fake.import_data_value_set(data, dry_run=params.get("dryRun") == "true",
                                                     strict_periods=params.get("strictPeriods") == "true")
            fake.posts.append(
                {
                    "user": user,
                    "summary": summary,
                    "orgUnit": (data or {}).get("orgUnit"),
                    "period": (data or {}).get("period"),
                }
            )
        if versioned:
            return 200, {}, summary
        if summary["status"] == "ERROR":
            return 409, {}, web_message(409, "An error occurred, please check import summary.", response=summary)
        if summary["conflicts"]:
            return (
                409,
                {},
                web_message(
                    409,
                    "One more conflicts encountered, please check import summary.",
                    response=summary,
                    web_status="WARNING",
                ),
            )
        return 200, {}, web_message(200, "Import was successful.", response=summary, web_status="OK")

    # -- replies and faults --
    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        extra = dict(headers or {})
        if self.fake.gzip_responses and "gzip" in self.headers.get("Accept-Encoding", "") and len(raw) > 200:
            raw = gzip.compress(raw)
            extra["Content-Encoding"] = "gzip"
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _fault(self, kind: str) -> None:
        self.close_connection = True
        if kind == "500":
            self._send(500, web_message(500, "java.lang.NullPointerException", devMessage="injected"))
        elif kind == "503":
            raw = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
            self.send_response(503)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(raw)
        elif kind == "timeout":
            time.sleep(self.fake.faults.timeout_s)
            self._reset()
        elif kind == "reset":
            self._reset()
        elif kind == "truncated":
            raw = json.dumps(
                web_message(
                    200,
                    "Import was successful.",
                    web_status="OK",
                    response={"responseType": "ImportSummary", "status": "SUCCESS"},
                )
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw[: len(raw) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)  # a clean end of stream, mid-body
        elif kind == "html":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PROXY_PAGE)))
            self.end_headers()
            self.wfile.write(PROXY_PAGE)
        else:
            raise ValueError(f"unknown fault {kind!r}")

    def _reset(self) -> None:
        """Close with RST (SO_LINGER 0), as a dropped 3G link or a killed proxy would."""
        try:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Faux serveur DHIS2 (2.38–2.41) pour les démonstrations et les tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument(
        "--mapping", type=Path, default=DEMO_MAPPING, help="table de correspondance dont il imite les métadonnées"
    )
    parser.add_argument("--token", action="append", default=[], help=f"jeton accepté (défaut : {DEMO_TOKEN})")
    parser.add_argument("--token-file", type=Path, help="fichier contenant le jeton accepté")
    parser.add_argument("--org-unit", action="append", default=[], help="unité d'organisation en plus, UID=Nom")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--locked-period", action="append", default=[],
                        help="mois AAAA-MM verrouillé pour le data set de la table (délai d'expiration passé : E7640)")
    args = parser.parse_args(argv)
    tokens = list(args.token)
    if args.token_file:
        tokens.append(args.token_file.read_text(encoding="utf-8").strip())
    metadata = Metadata.from_mapping_file(args.mapping)
    for spec in args.org_unit:
        uid, _, name = spec.partition("=")
        metadata.add_org_unit(uid, name or uid)
    fake = FakeDhis2(
        metadata,
        tokens={token: "admin" for token in tokens or [DEMO_TOKEN]},
        faults=FaultPlan(rate=args.fault_rate, seed=args.seed),
    )
    data_set = tomllib.loads(args.mapping.read_text(encoding="utf-8"))["data_set"]
    fake.locked_periods.update((data_set, period.replace("-", "")) for period in args.locked_period)
    fake.start(args.host, args.port)
    print(f"Faux DHIS2 {fake.version} sur {fake.url} (Ctrl-C pour arrêter)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
