"""SDP offers as browsers send them (trimmed from a real Chromium offer), for the pure tests."""

from __future__ import annotations

SESSION = """v=0
o=- 3508364450426417602 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
a=extmap-allow-mixed
a=msid-semantic: WMS
"""

AUDIO = """m=audio 50700 UDP/TLS/RTP/SAVPF 111 63 9 0 8
c=IN IP4 127.0.0.1
a=candidate:2164305067 1 udp 2122194687 127.0.0.1 50700 typ host generation 0
a=ice-ufrag:3uo7
a=ice-pwd:SG6l5uHdMrLtdk+OuQEbj8Y4
a=fingerprint:sha-256 0C:3D:63:20:3F:DC:A8:C9:DE:33:23:98:A5:03:D5:7D:3F:EB:F1:47:A8:9B:A8:F3
a=setup:actpass
a=mid:0
a={direction}
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=rtpmap:9 G722/8000
"""

VIDEO = """m=video 53921 UDP/TLS/RTP/SAVPF {payload_types}
c=IN IP4 127.0.0.1
a=ice-ufrag:3uo7
a=ice-pwd:SG6l5uHdMrLtdk+OuQEbj8Y4
a=fingerprint:sha-256 0C:3D:63:20:3F:DC:A8:C9:DE:33:23:98:A5:03:D5:7D:3F:EB:F1:47:A8:9B:A8:F3
a=setup:actpass
a=mid:1
a={direction}
a=rtcp-mux
a=rtpmap:96 VP8/90000
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=rtpmap:102 H264/90000
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f
a=rtpmap:104 H264/90000
a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f
a=rtpmap:116 H264/90000
a=fmtp:116 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640034
a=rtpmap:98 VP9/90000
a=fmtp:98 profile-id=0
a=rtpmap:99 rtx/90000
a=fmtp:99 apt=98
a=rtpmap:100 VP9/90000
a=fmtp:100 profile-id=2
a=rtpmap:101 rtx/90000
a=fmtp:101 apt=100
a=rtpmap:37 VP9/90000
a=fmtp:37 profile-id=1
a=rtpmap:45 AV1/90000
"""


def offer(*, direction: str = "sendonly", video: str = "96 97 102 104 116 98 45",
          audio: bool = True, crlf: bool = True) -> bytes:
    text = SESSION + (AUDIO.format(direction=direction) if audio else "")
    if video:
        text += VIDEO.format(direction=direction, payload_types=video)
    return text.replace("\n", "\r\n" if crlf else "\n").encode()
