from tests.fakes.dhis2_fixtures import dhis2_config, fake_dhis2  # noqa: F401 (fixtures)
