"""The dépôt's stock: receipts, first-expiry-first-out dispensing, counts, losses, the monthly
recount from the moves, and exactness with real processes dispensing at once or killed mid-way."""

import datetime as dt
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from appliance.stock import queries
from appliance.stock.models import StockLot, StockMove
from appliance.stock.service import DispenseLine, StockError, count, dispense, receive, remove
from appliance.store.audit import system_actor
from appliance.store.models import AuditEntry

TODAY = dt.date(2026, 3, 20)
ACTOR = system_actor("tests")


def _receive(code="amox_250_cpd", quantity=100, lot="L1", expires_on=dt.date(2027, 1, 31), on=TODAY):
    return receive(ACTOR, code, quantity, lot=lot, expires_on=expires_on, moved_on=on, today=TODAY)


def _balance(code: str) -> int:
    return sum(lot.on_hand for lot in StockLot.select().where(StockLot.medicine == code))


def _moves_sum(code: str) -> int:
    return sum(move.quantity for move in StockMove.select().where(StockMove.medicine == code))


def test_receipt_needs_lot_and_a_future_expiry(store):
    with pytest.raises(StockError, match="lot"):
        _receive(lot=" ")
    with pytest.raises(StockError, match="périmé"):
        _receive(expires_on=TODAY)
    with pytest.raises(StockError, match="inconnu"):
        _receive(code="aspirine")
    with pytest.raises(StockError, match="futur"):
        _receive(on=TODAY + dt.timedelta(days=1))
    move = _receive()
    assert move.quantity == 100 and _balance("amox_250_cpd") == 100
    assert AuditEntry.select().where(AuditEntry.table_name == "stock_move").count() == 1


def test_dispensing_takes_the_first_expiry_and_never_an_expired_lot(store):
    _receive(lot="TARD", expires_on=dt.date(2027, 6, 30), quantity=50)
    _receive(lot="TOT", expires_on=dt.date(2026, 9, 30), quantity=8)
    _receive(lot="PERIME", expires_on=dt.date(2026, 3, 25), quantity=30, on=dt.date(2026, 1, 5))
    moves = dispense(ACTOR, [DispenseLine("amox_250_cpd", 20, prescription_id=7)], moved_on=dt.date(2026, 3, 26),
                     patient_id=3, today=dt.date(2026, 3, 26))
    assert [(StockLot.get_by_id(move.lot_id).lot, move.quantity) for move in moves] == [("TOT", -8), ("TARD", -12)]
    assert all(move.prescription_id == 7 and move.patient_id == 3 for move in moves)
    with pytest.raises(StockError, match="déjà été délivrée"):
        dispense(ACTOR, [DispenseLine("amox_250_cpd", 1, prescription_id=7)], moved_on=TODAY, today=TODAY)


def test_never_negative_without_a_reason(store):
    _receive(quantity=5)
    with pytest.raises(StockError, match="stock insuffisant \\(5 comprimé disponible"):
        dispense(ACTOR, [DispenseLine("amox_250_cpd", 6)], moved_on=TODAY, today=TODAY)
    assert _balance("amox_250_cpd") == 5  # nothing taken: all or none
    dispense(ACTOR, [DispenseLine("amox_250_cpd", 6)], moved_on=TODAY, reason="boîte reçue non saisie", today=TODAY)
    assert _balance("amox_250_cpd") == -1 == _moves_sum("amox_250_cpd")
    forced = StockMove.select().where(StockMove.quantity == -1).get()
    assert forced.reason == "boîte reçue non saisie"


def test_all_lines_or_none(store):
    _receive(quantity=10)
    with pytest.raises(StockError):
        dispense(ACTOR, [DispenseLine("amox_250_cpd", 4), DispenseLine("zinc_20_cpd", 10)], moved_on=TODAY,
                 today=TODAY)
    assert _balance("amox_250_cpd") == 10 and StockMove.select().count() == 1


def test_count_records_the_variance_with_its_reason(store):
    move = _receive(quantity=40)
    lot_id = move.lot_id
    with pytest.raises(StockError, match="Écart de -3"):
        count(ACTOR, lot_id, 37, moved_on=TODAY, today=TODAY)
    variance = count(ACTOR, lot_id, 37, moved_on=TODAY, reason="casse non notée", today=TODAY)
    assert variance.quantity == -3 and variance.counted == 37
    assert count(ACTOR, lot_id, 37, moved_on=TODAY, today=TODAY) is None  # the count itself is kept
    assert StockMove.select().where(StockMove.kind == "inventaire").count() == 2
    assert _balance("amox_250_cpd") == 37 == _moves_sum("amox_250_cpd")


def test_losses_need_a_reason_and_stock(store):
    lot_id = _receive(quantity=10).lot_id
    with pytest.raises(StockError, match="motif"):
        remove(ACTOR, lot_id, 2, kind="perte", reason=" ", moved_on=TODAY, today=TODAY)
    with pytest.raises(StockError, match="que 10"):
        remove(ACTOR, lot_id, 11, kind="perte", reason="casse", moved_on=TODAY, today=TODAY)
    remove(ACTOR, lot_id, 2, kind="perte", reason="casse", moved_on=TODAY, today=TODAY)
    assert _balance("amox_250_cpd") == 8


