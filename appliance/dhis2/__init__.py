"""DHIS2: the mapping of our monthly figures to DHIS2 UIDs, the dataValueSet payload, the Web API
client and the reading of its replies, following DHIS2's documented Web API (2.38–2.41).

A sealed report's figures (``appliance.reports.figures.ReportFigures``) are queued in the outbox
by ``appliance.reports.delivery.enqueue_report`` in the sealing transaction; the outbox sender
(``sender``) builds the payload from the
current mapping when it sends, so a corrected mapping fixes reports still waiting.
"""
