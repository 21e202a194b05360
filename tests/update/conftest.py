from __future__ import annotations

import pytest

from tests.update.bundles import Keys, make_keys, needs_rauc


@pytest.fixture(scope="session")
def release_keys(tmp_path_factory) -> Keys:
    needs_rauc()
    return make_keys(tmp_path_factory.mktemp("keys"), "release")


@pytest.fixture(scope="session")
def stranger_keys(tmp_path_factory) -> Keys:
    needs_rauc()
    return make_keys(tmp_path_factory.mktemp("stranger"), "stranger")
