"""PCIME consultations on the record: the signs found, the classifications (with any override
and its reason), and the prescription lines' medicine, dose and reason. The rules themselves are
in ``appliance.clinical.pcime``; a PCIME consultation is also a curative ``consultation`` (its
main classification gives the diagnosis), so every existing report and chart counts it."""
