"""Clinical rules: WHO growth z-scores, malnutrition, pregnancy risk and follow-up schedules.

Pure functions over plain dataclasses and the data files in ``data/`` (no Flask, no database), so the
EMR can call them while it writes a visit and the rules stay editable without touching code.
"""
