"""Writing stock moves: receipts, dispensing (first expiry, first out), counts and losses.

Each function takes the write lock first (``BEGIN IMMEDIATE``), reads the lots, writes the
moves with their audit entries and the lots' new balances, and commits: two dispensings at the
same moment are serialised by SQLite, so neither reads a balance the other is changing, and a
kill at any instant leaves the moves and the balances in step (one transaction). A balance
never goes below zero unless a reason is given (a box dispensed before it was entered): the
shortfall then goes to the medicine's "no lot" line, to be put right at the next count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from appliance.clinical.pcime import Medicine, formulary
from appliance.refusal import FieldRefusal
from appliance.stock.models import MOVE_KINDS, NO_LOT, StockLot, StockMove
from appliance.store.audit import Actor, audited_save
from appliance.store.db import database

MAX_QUANTITY = 100_000
LOSS_KINDS = ("perte", "peremption")


class StockError(FieldRefusal):
    """A move refused, with the form field it concerns and a French message."""


@dataclass(frozen=True)
class DispenseLine:
    """One prescription line to hand over: its id (or None for a sale without prescription)."""

    medicine: str
    quantity: int
    prescription_id: int | None = None


def medicine(code: str) -> Medicine:
    found = formulary().medicines.get(code)
    if found is None:
        raise StockError("medicine", f"Produit inconnu de la liste des médicaments essentiels : « {code} ».")
    return found


def _check_quantity(quantity: int, field: str = "quantity") -> None:
    if not isinstance(quantity, int) or not 0 < quantity <= MAX_QUANTITY:
        raise StockError(field, f"Quantité attendue entre 1 et {MAX_QUANTITY}.")


def _check_date(moved_on: dt.date, today: dt.date | None) -> None:
    today = today or dt.date.today()
    if moved_on > today:
        raise StockError("moved_on", "La date est dans le futur.")
    if moved_on < today - dt.timedelta(days=366):
        raise StockError("moved_on", "Date de plus d'un an : vérifiez l'année.")


def _move(actor: Actor, lot: StockLot, kind: str, quantity: int, moved_on: dt.date, *, reason: str = "",
          reference: str = "", counted: int | None = None, prescription_id: int | None = None,
          patient_id: int | None = None) -> StockMove:
    assert kind in MOVE_KINDS
    move = StockMove(lot=lot.id, medicine=lot.medicine, kind=kind, quantity=quantity, moved_on=moved_on,
                     reason=reason.strip(), reference=reference.strip(), counted=counted,
                     prescription_id=prescription_id, patient_id=patient_id, author=actor.user_id,
                     author_role=actor.role)
    audited_save(actor, move, reason=reason.strip() or None)
    StockLot.update(on_hand=StockLot.on_hand + quantity).where(StockLot.id == lot.id).execute()
    lot.on_hand += quantity
    return move


def _lot(code: str, lot: str, expires_on: dt.date | None) -> StockLot:
    query = StockLot.select().where((StockLot.medicine == code) & (StockLot.lot == lot))
    query = query.where(StockLot.expires_on.is_null() if expires_on is None else StockLot.expires_on == expires_on)
    found = query.first()
    return found or StockLot.create(medicine=code, lot=lot, expires_on=expires_on, on_hand=0)


def receive(actor: Actor, code: str, quantity: int, *, lot: str, expires_on: dt.date | None, moved_on: dt.date,
            reference: str = "", today: dt.date | None = None) -> StockMove:
    """A delivery from the district depot (or a purchase) enters the stock."""
    medicine(code)
    _check_quantity(quantity)
    _check_date(moved_on, today)
    lot = (lot or "").strip()
    if not lot:
        raise StockError("lot", "Le numéro de lot est obligatoire (il est sur la boîte).")
    if expires_on is None:
        raise StockError("expires_on", "La date de péremption est obligatoire.")
    if expires_on <= moved_on:
        raise StockError("expires_on", "Ce lot est déjà périmé : ne le mettez pas en stock.")
    with database.atomic("IMMEDIATE"):
        return _move(actor, _lot(code, lot, expires_on), "reception", quantity, moved_on, reference=reference)


def usable_lots(code: str, on: dt.date) -> list[StockLot]:
    """Lots that can be dispensed on ``on``: in stock and not expired, first expiry first."""
    return list(StockLot.select().where((StockLot.medicine == code) & (StockLot.on_hand > 0)
                                        & (StockLot.lot != NO_LOT)
                                        & (StockLot.expires_on.is_null() | (StockLot.expires_on > on)))
                .order_by(StockLot.expires_on.asc(nulls="LAST"), StockLot.id))


def _dispense_one(actor: Actor, line: DispenseLine, moved_on: dt.date, patient_id: int | None,
                  reason: str) -> list[StockMove]:
    medicine(line.medicine)
    _check_quantity(line.quantity)
    if line.prescription_id is not None and StockMove.select().where(
            (StockMove.prescription_id == line.prescription_id) & (StockMove.kind == "dispensation")).exists():
        raise StockError("quantity", "Cette ligne d'ordonnance a déjà été délivrée.")
    moves, left = [], line.quantity
    for lot in usable_lots(line.medicine, moved_on):
        taken = min(left, lot.on_hand)
        moves.append(_move(actor, lot, "dispensation", -taken, moved_on, reason=reason,
                           prescription_id=line.prescription_id, patient_id=patient_id))
        left -= taken
        if not left:
            return moves
    if not reason.strip():
        unit = medicine(line.medicine).unit
        available = line.quantity - left
        raise StockError("quantity", f"{medicine(line.medicine).label} : stock insuffisant ({available} {unit} "
                                     f"disponible(s) hors périmés, {line.quantity} demandé(s)). Donnez un motif "
                                     "pour délivrer quand même.")
    moves.append(_move(actor, _lot(line.medicine, NO_LOT, None), "dispensation", -left, moved_on, reason=reason,
                       prescription_id=line.prescription_id, patient_id=patient_id))
    return moves


def dispense(actor: Actor, lines: Sequence[DispenseLine], *, moved_on: dt.date, patient_id: int | None = None,
             reason: str = "", today: dt.date | None = None) -> list[StockMove]:
    """Hand over every line, all or none; a line already dispensed or short of stock stops them all."""
    _check_date(moved_on, today)
    if not lines:
        raise StockError("quantity", "Rien à délivrer.")
    with database.atomic("IMMEDIATE"):
        moves: list[StockMove] = []
        for line in lines:
            moves += _dispense_one(actor, line, moved_on, patient_id, reason)
        return moves


def count(actor: Actor, lot_id: int, counted: int, *, moved_on: dt.date, reason: str = "",
          today: dt.date | None = None) -> StockMove | None:
    """A physical count of one lot: the variance becomes a move, with its reason when not zero."""
    _check_date(moved_on, today)
    if not isinstance(counted, int) or not 0 <= counted <= MAX_QUANTITY:
        raise StockError("counted", f"Quantité comptée attendue entre 0 et {MAX_QUANTITY}.")
    with database.atomic("IMMEDIATE"):
        lot = StockLot.get_or_none(StockLot.id == lot_id)
        if lot is None:
            raise StockError("counted", "Lot inconnu.")
        variance = counted - lot.on_hand
        if variance == 0:
            audited_save(actor, StockMove(lot=lot.id, medicine=lot.medicine, kind="inventaire", quantity=0,
                                          moved_on=moved_on, counted=counted, author=actor.user_id,
                                          author_role=actor.role))
            return None
        if not reason.strip():
            raise StockError("reason", f"Écart de {variance:+d} avec le stock théorique ({lot.on_hand}) : "
                                       "indiquez le motif.")
        return _move(actor, lot, "inventaire", variance, moved_on, counted=counted, reason=reason)


def remove(actor: Actor, lot_id: int, quantity: int, *, kind: str, reason: str, moved_on: dt.date,
           today: dt.date | None = None) -> StockMove:
    """Take out a loss (broken, stolen) or an expired lot, with its reason."""
    if kind not in LOSS_KINDS:
        raise StockError("kind", "Type de sortie inconnu.")
    _check_quantity(quantity)
    _check_date(moved_on, today)
    if not reason.strip():
        raise StockError("reason", "Le motif est obligatoire.")
    with database.atomic("IMMEDIATE"):
        lot = StockLot.get_or_none(StockLot.id == lot_id)
        if lot is None:
            raise StockError("quantity", "Lot inconnu.")
        if quantity > lot.on_hand:
            raise StockError("quantity", f"Il n'y a que {lot.on_hand} en stock dans ce lot.")
        return _move(actor, lot, kind, -quantity, moved_on, reason=reason)
