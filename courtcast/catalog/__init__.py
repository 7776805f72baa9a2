"""Catalog: courts, courtrooms, cases, hearings, their media segments and API tokens."""
