"""Broadcasts: ties a hearing's ingest session to segmenting, storage, playlists and the catalog.

One `HearingBroadcast` per live hearing keeps the court's complete record and the public view
apart: every segment goes to the record first; the public view publishes what the public may see.
"""
