"""The report as CSV: one row per indicator and sex, one column per age band, then the total.

Semicolon-separated with a UTF-8 byte-order mark: what a French-locale spreadsheet on the district's
computer opens correctly, accents included. The codes are in the first columns so that a script can
read the file back without the French labels.
"""

from __future__ import annotations

import io

from appliance import spreadsheets
from appliance.reports.builder import MonthlyReport
from appliance.reports.figures import SEXES


def report_csv(report: MonthlyReport) -> str:
    buffer = io.StringIO()
    writer = spreadsheets.writer(buffer, delimiter=";", lineterminator="\r\n")
    bands = report.bands.bands
    writer.writerow(["periode", "section", "code", "indicateur", "sexe", *[band.label for band in bands], "total"])
    for section in report.rows():
        for row in section.indicators:
            for sex, label in SEXES.items():
                values = [value for _, value in row.by_sex[sex]]
                writer.writerow([report.month.period, section.label, row.code, row.label, label, *values, sum(values)])
    for code, label, value in report.stock_rows():
        writer.writerow([report.month.period, report.stock_section, code, label, "", *[""] * len(bands), value])
    return "\ufeff" + buffer.getvalue()
