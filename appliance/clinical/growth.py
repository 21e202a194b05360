"""WHO Child Growth Standards (2006) z-scores from the WHO LMS tables.

The tables live in ``data/who/*.csv`` (see the README there for their source). They are parsed lazily,
once per indicator, into ``array('d')`` columns: the five tables take about 300 kB in memory, which
matters on a 512 MB Raspberry Pi.

Conventions follow WHO's own software (the ``anthro`` R package and the igrowup macros):
age in whole days (rounded half up), weight-for-length/height rows every 0.1 cm with linear
interpolation of L, M and S in between, and the *restricted application of the LMS method* beyond
±3 SD for the weight-based indicators (WHO 2006, Methods and development, chapter 7): outside ±3 SD
the distance is measured in units of the 2-to-3 SD gap at that age, because the fitted LMS curve is
not trusted that far out.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

Indicator = Literal["wfa", "lhfa", "wfl", "wfh", "bfa"]
Sex = Literal["M", "F"]

DATA_DIR = Path(__file__).with_name("data") / "who"
DAYS_PER_MONTH = 365.25 / 12  # WHO's ANTHRO_DAYS_OF_MONTH (30.4375)
LENGTH_TO_HEIGHT_CM = 0.7  # recumbent length is 0.7 cm longer than standing height (WHO 2006)
HEIGHT_FROM_DAYS = 731  # from 24 months, WHO uses standing height
MAX_AGE_DAYS = 1856  # last row of WHO's day-indexed tables (61 months): the curves are drawn that far
ZSCORE_BEFORE_MONTHS = 60  # anthro >= 0.9.3 computes no z-score from 60 months of age (unrounded months)
STANDING_FROM_MONTHS = 9  # a standing measure before 9 months (unrounded) is an implausible position

# Indicators whose z-score beyond ±3 SD uses the restricted LMS application (WHO: not length/height).
RESTRICTED = frozenset({"wfa", "wfl", "wfh", "bfa"})

# WHO flags z-scores beyond these limits as biologically implausible (anthro_zscores documentation).
IMPLAUSIBLE_LIMITS: dict[str, tuple[float, float]] = {
    "lhfa": (-6.0, 6.0),
    "wfa": (-6.0, 5.0),
    "wfl": (-5.0, 5.0),
    "wfh": (-5.0, 5.0),
    "bfa": (-5.0, 5.0),
}

_NAMES_FR = {
    "wfa": "poids pour âge",
    "lhfa": "taille pour âge",
    "wfl": "poids pour taille couchée",
    "wfh": "poids pour taille debout",
    "bfa": "IMC pour âge",
}


@dataclass(frozen=True, slots=True)
class LmsTable:
    """One indicator for one sex: rows at ``first + i * step`` for i in range(len(l))."""

    first: float
    step: float
    l: array  # noqa: E741 - WHO's own name for the Box-Cox power
    m: array
    s: array

    @property
    def last(self) -> float:
        return self.first + (len(self.l) - 1) * self.step

    def lms_at(self, x: float) -> tuple[float, float, float]:
        """L, M, S at ``x``, linearly interpolated between rows (x must be inside the table)."""
        position = round((x - self.first) / self.step, 6)
        index = math.floor(position)
        fraction = position - index
        if fraction == 0 or index + 1 >= len(self.l):
            return self.l[index], self.m[index], self.s[index]
        return (
            self.l[index] + fraction * (self.l[index + 1] - self.l[index]),
            self.m[index] + fraction * (self.m[index + 1] - self.m[index]),
            self.s[index] + fraction * (self.s[index + 1] - self.s[index]),
        )


def _parse_table_file(path: Path) -> dict[str, LmsTable]:
    """Read one WHO CSV; fail loudly if rows are not contiguous, since lookups index by position."""
    columns: dict[str, tuple[list[float], array, array, array]] = {}
    with path.open(encoding="utf-8") as handle:
        header_seen = False
        for line_number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not header_seen:
                header_seen = True
                continue
            fields = line.split(",")
            if len(fields) != 5 or fields[0] not in ("M", "F"):
                raise ValueError(f"{path.name} ligne {line_number} : ligne invalide {line!r}")
            keys, l_col, m_col, s_col = columns.setdefault(
                fields[0], ([], array("d"), array("d"), array("d"))
            )
            keys.append(float(fields[1]))
            l_col.append(float(fields[2]))
            m_col.append(float(fields[3]))
            s_col.append(float(fields[4]))
    tables = {}
    for sex, (keys, l_col, m_col, s_col) in columns.items():
        step = round(keys[1] - keys[0], 6)
        for index, key in enumerate(keys):
            if abs(key - (keys[0] + index * step)) > 1e-6:
                raise ValueError(f"{path.name} : rangée {key} manquante ou déplacée ({sex})")
        tables[sex] = LmsTable(first=keys[0], step=step, l=l_col, m=m_col, s=s_col)
    if set(tables) != {"M", "F"}:
        raise ValueError(f"{path.name} : il faut les deux sexes M et F")
    return tables


@cache
def _tables(indicator: str) -> dict[str, LmsTable]:
    return _parse_table_file(DATA_DIR / f"{indicator}.csv")


def table(indicator: Indicator, sex: Sex) -> LmsTable:
    """The LMS table of one indicator and sex (loaded on first use)."""
    _check_indicator(indicator)
    _check_sex(sex)
    return _tables(indicator)[sex]


def round_age_days(age_days: float) -> int:
    """Whole days the way WHO's anthro does it: halves go up (730.5 days -> 731)."""
    return math.floor(age_days + 0.5)


