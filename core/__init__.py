"""Core: settings, domain types, errors, clock and the database engine factory.

Nothing in ``core`` imports any other spendsentry package.
"""
