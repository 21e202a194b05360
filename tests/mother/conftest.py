"""The follow-up fixtures (people, visits through the real record hooks) and the patients' web
fixtures, for the mother-and-newborn tests."""

from tests.followup.conftest import actor, followup_hooks, fresh_village_list, person, visit  # noqa: F401
from tests.patients.conftest import new_patient  # noqa: F401
