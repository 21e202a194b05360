import pytest

from appliance.outbox.queue import Outbox
from appliance.settings.outbox import OutboxSettings
from tests.fakes.dhis2_fixtures import dhis2_config, fake_dhis2  # noqa: F401 (fixtures)


@pytest.fixture
def box() -> Outbox:
    """An outbox with no sender and fast retry settings, as a test composes its own."""
    return Outbox(OutboxSettings(base_delay_s=0.01, max_delay_s=0.05, max_attempts=5))
