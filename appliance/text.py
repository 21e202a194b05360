"""Text as typed by people, made one spelling: the rule shared by browser values and imported files.

Unicode goes to NFC, so "é" from two keyboards (or a Mac's decomposed file) is one spelling for
search and duplicates; digits of any script become ASCII digits, so ``int()`` and phone numbers see
what the person meant. Control characters, bidirectional overrides and zero-width characters are
refused: invisible, they can make a name read backwards on a letter or two records look like one.
"""

from __future__ import annotations

import unicodedata

LINE_BREAKS = frozenset("\n\r")
_ALLOWED_CONTROLS = frozenset("\t") | LINE_BREAKS
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})  # controls, format (bidi, zero-width), unassigned


class InvisibleCharacter(ValueError):
    """The value holds a control or invisible character (``character``), which is refused."""

    def __init__(self, character: str) -> None:
        super().__init__(f"caractère invisible ou de contrôle (U+{ord(character):04X})")
        self.character = character


def clean_text(value: str) -> str:
    """The value in NFC with ASCII digits; raises InvisibleCharacter (tab and line breaks pass)."""
    if value.isascii():
        for ch in value:
            if (ch < " " and ch not in _ALLOWED_CONTROLS) or ch == "\x7f":
                raise InvisibleCharacter(ch)
        return value
    out = []
    for ch in unicodedata.normalize("NFC", value):
        if ch.isascii():
            if (ch < " " and ch not in _ALLOWED_CONTROLS) or ch == "\x7f":
                raise InvisibleCharacter(ch)
            out.append(ch)
            continue
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            raise InvisibleCharacter(ch)
        digit = unicodedata.digit(ch, None)
        out.append(str(digit) if digit is not None else ch)
    return "".join(out)


def one_line(value: str) -> tuple[str, str | None]:
    """A one-line value of a file (a name, a code): (cleaned, None), or (as given, why not, in French)."""
    if LINE_BREAKS & set(value) or "\t" in value:
        return value, ("retour à la ligne ou tabulation dans la valeur (Alt+Entrée dans Excel ?) : "
                       "mettez-la sur une seule ligne")
    try:
        return clean_text(value), None
    except InvisibleCharacter as refused:
        return value, f"{refused} dans la valeur : retapez-la au clavier, sans copier-coller"
