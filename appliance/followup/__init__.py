"""Follow-up: the clinical rules' due items and alerts, stored per patient when a visit is written.

``service`` keeps the rows in step with the record (a patient hook of ``appliance.patients.visits``),
``queries`` serves the worklists, alerts and household-visit pages, ``facts`` translates the
visit tables into the inputs of ``appliance.clinical``.
"""
