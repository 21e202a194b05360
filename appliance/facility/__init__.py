"""The facility head's view: the health area's population and targets, coverage and drop-out
against them, access by sex and age, and the chronic-care register (hypertension, diabetes).

Everything here reads the record and the monthly report's rules; nothing here writes a visit.
"""
