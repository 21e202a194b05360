"""Clinical rules: WHO growth z-scores, malnutrition, pregnancy risk, follow-up schedules, PCIME.

Pure functions over plain dataclasses and the data files in ``data/`` (no Flask, no database), so the
EMR can call them while it writes a visit and the rules stay editable without touching code.
"""


def preload() -> None:
    """Load the WHO tables and every rule file now (about 40 ms here, 4x on a Pi) rather than on the
    first visit written after a restart; a broken data file then fails at start-up, not mid-visit."""
    from appliance.clinical import followup_windows, growth, nutrition, pcime, pregnancy, schedule_data

    for indicator in ("wfa", "lhfa", "wfl", "wfh", "bfa"):
        growth.table(indicator, "M")
    nutrition.load_rules()
    pregnancy.load_rules()
    schedule_data.load_schedules()
    followup_windows.call_window_days("pev")
    pcime.load_all()
