"""WebRTC ingest (WHIP, RFC 9725) and the low-latency clerk monitor (WHEP).

`sdp` validates offers and `h264`/`feed` turn RTP frames into `MediaPacket`s (all pure),
`transcode` holds the PyAV transcoders, `ice` the ICE settings, `peer` the aiortc glue,
`publisher` one WHIP session, `relay` the WHEP fan-out and `gateway` ties them together for
the web routes (`courtcast/web/whip.py`).
"""
