"""The dépôt de vente's stock of essential medicines: receipts, dispensing, counts, losses.

Every change is a move (``stock_move``) with its author, written through the audit path; each
lot's balance (``stock_lot``) is updated in the same IMMEDIATE transaction, so two nurses
dispensing at once never both take the last box, and a power cut leaves both or neither.
Reports recount from the moves alone. Medicines are those of
``appliance/clinical/data/medicaments_essentiels.toml``.
"""
