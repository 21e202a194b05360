"""Reading the CSV files people really send: French Excel, LibreOffice, a phone's spreadsheet app.

UTF-8 with or without BOM or Windows-1252 (French Excel's « CSV (séparateur : point-virgule) »),
``;`` or ``,`` separators, Excel's ``sep=;`` first line, quoted values, CRLF, blank trailing
lines. Every problem names the line (as the file's editor numbers it) and the column. Values go
through the same text rule as a browser's (``appliance.text``): NFC (a Mac's decomposed accents),
ASCII digits, no invisible character, and no line break inside a cell (Excel's Alt+Entrée).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from appliance import spreadsheets, text

MAX_BYTES = 1024 * 1024
MAX_ROWS = 5000

REQUIRED_COLUMNS = ("identifiant", "prenom", "nom", "role", "telephone")
OPTIONAL_COLUMNS = ("remplace",)  # the username of an account the new one replaces
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


@dataclass(frozen=True)
class Problem:
    line: int | None  # None: the file as a whole
    column: str | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return f"fichier : {self.message}"
        if self.column is None:
            return f"ligne {self.line} : {self.message}"
        return f"ligne {self.line}, colonne {self.column} : {self.message}"


@dataclass(frozen=True)
class CsvRow:
    line: int
    values: dict[str, str]
    problems: tuple[Problem, ...] = ()  # values the text rule refuses, named by column


@dataclass
class ParsedCsv:
    rows: list[CsvRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # file and header problems
    encoding: str = ""
    delimiter: str = ","


def parse(data: bytes) -> ParsedCsv:
    """Decode and split a users CSV file; rows keep their line numbers."""
    result = ParsedCsv()
    try:
        _check_size(data)
        text, result.encoding = spreadsheets.decode(data)
        table = spreadsheets.read_table(text, COLUMNS)
        result.delimiter = table.delimiter
        result.problems += header_problems(table.header, table.header_line)
        if result.problems:
            return result
        for line, values in table.records:
            if len(values) > len(table.header):
                result.problems.append(Problem(line, None, (
                    f"{len(values)} valeurs pour {len(table.header)} colonnes : une valeur contient-elle le "
                    f"séparateur « {table.delimiter} » sans être entre guillemets ?")))
                continue
            padded = values + [""] * (len(table.header) - len(values))
            result.rows.append(_row(line, {name: value for name, value in zip(table.header, padded, strict=True)
                                           if name}))
    except spreadsheets.UnreadableFile as unreadable:
        result.problems.append(Problem(unreadable.line, None, unreadable.message))
    if len(result.rows) > MAX_ROWS:
        result.problems.append(Problem(None, None, (
            f"trop de lignes ({len(result.rows)}) : au plus {MAX_ROWS} comptes par fichier ; "
            "découpez-le en plusieurs fichiers")))
        result.rows = []
    return result


def _row(line: int, raw: dict[str, str]) -> CsvRow:
    """The row's values through the text rule; a refused one stays as read, with its problem."""
    values: dict[str, str] = {}
    problems = []
    for name, value in raw.items():
        values[name], refusal = text.one_line(spreadsheets.clean(value))
        if refusal:
            problems.append(Problem(line, name, refusal))
    return CsvRow(line, values, tuple(problems))


def _check_size(data: bytes) -> None:
    if len(data) > MAX_BYTES:
        size = f"{len(data) / 2**20:.1f}".replace(".", ",")
        raise spreadsheets.UnreadableFile(None, (
            f"fichier trop gros ({size} Mo) : au plus {MAX_BYTES // 2**20} Mo, soit environ {MAX_ROWS} comptes ; "
            "découpez-le en plusieurs fichiers"))


def header_problems(columns: list[str], line: int) -> list[Problem]:
    expected = ", ".join(REQUIRED_COLUMNS)
    problems = []
    seen: set[str] = set()
    for name in columns:
        if not name:
            continue  # an empty heading: Excel's trailing separators
        if name not in COLUMNS:
            problems.append(Problem(line, name, f"colonne inconnue « {name} » (colonnes attendues : {expected})"))
        elif name in seen:
            problems.append(Problem(line, name, "colonne en double"))
        seen.add(name)
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            problems.append(Problem(line, name, f"colonne manquante (colonnes attendues : {expected})"))
    return problems
