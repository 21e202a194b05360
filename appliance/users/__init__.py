"""User accounts in bulk: CSV import through a staging step, replacements, one-time credentials."""
