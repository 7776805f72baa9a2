"""Remuxing ingest packets into HLS (fMP4/CMAF segments) and rendering playlists."""
