"""The fleet inventory: which clinics ops watch, and their district and region.

A CSV file kept by ops (a spreadsheet export works), one line per clinic:

    site_id,district,region,name,latitude,longitude
    cscom-kati-01,Kati,Koulikoro,CSCom de Kati Centre,12.744,-8.072

``site_id``, ``district`` and ``region`` are required; ``name``, ``latitude`` and ``longitude`` are
optional (the dashboards' map uses the coordinates). The exporter labels every series with the
site, its district and its region, and exports nothing per site for a clinic missing from the
file: the inventory is what bounds the number of series in Prometheus.

A bad file is refused whole, with every problem listed by line and column, in French (ops staff
fix it in a spreadsheet): half an inventory would silently drop clinics from the alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from appliance import spreadsheets, text
from appliance.telemetry.topics import SITE_ID

REQUIRED_COLUMNS = ("site_id", "district", "region")
OPTIONAL_COLUMNS = ("name", "latitude", "longitude")
MAX_LABEL_CHARS = 64  # a district or region name, not a paragraph
MAX_CLINICS = 50_000  # far above a national fleet; a bigger file is a mistake (wrong file, pasted twice)


class InventoryError(ValueError):
    """The inventory file cannot be used; the message lists every problem, line by line."""


@dataclass(frozen=True)
class Site:
    site_id: str
    district: str
    region: str
    name: str = ""
    latitude: float | None = None
    longitude: float | None = None


def load_inventory(path: Path) -> dict[str, Site]:
    """Read and check the inventory file; InventoryError names every bad line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InventoryError(f"{path} : fichier d'inventaire introuvable") from None
    try:
        text, _encoding = spreadsheets.decode(data)  # UTF-8 (with BOM or not) or French Excel's Windows-1252
    except spreadsheets.UnreadableFile as unreadable:
        raise InventoryError(f"{path} : {unreadable}") from None
    return parse_inventory(text, source=str(path))


def parse_inventory(text: str, *, source: str = "inventaire") -> dict[str, Site]:
    """Read as spreadsheets write (``spreadsheets.read_table``): ``;`` or ``,``, ``sep=;``, headings in any
    case or with accents, quoted cells over several lines (lines are counted as an editor does)."""
    try:
        return _sites(spreadsheets.read_table(text, REQUIRED_COLUMNS + OPTIONAL_COLUMNS), source)
    except spreadsheets.UnreadableFile as unreadable:
        raise InventoryError(f"{source} : {unreadable}") from None


def _sites(table: spreadsheets.Table, source: str) -> dict[str, Site]:
    header = list(table.header)
    while header and not header[-1]:
        header.pop()  # Excel's trailing separators: empty headings after the last column
    where = f"{source}, ligne {table.header_line}"
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise InventoryError(f"{where} : colonnes obligatoires absentes : {', '.join(missing)} "
                             f"(en-tête attendu : {','.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)})")
    unknown = [column or "(sans nom)" for column in header if column not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise InventoryError(f"{where} : colonnes inconnues : {', '.join(unknown)}")
    doubled = sorted({column for column in header if header.count(column) > 1})
    if doubled:
        raise InventoryError(f"{where} : colonnes en double : {', '.join(doubled)}")
    sites: dict[str, Site] = {}
    first_line: dict[str, int] = {}
    problems: list[str] = []
    for line_number, cells in table.records:
        if not any(cell.strip() for cell in cells[len(header):]):
            cells = cells[: len(header)]  # the empty cells of Excel's trailing separators
        if len(cells) != len(header):
            problems.append(f"ligne {line_number} : {len(cells)} colonnes au lieu de {len(header)}")
            continue
        # the shared text rule: « Ségou » saved by a Mac (NFD) is the same district label; a refused value
        # stays as read, for _check to name
        record = {column: text.one_line(spreadsheets.clean(cell))[0]
                  for column, cell in zip(header, cells, strict=True)}
        line_problems = _check(record)
        site_id = record["site_id"]
        if site_id in first_line:
            line_problems.append(f"site_id « {site_id} » en double (déjà ligne {first_line[site_id]})")
        if line_problems:
            problems += [f"ligne {line_number} : {problem}" for problem in line_problems]
            continue
        first_line[site_id] = line_number
        sites[site_id] = Site(site_id, record["district"], record["region"], record.get("name", ""),
                              _coordinate(record.get("latitude")), _coordinate(record.get("longitude")))
    if problems:
        shown = problems[:50]
        more = f"\n… et {len(problems) - len(shown)} autres problèmes" if len(problems) > len(shown) else ""
        raise InventoryError(f"{source} : {len(problems)} problème(s), rien n'est chargé :\n"
                             + "\n".join(shown) + more)
    if not sites:
        raise InventoryError(f"{source} : aucune clinique dans l'inventaire")
    if len(sites) > MAX_CLINICS:
        raise InventoryError(f"{source} : {len(sites)} cliniques, plus que le maximum de {MAX_CLINICS}")
    return sites


def _check(record: dict[str, str]) -> list[str]:
    problems = []
    if not SITE_ID.fullmatch(record["site_id"]):
        problems.append(f"site_id « {record['site_id']} » invalide (minuscules, chiffres et tirets, "
                        "2 à 40 caractères, ex. « cscom-kati-01 »)")
    for column in ("district", "region", "name"):
        value = record.get(column, "")
        if column != "name" and not value:
            problems.append(f"{column} vide")
        elif len(value) > MAX_LABEL_CHARS:
            problems.append(f"{column} trop long ({len(value)} caractères, {MAX_LABEL_CHARS} au plus)")
        elif refusal := text.one_line(value)[1]:
            problems.append(f"{column} : {refusal}")
    for column, limit in (("latitude", 90), ("longitude", 180)):
        value = record.get(column, "")
        if not value:
            continue
        try:
            number = _coordinate(value)
        except ValueError:
            problems.append(f"{column} « {value} » n'est pas un nombre (ex. 12.744)")
            continue
        if number is not None and not -limit <= number <= limit:
            problems.append(f"{column} {value} hors de [-{limit}, {limit}]")
    if bool(record.get("latitude")) != bool(record.get("longitude")):
        problems.append("latitude et longitude vont ensemble")
    return problems


def _coordinate(value: str | None) -> float | None:
    if not value:
        return None
    return float(value.replace(",", "."))  # 12,744 from a French spreadsheet
