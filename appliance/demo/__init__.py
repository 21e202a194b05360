"""Realistic, deterministic synthetic data for demos and benchmarks (``appliance demo-data``).

A rural health area near Ségou: households (a head, one to three wives, their children, often
the head's mother), Malian names of the area's communities with the usual spelling
variation, Mali's very young age pyramid, and several years of visits: pregnancies with CPN,
deliveries and CPoN, children's vaccination cards and growth monitoring, family planning users,
hypertension and diabetes follow-up, curative consultations with prescriptions.

The same seed (and the same ``today``) always gives the same data. Rows are machine-made, so
they are bulk-inserted in one transaction (nothing half-generated survives a power cut) and the
audit trail gets one summary entry instead of a million. The clinical reference (EPI calendar,
family-planning intervals, SP from which week, growth medians) is read from the rules' own data
files; only the demo's population (names, villages, method mix, diagnoses) lives in
``patients/data/demo/``.

Modules: ``accounts`` (one account per role), ``reference`` (the data files read),
``bulk`` (the executemany writer), ``generator`` (households and their visits), ``populate``
(one transaction, the follow-up and the area's population), ``command`` (``appliance demo-data``),
``month_end`` (the reports sealed and sent by ``make run``).
"""

from appliance.demo.accounts import DEMO_ACCOUNTS, demo_usernames, ensure_demo_users
from appliance.demo.month_end import MonthEndStory, month_end_story, tell_month_end_story
from appliance.demo.populate import DEFAULT_SITE, DemoReport, populate, seed_demo

__all__ = ["DEFAULT_SITE", "DEMO_ACCOUNTS", "DemoReport", "MonthEndStory", "demo_usernames", "ensure_demo_users",
           "month_end_story", "populate", "seed_demo", "tell_month_end_story"]
