"""The follow-up fixtures (people, visits through the real record hooks) for the mother-and-newborn tests."""

from tests.followup.conftest import actor, followup_hooks, fresh_village_list, person, visit  # noqa: F401