def test_levels_months_of_stock_and_alerts(store):
    day = dt.date(2026, 1, 2)
    _receive(quantity=300, on=day, expires_on=dt.date(2026, 5, 1))
    for offset in range(0, 75, 5):  # 15 dispensings of 10 over the last three months
        dispense(ACTOR, [DispenseLine("amox_250_cpd", 10)], moved_on=day + dt.timedelta(days=offset), today=TODAY)
    _receive(code="zinc_20_cpd", quantity=20, on=day, expires_on=dt.date(2026, 3, 1))
    by_code = {level.medicine.code: level for level in queries.levels(TODAY)}
    amox = by_code["amox_250_cpd"]
    assert amox.usable == 150 and amox.used_recently == 150 and amox.months_of_stock == 3.0
    assert amox.alerts == ["Lot périmé le 01/05/2026"]
    zinc = by_code["zinc_20_cpd"]
    assert zinc.expired == 20 and "20 comprimé périmé(s) à retirer" in zinc.alerts
    assert by_code["al_20_120_cp"].alerts == []  # never stocked: no alert
    assert queries.levels(TODAY)[0].medicine.code == "zinc_20_cpd"  # alerts first


def test_month_recounts_from_the_moves_with_days_out_of_stock(store):
    _receive(quantity=30, on=dt.date(2026, 1, 10))
    dispense(ACTOR, [DispenseLine("amox_250_cpd", 10)], moved_on=dt.date(2026, 1, 20), today=TODAY)
    dispense(ACTOR, [DispenseLine("amox_250_cpd", 20)], moved_on=dt.date(2026, 2, 10), today=TODAY)  # out from the 10th
    _receive(quantity=50, on=dt.date(2026, 2, 20), lot="L2")  # back on the 20th
    lot = StockLot.get(StockLot.lot == "L2")
    remove(ACTOR, lot.id, 5, kind="perte", reason="casse", moved_on=dt.date(2026, 2, 21), today=TODAY)
    count(ACTOR, lot.id, 43, moved_on=dt.date(2026, 2, 28), reason="écart", today=TODAY)
    february = {line.medicine.code: line for line in queries.month(2026, 2, TODAY)}["amox_250_cpd"]
    assert (february.start, february.received, february.used, february.losses, february.adjustments,
            february.end) == (20, 50, 20, 5, -2, 43)
    assert february.days_out == 10  # 10th to 19th
    assert february.end == _moves_sum("amox_250_cpd") == _balance("amox_250_cpd")


DISPENSER = textwrap.dedent("""
    import datetime as dt, sys
    from appliance.store import open_and_migrate
    from appliance.stock.service import DispenseLine, StockError, dispense
    from appliance.store.audit import system_actor
    open_and_migrate(sys.argv[1])
    actor = system_actor("poste-" + sys.argv[2])
    day = dt.date.fromisoformat(sys.argv[3])
    done = 0
    while True:
        try:
            dispense(actor, [DispenseLine("amox_250_cpd", 3), DispenseLine("sro_sachet", 1)], moved_on=day, today=day)
        except StockError:
            break
        done += 1
        print(done, flush=True)  # acknowledged only after the commit returned
""")


def _prepare(cfg, amox: int, sro: int) -> None:
    _receive(quantity=amox)
    _receive(code="sro_sachet", quantity=sro, lot="S1")


def test_concurrent_dispensing_from_real_processes_is_exact(cfg, store):
    """Four processes dispense until the stock runs out: every box is given once, none twice."""
    _prepare(cfg, amox=300, sro=1000)
    children = [subprocess.Popen([sys.executable, "-c", DISPENSER, str(cfg.paths.database), str(n), TODAY.isoformat()],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(4)]
    acknowledged = 0
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        acknowledged += len(out.split())
    assert acknowledged == 100  # 300 tablets, 3 at a time
    assert _balance("amox_250_cpd") == 0 == _moves_sum("amox_250_cpd")
    assert _balance("sro_sachet") == 900 == _moves_sum("sro_sachet")
    assert StockMove.select().where(StockMove.kind == "dispensation").count() == 200


@pytest.mark.slow
def test_kill_9_mid_dispense_keeps_moves_and_balances_in_step(cfg, store):
    _prepare(cfg, amox=30_000, sro=10_000)
    path = str(cfg.paths.database)
    acknowledged = 0
    for round_number in range(6):
        child = subprocess.Popen([sys.executable, "-c", DISPENSER, path, str(round_number), TODAY.isoformat()],
                                 stdout=subprocess.PIPE, text=True)
        time.sleep(1.0 + 0.15 * round_number)
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        acknowledged += len(out.split())
        check = sqlite3.connect(path)
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for code in ("amox_250_cpd", "sro_sachet"):
            moves = check.execute("SELECT SUM(quantity) FROM stock_move WHERE medicine = ?", (code,)).fetchone()[0]
            lots = check.execute("SELECT SUM(on_hand) FROM stock_lot WHERE medicine = ?", (code,)).fetchone()[0]
            assert moves == lots
        dispensed = check.execute("SELECT COUNT(*) FROM stock_move WHERE kind = 'dispensation' "
                                  "AND medicine = 'sro_sachet'").fetchone()[0]
        check.close()
        assert dispensed >= acknowledged  # every acknowledged dispensing is there (one more may be)
        assert dispensed <= acknowledged + round_number + 1
    assert acknowledged > 0
