"""Ingest: protocol servers (RTMP, WHIP) that authenticate publishers and emit media packets."""
