"""CSV formula injection (issue 16): every export neutralises cells a spreadsheet would run."""

from __future__ import annotations

import base64
import csv
import io
import re

from appliance.fleet.view import Fleet, write_csv
from appliance.spreadsheets import safe_cell
from tests.telemetry.test_fleet import NOW, status_bytes
from tests.users.test_web import upload

EVIL = "=cmd|' /C calc'!A0"


def test_cells_that_start_like_formulas_become_text_and_numbers_stay_numbers():
    assert [safe_cell(v) for v in ("=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "Awa")] == \
        ["'=1+1", "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(A1)", "'\t=1", "Awa"]
    assert [safe_cell(v) for v in ("-3", "+22376123456", "-1,5", 7, None)] == ["-3", "+22376123456", "-1,5", 7, None]


def test_the_credentials_sheet_neutralises_a_name_made_to_run(login_as):
    admin = login_as("admin")
    batch_id, _ = upload(admin, f"identifiant;prenom;nom;role;telephone\r\nawa.t;{EVIL};Traore;sage_femme;\r\n",
                            encoding="utf-8")
    html = admin.post(f"/admin/comptes/import/{batch_id}/creer").get_data(as_text=True)
    encoded = re.search(r'href="data:text/csv;charset=utf-8;base64,([^"]+)" download', html).group(1)
    rows = list(csv.reader(io.StringIO(base64.b64decode(encoded).decode("utf-8-sig")), delimiter=";"))
    cells = [cell for row in rows for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert any(EVIL in cell for cell in cells)  # kept, as text


def test_the_fleet_csv_neutralises_what_a_clinic_sends():
    view = Fleet()
    view.ingest("clinic/ml-a/status", status_bytes(now=NOW - 60, version="=1+1"), retained=True, received_at=NOW)
    stream = io.StringIO()
    write_csv(view.rows(now=NOW), stream)
    (record,) = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert record["version"] == "'=1+1"
