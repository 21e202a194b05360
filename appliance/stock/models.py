"""Stock tables: one row per lot (its balance) and one per move. Created by the frozen
migration m0070 (keep both in step). Moves are never edited nor deleted: a mistake is put
right by a counter-move with its reason, so the moves always add up to the balance."""

from __future__ import annotations

import peewee

from appliance.store.db import BaseModel
from appliance.store.models import User, utcnow

# Kinds of move and the sign of their quantity.
MOVE_KINDS = {
    "reception": "Réception",
    "dispensation": "Délivrance",
    "inventaire": "Écart d'inventaire",
    "perte": "Perte / casse",
    "peremption": "Périmé retiré",
    "retour": "Retour au dépôt",
}
NO_LOT = ""  # the lot of a dispensing forced below zero (reason recorded): counted at the next inventory


class StockLot(BaseModel):
    """What is on the shelf for one lot of one medicine (the sum of its moves)."""

    medicine = peewee.TextField()  # code in medicaments_essentiels.toml
    lot = peewee.TextField()
    expires_on = peewee.DateField(null=True)
    on_hand = peewee.IntegerField(default=0)

    class Meta:
        table_name = "stock_lot"
        indexes = ((("medicine", "lot", "expires_on"), True),)


class StockMove(BaseModel):
    lot = peewee.ForeignKeyField(StockLot, lazy_load=False, index=False)
    medicine = peewee.TextField()
    kind = peewee.TextField()  # MOVE_KINDS
    quantity = peewee.IntegerField()  # signed: + enters the dépôt, − leaves it
    moved_on = peewee.DateField()
    counted = peewee.IntegerField(null=True)  # inventaire: the physical count
    reference = peewee.TextField(default="")  # bon de livraison, n° de commande
    reason = peewee.TextField(default="")  # required for losses, variances, forced dispensing
    prescription_id = peewee.IntegerField(null=True)  # the prescription line dispensed
    patient_id = peewee.IntegerField(null=True)
    author = peewee.ForeignKeyField(User, null=True, lazy_load=False, index=False)
    author_role = peewee.TextField(default="")
    recorded_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "stock_move"
        indexes = (
            (("medicine", "moved_on"), False),
            (("moved_on",), False),
            (("prescription_id",), False),
        )
