"""The dataclass of each TOML section, one module per section (``appliance.config`` maps the file
onto them). They sit apart from the packages they configure because both processes read them:
the web shows the hardware's thresholds and budgets without importing power, modem or agent.
This package imports nothing of the app but the DHIS2 mapping's checks."""