def zscore(indicator: Indicator, sex: Sex, age_days: float | None, value: float,
           length_cm: float | None = None) -> float:
    """z-score of ``value`` against the WHO standard, rounded to 2 decimals.

    ``value`` is the weight in kg (wfa, wfl, wfh), the length/height in cm (lhfa) or the BMI in kg/m²
    (bfa). For wfl/wfh ``length_cm`` selects the row (length lying down for wfl, standing height for
    wfh) and ``age_days`` may be None. As in WHO's anthro, no z-score is given from 60 months of age
    (the day tables run to 1856 days, but the standard is for children under 5).
    Raises ValueError, with a French message, for anything outside the WHO standard.
    """
    _check_indicator(indicator)
    _check_sex(sex)
    _check_positive(value, "valeur")
    if age_days is not None:
        _check_under_five(age_days)
    if indicator in ("wfl", "wfh"):
        if age_days is not None:
            _checked_age(age_days, MAX_AGE_DAYS)
        if length_cm is None:
            raise ValueError(f"{_NAMES_FR[indicator]} : la taille (length_cm) est obligatoire")
        x = _checked_length(indicator, sex, length_cm)
    else:
        if age_days is None:
            raise ValueError(f"{_NAMES_FR[indicator]} : l'âge en jours est obligatoire")
        x = _checked_age(age_days, _tables(indicator)[sex].last)
    l, m, s = _tables(indicator)[sex].lms_at(x)  # noqa: E741
    z = _lms_z(value, l, m, s)
    if indicator in RESTRICTED and abs(z) > 3:
        z = _restricted_z(value, z, l, m, s)
    return round(z, 2)


def value_at_z(indicator: Indicator, sex: Sex, x: float, z: float) -> float:
    """The measurement that lies at ``z`` SD for age in days (or length in cm for wfl/wfh).

    Used to draw the WHO reference curves (−3 … +3) on a growth chart.
    """
    _check_indicator(indicator)
    _check_sex(sex)
    lms = _tables(indicator)[sex]
    point = _checked_length(indicator, sex, x) if indicator in ("wfl", "wfh") else _checked_age(x, lms.last)
    l, m, s = lms.lms_at(point)  # noqa: E741
    return _lms_value(l, m, s, z)


def is_implausible(indicator: Indicator, z: float) -> bool:
    """True when WHO would flag this z-score as a probable measurement or entry error."""
    low, high = IMPLAUSIBLE_LIMITS[indicator]
    return z < low or z > high


@dataclass(frozen=True, slots=True)
class Anthropometry:
    """All z-scores of one measurement, with WHO's clean-up of length/height applied.

    A z-score is None when it cannot be computed (measure missing, outside the WHO tables, or weight
    inflated by oedema). ``implausible`` names the indicators WHO would flag for re-measuring.
    """

    age_days: int | None
    lenhei_cm: float | None  # length below 731 days, height from 731 days, after the ±0.7 cm shift
    measure: Literal["l", "h"] | None
    bmi: float | None
    waz: float | None
    haz: float | None
    whz: float | None
    whz_indicator: Literal["wfl", "wfh"] | None
    baz: float | None
    implausible: tuple[str, ...]


