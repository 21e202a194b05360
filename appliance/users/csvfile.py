"""Reading the CSV files people really send: French Excel, LibreOffice, a phone's spreadsheet app.

UTF-8 with or without BOM or Windows-1252 (French Excel's « CSV (séparateur : point-virgule) »),
``;`` or ``,`` separators, Excel's ``sep=;`` first line, quoted values, CRLF, blank trailing
lines. Every problem names the line (as the file's editor numbers it) and the column. Values go
through the same text rule as a browser's (``appliance.text``): NFC (a Mac's decomposed accents),
ASCII digits, no invisible character, and no line break inside a cell (Excel's Alt+Entrée).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field

from appliance import text

MAX_BYTES = 1024 * 1024
MAX_ROWS = 5000

REQUIRED_COLUMNS = ("identifiant", "prenom", "nom", "role", "telephone")
OPTIONAL_COLUMNS = ("remplace",)  # the username of an account the new one replaces
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

# Two bytes that form a valid UTF-8 sequence are almost never meant as two Windows-1252 letters
# ("Ã©" instead of "é"): finding one in a file that is not valid UTF-8 means mixed encodings.
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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


class FileRefused(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def parse(data: bytes) -> ParsedCsv:
    """Decode and split a users CSV file; rows keep their line numbers."""
    result = ParsedCsv()
    try:
        _check_size(data)
        text, result.encoding = decode(data)
    except FileRefused as refused:
        result.problems.append(refused.problem)
        return result
    lines = text.splitlines(keepends=True)
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    if first == len(lines):
        result.problems.append(Problem(None, None, "fichier vide : la première ligne doit être l'en-tête "
                                                   + ",".join(REQUIRED_COLUMNS)))
        return result
    if match := re.fullmatch(r"sep=(.)\s*", lines[first].strip("\ufeff")):
        result.delimiter = match.group(1)
        first += 1
    else:
        result.delimiter = detect_delimiter(lines[first])
    reader = csv.reader(io.StringIO("".join(lines[first:]), newline=""), delimiter=result.delimiter)
    header_line = first + 1
    try:
        header = next(reader)
    except StopIteration:
        result.problems.append(Problem(None, None, "aucun en-tête"))
        return result
    columns = [normalise_name(name) for name in header]
    result.problems += header_problems(columns, header_line)
    if result.problems:
        return result
    lines_read = reader.line_num
    try:
        for values in reader:
            line = first + lines_read + 1  # where this record starts, as an editor numbers lines
            lines_read = reader.line_num
            if not any(value.strip() for value in values):
                continue  # blank line, or Excel's ";;;;" line
            if len(values) > len(columns):
                result.problems.append(Problem(line, None, (
                    f"{len(values)} valeurs pour {len(columns)} colonnes : une valeur contient-elle le "
                    f"séparateur « {result.delimiter} » sans être entre guillemets ?")))
                continue
            padded = values + [""] * (len(columns) - len(values))
            result.rows.append(_row(line, {name: value for name, value in zip(columns, padded, strict=True) if name}))
    except csv.Error as exc:
        result.problems.append(Problem(first + reader.line_num, None, f"ligne illisible ({exc})"))
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
        values[name] = clean(value)
        if text.LINE_BREAKS & set(values[name]) or "\t" in values[name]:
            problems.append(Problem(line, name, "retour à la ligne ou tabulation dans la valeur (Alt+Entrée dans "
                                                "Excel ?) : mettez-la sur une seule ligne"))
            continue
        try:
            values[name] = text.clean_text(values[name])
        except text.InvisibleCharacter as refused:
            problems.append(Problem(line, name, f"{refused} dans la valeur : retapez-la au clavier, "
                                                "sans copier-coller"))
    return CsvRow(line, values, tuple(problems))


def _check_size(data: bytes) -> None:
    if len(data) > MAX_BYTES:
        size = f"{len(data) / 2**20:.1f}".replace(".", ",")
        raise FileRefused(Problem(None, None, (
            f"fichier trop gros ({size} Mo) : au plus {MAX_BYTES // 2**20} Mo, soit environ {MAX_ROWS} comptes ; "
            "découpez-le en plusieurs fichiers")))


def decode(data: bytes) -> tuple[str, str]:
    """The file's text and the encoding found, or FileRefused naming the first unreadable line."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRefused(Problem(None, None, (
            "fichier en UTF-16 (« Texte Unicode ») : enregistrez-le en « CSV UTF-8 » ou "
            "« CSV (séparateur : point-virgule) »")))
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused(Problem(None, None, (
            "c'est un classeur Excel, pas un fichier CSV : dans Excel, « Enregistrer sous » → "
            "« CSV UTF-8 » ou « CSV (séparateur : point-virgule) »")))
    if b"\x00" in data:
        raise FileRefused(Problem(_line_of(data, data.index(b"\x00")), None, "fichier binaire, pas un fichier CSV"))
    try:
        return _refuse_controls(data.decode("utf-8-sig"), data), "UTF-8"
    except UnicodeDecodeError as not_utf8:
        first_bad = not_utf8.start
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as not_cp1252:
        raise FileRefused(Problem(_line_of(data, not_cp1252.start), None, (
            "encodage illisible : ni UTF-8 ni Windows-1252 ; enregistrez le fichier en « CSV UTF-8 »"))) from None
    if _UTF8_SEQUENCE.search(data):
        raise FileRefused(Problem(_line_of(data, first_bad), None, (
            "encodage illisible : le fichier mélange UTF-8 et Windows-1252 (copier-coller entre deux "
            "fichiers ?) ; enregistrez-le en « CSV UTF-8 »")))
    return _refuse_controls(text, data), "Windows-1252"


def _refuse_controls(text: str, data: bytes) -> str:
    if match := _CONTROL.search(text):
        line = text.count("\n", 0, match.start()) + 1
        raise FileRefused(Problem(line, None, "caractère de contrôle inattendu : ce n'est pas un fichier CSV texte"))
    return text


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def detect_delimiter(header: str) -> str:
    """The separator that splits the header into known column names (French Excel uses ``;``)."""
    scores = {}
    for delimiter in (";", ","):
        names = next(csv.reader([header], delimiter=delimiter), [])
        scores[delimiter] = sum(normalise_name(name) in COLUMNS for name in names)
    if scores[";"] != scores[","]:
        return max(scores, key=scores.__getitem__)
    try:
        return csv.Sniffer().sniff(header, delimiters=";,").delimiter
    except csv.Error:
        return ","


def normalise_name(name: str) -> str:
    """« Prénom » → « prenom »: headers typed by hand keep their accents and capitals."""
    stripped = strip_accents(clean(name).lower())
    return re.sub(r"[\s\-]+", "_", stripped)


def strip_accents(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def clean(value: str) -> str:
    """Trim spaces, including the non-breaking ones French Excel puts in numbers and names."""
    return value.replace("\u00a0", " ").replace("\u202f", " ").replace("\ufeff", "").strip()


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
