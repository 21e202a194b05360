"""CSV files to and from spreadsheets: exports no cell of which runs as a formula, and imports
read as people really send them.

Excel and LibreOffice run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or
carriage return before one) as a formula: a patient or user named ``=HYPERLINK(...)``, or a site
id sent over MQTT, would run on the district's computer (OWASP "CSV injection"). Every export
writes through ``writer``/``dict_writer``, which prefix such a cell with an apostrophe, the
spreadsheet's own "this is text" mark. Plain numbers (``-3``, ``+22376123456``, ``-1,5``) stay
numbers.

Every import reads through ``decode`` and ``read_table``: UTF-8 with or without BOM or
Windows-1252 (French Excel's « CSV (séparateur : point-virgule) »), ``;`` or ``,``, Excel's
``sep=;`` first line, quoted values over several lines, CRLF, blank lines, headings typed by hand
(« Prénom », « Région », « Site ID »); line numbers are those of the file in an editor.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[-+]?[0-9]+([.,][0-9]+)?")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class _SafeWriter:
    def __init__(self, inner) -> None:
        self._inner = inner

    def writerow(self, row) -> Any:
        return self._inner.writerow([safe_cell(value) for value in row])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


class _SafeDictWriter(csv.DictWriter):
    def writerow(self, rowdict) -> Any:
        return super().writerow({key: safe_cell(value) for key, value in rowdict.items()})


def writer(stream: IO[str], **options) -> _SafeWriter:
    return _SafeWriter(csv.writer(stream, **options))


def dict_writer(stream: IO[str], fieldnames, **options) -> csv.DictWriter:
    return _SafeDictWriter(stream, fieldnames=fieldnames, **options)


# --- Reading ----------------------------------------------------------------------------------------

# Two bytes that form a valid UTF-8 sequence are almost never meant as two Windows-1252 letters
# ("Ã©" instead of "é"): finding one in a file that is not valid UTF-8 means mixed encodings.
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class UnreadableFile(ValueError):
    """The file cannot be read as CSV text; ``line`` is None for the file as a whole."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message if line is None else f"ligne {line} : {message}")
        self.line = line
        self.message = message


def decode(data: bytes) -> tuple[str, str]:
    """The file's text and the encoding found, or UnreadableFile naming the first unreadable line."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnreadableFile(None, "fichier en UTF-16 (« Texte Unicode ») : enregistrez-le en « CSV UTF-8 » ou "
                                   "« CSV (séparateur : point-virgule) »")
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile(None, "c'est un classeur Excel, pas un fichier CSV : dans Excel, « Enregistrer sous » "
                                   "→ « CSV UTF-8 » ou « CSV (séparateur : point-virgule) »")
    if b"\x00" in data:
        raise UnreadableFile(_line_of(data, data.index(b"\x00")), "fichier binaire, pas un fichier CSV")
    try:
        return _refuse_controls(data.decode("utf-8-sig")), "UTF-8"
    except UnicodeDecodeError as not_utf8:
        first_bad = not_utf8.start
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as not_cp1252:
        raise UnreadableFile(_line_of(data, not_cp1252.start), "encodage illisible : ni UTF-8 ni Windows-1252 ; "
                                                                "enregistrez le fichier en « CSV UTF-8 »") from None
    if _UTF8_SEQUENCE.search(data):
        raise UnreadableFile(_line_of(data, first_bad), "encodage illisible : le fichier mélange UTF-8 et "
                                                        "Windows-1252 (copier-coller entre deux fichiers ?) ; "
                                                        "enregistrez-le en « CSV UTF-8 »")
    return _refuse_controls(text), "Windows-1252"


def _refuse_controls(text: str) -> str:
    if match := _CONTROL.search(text):
        raise UnreadableFile(text.count("\n", 0, match.start()) + 1,
                             "caractère de contrôle inattendu : ce n'est pas un fichier CSV texte")
    return text


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def heading(name: str) -> str:
    """« Prénom » → « prenom », « Site ID » → « site_id »: headings typed by hand keep accents and capitals."""
    stripped = strip_accents(clean(name).lower())
    return re.sub(r"[\s\-]+", "_", stripped)


def strip_accents(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def clean(value: str) -> str:
    """Trim spaces, including the non-breaking ones French Excel puts in numbers and names."""
    return value.replace("\u00a0", " ").replace("\u202f", " ").replace("\ufeff", "").strip()


@dataclass
class Table:
    """The header (as ``heading`` reads it, "" for an empty one) and the records after it."""

    delimiter: str
    header_line: int
    header: list[str]
    records: Iterator[tuple[int, list[str]]]  # (line where the record starts, raw values); blank ones skipped


def read_table(text: str, columns: tuple[str, ...]) -> Table:
    """Split the text; the separator is the one that makes the header name the most known ``columns``.

    Reading the records may raise UnreadableFile (an unclosed quote...), naming the line.
    """
    lines = text.splitlines(keepends=True)
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    if first == len(lines):
        raise UnreadableFile(None, "fichier vide : la première ligne doit être l'en-tête des colonnes")
    if match := re.fullmatch(r"sep=(.)\s*", lines[first].strip("\ufeff")):
        delimiter = match.group(1)
        first += 1
    else:
        delimiter = _delimiter(lines[first], columns)
    # strict: a quote opened and never closed (at the end of the file too) is an error naming its line,
    # not the rest of the file swallowed into one cell.
    reader = csv.reader(io.StringIO("".join(lines[first:]), newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise UnreadableFile(first + 1, _unreadable(exc)) from None
    if header is None:
        raise UnreadableFile(None, "aucun en-tête")
    return Table(delimiter, first + 1, [heading(name) for name in header], _records(reader, first))


def _records(reader, first: int) -> Iterator[tuple[int, list[str]]]:
    lines_read = reader.line_num
    try:
        for values in reader:
            line = first + lines_read + 1  # where this record starts, as an editor numbers lines
            lines_read = reader.line_num
            if any(value.strip() for value in values):  # not a blank line, nor Excel's ";;;;" line
                yield line, values
    except csv.Error as exc:
        raise UnreadableFile(first + lines_read + 1, _unreadable(exc)) from None


def _unreadable(error: csv.Error) -> str:
    """What Python's csv module says, as staff can act on it."""
    said = str(error)
    if "unexpected end of data" in said:
        return "guillemet ouvert jamais refermé : la cellule court jusqu'à la fin du fichier"
    if "expected after" in said:
        return "du texte suit un guillemet fermant : mettez toute la cellule entre guillemets"
    return f"ligne illisible ({said})"


def _delimiter(header: str, columns: tuple[str, ...]) -> str:
    scores = {}
    for delimiter in (";", ","):
        names = next(csv.reader([header], delimiter=delimiter), [])
        scores[delimiter] = sum(heading(name) in columns for name in names)
    if scores[";"] != scores[","]:
        return max(scores, key=scores.__getitem__)
    try:
        return csv.Sniffer().sniff(header, delimiters=";,").delimiter
    except csv.Error:
        return ","