def anthropometry(sex: Sex, age_days: float | None, weight_kg: float | None = None,
                  lenhei_cm: float | None = None, measure: Literal["l", "h"] | None = None,
                  oedema: bool = False) -> Anthropometry:
    """Every WHO z-score for one visit, applying the conventions of WHO's anthro software.

    Below 731 days WHO works with recumbent length, from 731 days with standing height: a height
    measured standing before 2 years gets +0.7 cm, a length measured lying after 2 years −0.7 cm. A
    standing measure before 9 months is treated as not stated (WHO: implausible position). Without
    age, a measure below 87 cm is taken as a length. With bilateral oedema, weight-based z-scores are
    not computed (the weight includes the fluid); the child is classified as SAM anyway. From 60
    months of age no z-score is computed (anthro ≥ 0.9.3).
    """
    _check_sex(sex)
    days = round_age_days(age_days) if age_days is not None else None
    scored = age_days is None or _under_five(age_days)
    if measure is not None and measure not in ("l", "h"):
        raise ValueError(f"mesure {measure!r} inconnue : 'l' (couché) ou 'h' (debout)")
    if measure == "h" and age_days is not None and age_days / DAYS_PER_MONTH < STANDING_FROM_MONTHS:
        measure = None
    clean = lenhei_cm
    if lenhei_cm is not None and days is not None:
        if days < HEIGHT_FROM_DAYS and measure == "h":
            clean = lenhei_cm + LENGTH_TO_HEIGHT_CM
        elif days >= HEIGHT_FROM_DAYS and measure == "l":
            clean = lenhei_cm - LENGTH_TO_HEIGHT_CM
    if days is not None:
        used_measure: Literal["l", "h"] | None = "l" if days < HEIGHT_FROM_DAYS else "h"
    elif measure is not None:
        used_measure = measure
    elif lenhei_cm is not None:
        used_measure = "l" if lenhei_cm < 87 else "h"
    else:
        used_measure = None
    bmi = weight_kg / (clean / 100) ** 2 if weight_kg and clean else None
    weight = None if oedema or not scored else weight_kg
    whz_indicator: Literal["wfl", "wfh"] | None = (
        None if used_measure is None else ("wfl" if used_measure == "l" else "wfh")
    )
    waz = _maybe(lambda: zscore("wfa", sex, days, weight)) if weight and days is not None else None
    haz = _maybe(lambda: zscore("lhfa", sex, days, clean)) if scored and clean and days is not None else None
    whz = (
        _maybe(lambda: zscore(whz_indicator, sex, days, weight, length_cm=clean))
        if weight and clean and whz_indicator
        else None
    )
    baz = (
        _maybe(lambda: zscore("bfa", sex, days, weight / (clean / 100) ** 2))
        if weight and clean and days is not None
        else None
    )
    flagged = tuple(
        name
        for name, z in (("wfa", waz), ("lhfa", haz), (whz_indicator, whz), ("bfa", baz))
        if z is not None and name is not None and is_implausible(name, z)
    )
    return Anthropometry(
        age_days=days, lenhei_cm=clean, measure=used_measure, bmi=bmi, waz=waz, haz=haz,
        whz=whz, whz_indicator=whz_indicator if whz is not None else None, baz=baz,
        implausible=flagged,
    )


def _maybe(compute) -> float | None:
    """A z-score, or None when the measurement lies outside the WHO tables."""
    try:
        return compute()
    except ValueError:
        return None


def _lms_z(y: float, l: float, m: float, s: float) -> float:  # noqa: E741
    if abs(l) < 1e-10:
        return math.log(y / m) / s
    return ((y / m) ** l - 1) / (l * s)


def _lms_value(l: float, m: float, s: float, z: float) -> float:  # noqa: E741
    if abs(l) < 1e-10:
        return m * math.exp(s * z)
    return m * (1 + l * s * z) ** (1 / l)


def _restricted_z(y: float, z: float, l: float, m: float, s: float) -> float:  # noqa: E741
    """WHO's restricted LMS application: beyond ±3 SD, count in units of the 2-to-3 SD distance."""
    if z > 3:
        sd3 = _lms_value(l, m, s, 3)
        return 3 + (y - sd3) / (sd3 - _lms_value(l, m, s, 2))
    sd3neg = _lms_value(l, m, s, -3)
    return -3 + (y - sd3neg) / (_lms_value(l, m, s, -2) - sd3neg)


def _check_indicator(indicator: str) -> None:
    if indicator not in _NAMES_FR:
        raise ValueError(f"indicateur {indicator!r} inconnu : wfa, lhfa, wfl, wfh ou bfa")


def _check_sex(sex: str) -> None:
    if sex not in ("M", "F"):
        raise ValueError(f"sexe {sex!r} invalide : 'M' ou 'F'")


def _check_positive(value: float, name: str) -> None:
    if value is None or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} {value!r} invalide : un nombre positif est attendu")


def _under_five(age_days: float) -> bool:
    """anthro compares the unrounded age in months: 1826 days (59.99 months) has z-scores, 1826.25 none."""
    return not age_days / DAYS_PER_MONTH >= ZSCORE_BEFORE_MONTHS


def _check_under_five(age_days: float) -> None:
    if not _under_five(age_days):
        raise ValueError(f"âge {round_age_days(age_days)} jours : l'OMS ne calcule les z-scores "
                         f"qu'avant {ZSCORE_BEFORE_MONTHS} mois")


def _checked_age(age_days: float, last: float) -> int:
    if age_days is None or not math.isfinite(age_days):
        raise ValueError(f"âge {age_days!r} invalide")
    days = round_age_days(age_days)
    if days < 0 or days > last:
        raise ValueError(f"âge {days} jours hors des tables OMS (0 à {last:g} jours)")
    return days


def _checked_length(indicator: str, sex: str, length_cm: float) -> float:
    if length_cm is None or not math.isfinite(length_cm):
        raise ValueError(f"taille {length_cm!r} invalide")
    lms = _tables(indicator)[sex]
    if length_cm < lms.first - 1e-9 or length_cm > lms.last + 1e-9:
        kind = "taille couchée" if indicator == "wfl" else "taille debout"
        raise ValueError(
            f"{_NAMES_FR[indicator]} : {kind} {length_cm:g} cm hors des tables OMS "
            f"({lms.first:g} à {lms.last:g} cm)"
        )
    return length_cm
