"""Ingestion: the FOCUS column contract, readers, attribution rules and the spend fact store."""
