"""Reading the stock: levels with alerts and months of stock, and the month's figures.

Levels read the lots' running balances (a few dozen rows); the month's figures are recounted from
the moves (``stock_move``) alone, so the monthly page is also the check that the balances are right.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

from appliance.clinical.pcime import Medicine, formulary
from appliance.stock.models import NO_LOT
from appliance.store.db import database

CONSUMPTION_MONTHS = 3  # average monthly use over the last three months
EXPIRY_WARNING_DAYS = 90
LOW_MONTHS = 1.0  # less than a month of stock left: order now


@dataclass
class Level:
    medicine: Medicine
    on_hand: int = 0
    usable: int = 0  # not expired
    expired: int = 0
    next_expiry: dt.date | None = None  # the soonest expiry of a lot still in stock
    used_recently: int = 0  # dispensed over the last CONSUMPTION_MONTHS months
    alerts: list[str] = field(default_factory=list)

    @property
    def monthly_use(self) -> float:
        return self.used_recently / CONSUMPTION_MONTHS

    @property
    def months_of_stock(self) -> float | None:
        return round(self.usable / self.monthly_use, 1) if self.monthly_use else None

    @property
    def severity(self) -> int:
        """0: stock-out or expired on the shelf, 1: low or expiring soon, 2: fine."""
        if (self.usable <= 0 and self.used_recently) or self.expired:
            return 0
        return 1 if self.alerts else 2


def levels(today: dt.date) -> list[Level]:
    """One line per medicine of the list, alerts first."""
    book = formulary()
    result = {code: Level(medicine) for code, medicine in book.medicines.items()}
    # The lots' balances: each is kept equal to the sum of its moves in the move's transaction
    # (tests check both ways); the month's page recounts from the moves themselves.
    rows = database.execute_sql("SELECT medicine, lot, expires_on, on_hand FROM stock_lot WHERE on_hand != 0")
    for code, lot, expires_on, quantity in rows:
        level = result.get(code)
        if level is None:
            continue
        expiry = dt.date.fromisoformat(expires_on) if expires_on else None
        level.on_hand += quantity
        if lot != NO_LOT and expiry is not None and expiry <= today and quantity > 0:
            level.expired += quantity
        else:
            level.usable += quantity
            if quantity > 0 and expiry and (level.next_expiry is None or expiry < level.next_expiry):
                level.next_expiry = expiry
    since = _months_before(today, CONSUMPTION_MONTHS)
    for code, used in database.execute_sql(
            "SELECT medicine, -SUM(quantity) FROM stock_move WHERE kind = 'dispensation' AND moved_on > ? "
            "AND moved_on <= ? GROUP BY medicine", (since.isoformat(), today.isoformat())):
        if code in result:
            result[code].used_recently = used or 0
    for level in result.values():
        unit = level.medicine.unit
        if level.usable <= 0 and (level.used_recently or level.on_hand):
            level.alerts.append("Rupture de stock")
        elif level.months_of_stock is not None and level.months_of_stock < LOW_MONTHS:
            level.alerts.append(f"Moins d'un mois de stock ({level.usable} {unit})")
        if level.expired:
            level.alerts.append(f"{level.expired} {unit} périmé(s) à retirer")
        if level.next_expiry and (level.next_expiry - today).days <= EXPIRY_WARNING_DAYS:
            level.alerts.append(f"Lot périmé le {level.next_expiry:%d/%m/%Y}")
        if level.usable < 0:
            level.alerts.append("Stock négatif : faire l'inventaire")
    return sorted(result.values(), key=lambda level: (level.severity, level.medicine.dci, level.medicine.strength))


def _months_before(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


@dataclass
class MonthLine:
    """The stock lines of the monthly report for one product."""

    medicine: Medicine
    start: int = 0
    received: int = 0
    used: int = 0
    losses: int = 0
    adjustments: int = 0  # inventory variances and returns
    end: int = 0
    days_out: int = 0  # days of the month ending with no stock

    @property
    def moved(self) -> bool:
        return bool(self.start or self.received or self.used or self.losses or self.adjustments or self.end)


def month(year: int, month_number: int, today: dt.date) -> list[MonthLine]:
    """Start, received, used, losses, adjustments, end and days out of stock, from the moves."""
    first = dt.date(year, month_number, 1)
    last = dt.date(year, month_number, calendar.monthrange(year, month_number)[1])
    counted_until = min(last, today)
    book = formulary()
    lines = {code: MonthLine(medicine) for code, medicine in book.medicines.items()}
    for code, start in database.execute_sql(
            "SELECT medicine, SUM(quantity) FROM stock_move WHERE moved_on < ? GROUP BY medicine",
            (first.isoformat(),)):
        if code in lines:
            lines[code].start = start or 0
    daily: dict[str, dict[dt.date, int]] = {}
    for code, kind, day, quantity in database.execute_sql(
            "SELECT medicine, kind, moved_on, SUM(quantity) FROM stock_move WHERE moved_on BETWEEN ? AND ? "
            "GROUP BY medicine, kind, moved_on", (first.isoformat(), last.isoformat())):
        line = lines.get(code)
        if line is None:
            continue
        if kind == "reception":
            line.received += quantity
        elif kind == "dispensation":
            line.used -= quantity
        elif kind in ("perte", "peremption"):
            line.losses -= quantity
        else:
            line.adjustments += quantity
        per_day = daily.setdefault(code, {})
        when = dt.date.fromisoformat(day)
        per_day[when] = per_day.get(when, 0) + quantity
    for code, line in lines.items():
        line.end = line.start + line.received - line.used - line.losses + line.adjustments
        balance, moves = line.start, daily.get(code, {})
        stocked = bool(line.start) or _ever_stocked(code, first)  # before its first receipt a product is not "out"
        day = first
        while day <= counted_until:
            balance += moves.get(day, 0)
            stocked = stocked or day in moves
            line.days_out += stocked and balance <= 0
            day += dt.timedelta(days=1)
    return sorted(lines.values(), key=lambda line: (not line.moved, line.medicine.dci, line.medicine.strength))


def _ever_stocked(code: str, before: dt.date) -> bool:
    return bool(database.execute_sql("SELECT 1 FROM stock_move WHERE medicine = ? AND moved_on < ? LIMIT 1",
                                     (code, before.isoformat())).fetchone())


def dispensed(prescription_ids: list[int]) -> set[int]:
    """Which of these prescription lines were handed over."""
    if not prescription_ids:
        return set()
    marks = ", ".join("?" for _ in prescription_ids)
    return {row[0] for row in database.execute_sql(
        f"SELECT DISTINCT prescription_id FROM stock_move WHERE prescription_id IN ({marks}) "
        "AND kind = 'dispensation'", prescription_ids)}
