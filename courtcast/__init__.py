"""CourtCast: public live broadcasting and replay of court hearings."""

__version__ = "0.1.0"
