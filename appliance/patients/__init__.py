"""The shared patient record (DATASANTE MALI): one record per person, every programme's visits.

- ``models``: Patient, Household and one typed model per programme's visit.
- ``registry``: registration with duplicate detection, identity corrections, merges, deliveries.
- ``visits``: ``record_visit`` / ``correct_visit`` / ``void_visit`` (one transaction each, with the
  ``patient_written`` hooks of ``appliance.hooks``) and the chart's timeline.
- ``search``: FTS5 search over normalised names and numbers; ``normalize``: the name keys.
"""
