"""Name keys that let one Malian name match however it was written.

The same woman is "Fatoumata Traoré" in the curative register, "Fatumata Tarawele" on her
child's card and "FATOUMATA TRAORE" in the CPN book. Names are stored as typed; these keys
are what duplicate detection and search compare: case and accents folded (NFKD, combining
marks dropped), Bambara letters (ɛ, ɔ, ɲ, ŋ) spelled in Latin, then a few spelling rules of
French versus Manding orthography (ou/u, dj/j, ch/sh, c/k, y/i, doubled letters), then the
small table of spellings the rules cannot see (``data/name_variants.csv``).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path

VARIANTS_FILE = Path(__file__).with_name("data") / "name_variants.csv"

_LETTERS = str.maketrans({"ɛ": "e", "Ɛ": "e", "ɔ": "o", "Ɔ": "o", "ɲ": "ny", "Ɲ": "ny", "ŋ": "ng", "Ŋ": "ng",
                          "œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss", "ø": "o", "đ": "d"})
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_NASAL_LETTERS = ("n", "m")
_NASAL_PREFIX = re.compile(r"^[mn](?=[bcdfghjklpqrstvwxz])")  # Ndiaye, Mbaye, Ngolo; not Nana, Nyeleni

# (pattern, replacement) applied in this order to one folded word.
_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^h(?=[aeiou])"), ""),  # Hawa / Awa, Haïdara / Aïdara
    (re.compile(r"(?<=[a-z]{2})h$"), ""),  # Fofanah / Fofana, Bah / Ba
    (re.compile(r"d[jy]"), "j"),  # Djénéba / Jeneba, Dyarra
    (re.compile(r"di(?=[aeou])"), "j"),  # Diarra / Jara, Diallo / Jalo (Manding orthography)
    (re.compile(r"ch"), "sh"),
    (re.compile(r"kh"), "k"),  # Diakhité / Diakité
    (re.compile(r"qu"), "k"),
    (re.compile(r"c(?=[eiy])"), "s"),  # Cissé / Sise
    (re.compile(r"c"), "k"),  # Coulibaly / Kulibali, Camara / Kamara
    (re.compile(r"ph"), "f"),
    (re.compile(r"ou(?=[aeio])"), "w"),  # Ouattara / Wattara, Ouologuem / Wologem
    (re.compile(r"ou"), "u"),  # Moussa / Musa, Touré / Ture
    (re.compile(r"gu(?=[ei])"), "g"),  # Ouologuem / Wologem
    (re.compile(r"y"), "i"),  # Coulibaly / Kulibali, Keyita / Keita
    (re.compile(r"([a-z])\1+"), r"\1"),  # Diarra / Diara, Sissoko / Sisoko
]


def fold(text: str) -> str:
    """Lower case, accents and Bambara letters folded, anything else than a-z0-9 turned into one space."""
    text = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower().translate(_LETTERS)
    return _NOT_ALNUM.sub(" ", text).strip()


def spelling_key(word: str) -> str:
    """One folded word through the spelling rules only (no variant table)."""
    for pattern, replacement in _RULES:
        word = pattern.sub(replacement, word)
    return word


@cache
def _variants() -> dict[str, str]:
    """spelling key of every listed variant → spelling key of its canonical form."""
    table: dict[str, str] = {}
    with VARIANTS_FILE.open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        for row in rows:
            canonical = spelling_key(fold(row["canonical"]))
            for variant in row["variants"].split():
                key = spelling_key(fold(variant))
                if key == canonical:
                    continue
                if table.get(key, canonical) != canonical:
                    raise ValueError(f"{VARIANTS_FILE.name}: « {variant} » appartient à deux noms")
                table[key] = canonical
    return table


def name_key(word: str) -> str:
    """The key of one name word: "Tarawelé", "TRAORE" and "Traoré" all give "traore"."""
    key = spelling_key(fold(word).replace(" ", ""))
    return _variants().get(key, key)


def name_keys(text: str) -> list[str]:
    """Keys of every word of a name, in order ("Awa Fatoumata" → ["awa", "fatumata"])."""
    return [name_key(word) for word in fold(text).split()]


def index_tokens(text: str) -> list[str]:
    """Words to index for search: each word's key, plus its own spelling when a variant mapped it,
    so that typing the start of a variant ("Tarawe…") still finds "Tarawelé"."""
    tokens: list[str] = []
    for word in fold(text).split():
        spelled = spelling_key(word)
        for token in (_variants().get(spelled, spelled), spelled):
            if token not in tokens:
                tokens.append(token)
    return tokens


def joined_words(folded: str) -> list[str]:
    """Words of folded text, a lone "n" or "m" joined to the next word ("n diaye" → "ndiaye").

    A Malian name with a nasal prefix is written "N'Diaye", "N Diaye", "N’Diaye" or "Ndiaye": this
    puts every spelling back into one word before it is compared (search, duplicate detection).
    """
    words: list[str] = []
    for word in folded.split():
        if words and words[-1] in _NASAL_LETTERS and word.isalpha():
            words[-1] += word
        else:
            words.append(word)
    return words


def nasal_spellings(word: str, key: Callable[[str], str]) -> list[str]:
    """The keys one joined word may be stored under: the first three spellings of "N'Diaye" are
    stored as two words ("n jaie"), "Ndiaye" as one ("njaie"); ``key`` is ``name_key`` or
    ``spelling_key``, as for the column compared."""
    spellings = [key(word)]
    if _NASAL_PREFIX.match(word):
        spellings.append(f"{word[0]} {key(word[1:])}")
    return spellings


def place_key(text: str) -> str:
    """Village or quartier key: "Ségou-Koura", "SEGOU KOURA" and "Segou Kura" compare equal."""
    return " ".join(spelling_key(word) for word in fold(text).split())


def digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def phone_key(text: str) -> str:
    """A Malian phone number as its 8 national digits ("+223 76 12 34 56" → "76123456")."""
    number = digits(text)
    for country in ("00223", "223"):
        if number.startswith(country) and len(number) == len(country) + 8:
            return number[len(country):]
    return number


def id_key(text: str) -> str:
    """An identity number (NINA, card number) without spaces, dashes or case."""
    return fold(text).replace(" ", "").upper()
