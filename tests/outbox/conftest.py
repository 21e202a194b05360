from collections.abc import Iterator

import pytest

from appliance.outbox import queue
from appliance.settings.outbox import OutboxSettings
from tests.fakes.dhis2_fixtures import dhis2_config, fake_dhis2  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def fresh_outbox() -> Iterator[None]:
    """Each test starts with no sender registered and fast retry settings."""
    for kind in queue.registered_kinds():
        queue.unregister_sender(kind)
    queue.configure(OutboxSettings(base_delay_s=0.01, max_delay_s=0.05, max_attempts=5))
    yield
    for kind in queue.registered_kinds():
        queue.unregister_sender(kind)
    queue.configure(OutboxSettings())
