from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from courtcast.media import TrackInfo, TrackKind
from courtcast.transcode.playlist import (
    BandwidthMeter,
    MediaPlaylist,
    PlaylistSegment,
    SegmentLines,
    Variant,
    format_date_time,
    parse_attributes,
    render_master_playlist,
    render_media,
    source_variant,
)
from tests.transcode.clips import Clip

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def segments(durations: list[float], *, init: str = "init-0.mp4") -> list[PlaylistSegment]:
    out, start = [], 0.0
    for index, duration in enumerate(durations):
        when = T0 + timedelta(seconds=start)
        out.append(
            PlaylistSegment(f"{index:06d}.m4s", duration, when, init_uri=init, sequence=index)
        )
        start += duration
    return out


def test_live_event_playlist() -> None:
    text = MediaPlaylist(segments([2.0, 2.0, 1.5])).render()
    assert text == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:7\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-PLAYLIST-TYPE:EVENT\n"
        '#EXT-X-MAP:URI="init-0.mp4"\n'
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-21T10:00:00.000Z\n"
        "#EXTINF:2.000,\n000000.m4s\n"
        "#EXTINF:2.000,\n000001.m4s\n"
        "#EXTINF:1.500,\n000002.m4s\n"
    )


def test_ended_hearing_is_vod() -> None:
    text = MediaPlaylist(segments([2.0]), ended=True).render()
    assert "#EXT-X-PLAYLIST-TYPE:VOD\n" in text and text.endswith("#EXT-X-ENDLIST\n")
    assert "EVENT" not in MediaPlaylist(segments([2.0]), ended=True).render()


def test_target_duration_is_the_ceiling_and_at_least_the_configured_one() -> None:
    assert MediaPlaylist(segments([2.0, 4.2, 2.0])).target_duration_tag == 5
    assert MediaPlaylist(segments([2.0004])).target_duration_tag == 2  # float noise
    assert MediaPlaylist(segments([1.0]), target_duration=6).target_duration_tag == 6
    assert MediaPlaylist([]).target_duration_tag == 2


def test_discontinuity_new_init_and_wall_clock() -> None:
    first = segments([2.0, 2.0])
    later = T0 + timedelta(minutes=10)
    second = [
        PlaylistSegment(
            "000002.m4s", 2.0, later, discontinuity=True, init_uri="init-0.mp4", sequence=2
        ),
        PlaylistSegment(
            "000003.m4s", 2.0, later + timedelta(seconds=2), init_uri="init-3.mp4", sequence=3
        ),
    ]
    lines = MediaPlaylist(first + second).render().splitlines()
    tail = lines[lines.index("000001.m4s") + 1 :]
    assert tail == [
        "#EXT-X-DISCONTINUITY",
        '#EXT-X-MAP:URI="init-0.mp4"',  # repeated after every discontinuity
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-21T10:10:00.000Z",
        "#EXTINF:2.000,",
        "000002.m4s",
        '#EXT-X-MAP:URI="init-3.mp4"',  # the init changed
        "#EXTINF:2.000,",
        "000003.m4s",
    ]


def test_date_time_repeated_only_where_extrapolation_is_off() -> None:
    entries = segments([2.0] * 4)
    entries[2] = PlaylistSegment("000002.m4s", 2.0, T0 + timedelta(seconds=5), sequence=2)
    text = MediaPlaylist(entries).render()
    assert text.count("PROGRAM-DATE-TIME") == 3  # first, the drifted one, and the one after
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-11-21T10:00:05.000Z" in text


def test_gap_in_sequences_is_a_discontinuity() -> None:
    entries = segments([2.0] * 4)
    public = [entries[0], entries[1], entries[3]]  # segment 2 withheld from the public
    text = MediaPlaylist(public).render()
    assert text.count("#EXT-X-DISCONTINUITY\n") == 1
    assert text.index("#EXT-X-DISCONTINUITY\n") > text.index("000001.m4s")


def test_date_time_format() -> None:
    assert format_date_time(datetime(2026, 11, 21, 10, 0, 0, 123456)) == "2026-11-21T10:00:00.123Z"
    east8 = datetime(2026, 11, 21, 18, 0, tzinfo=timezone(timedelta(hours=8)))
    assert format_date_time(east8) == "2026-11-21T10:00:00.000Z"


def test_parse_round_trip() -> None:
    entries = segments([2.0, 2.0, 1.234])
    entries.append(
        PlaylistSegment(
            "000003.m4s",
            2.0,
            T0 + timedelta(hours=1),
            discontinuity=True,
            init_uri="init-3.mp4",
            sequence=3,
        )
    )
    playlist = MediaPlaylist(entries, ended=True)
    parsed = MediaPlaylist.parse(playlist.render())
    assert list(parsed.segments) == entries  # extrapolated date times included
    assert parsed.ended and parsed.independent_segments and parsed.target_duration == 2
    assert parsed.render() == playlist.render()


def test_parse_is_robust_to_junk() -> None:
    text = (
        "garbage before the header\n"
        "#EXTM3U\n#EXT-X-TARGETDURATION:abc\n#EXT-X-MEDIA-SEQUENCE:5\n"
        "#EXT-X-SOMETHING-NEW:X=1\n"
        '#EXT-X-MAP:URI="init.mp4",BYTERANGE="1@0"\n'
        "#EXT-X-PROGRAM-DATE-TIME:not a date\n"
        "#EXTINF:2.0,\n"
        "a.m4s\n"
        "#EXTINF:nan,\nb.m4s\n"  # bad duration: segment dropped
        "#EXTINF:-1,\nc.m4s\n"
        "orphan.m4s\n"  # no EXTINF
        "\n   \n#EXTINF:1.5\nd.m4s\n#EXT-X-DISCONTINUITY\n#EXTINF:2,title\ne.m4s\n#EXTINF:2,"
    )
    parsed = MediaPlaylist.parse(text)
    assert [(s.uri, s.duration, s.sequence) for s in parsed.segments] == [
        ("a.m4s", 2.0, 5),
        ("d.m4s", 1.5, 6),
        ("e.m4s", 2.0, 7),
    ]
    assert all(s.init_uri == "init.mp4" and s.program_date_time is None for s in parsed.segments)
    assert [s.discontinuity for s in parsed.segments] == [False, False, True]
    assert not parsed.ended and parsed.media_sequence == 5
    assert MediaPlaylist.parse("").segments == []


def test_attribute_lists() -> None:
    assert parse_attributes('URI="a,b.mp4",BANDWIDTH=100,CODECS="x,y"') == {
        "URI": "a,b.mp4",
        "BANDWIDTH": "100",
        "CODECS": "x,y",
    }


def test_master_playlist() -> None:
    text = render_master_playlist(
        [
            Variant(
                "source/index.m3u8",
                3_100_000,
                ("avc1.64001F", "mp4a.40.2"),
                average_bandwidth=2_600_000,
                resolution=(1280, 720),
                frame_rate=25,
            ),
            Variant("360p/index.m3u8", 900_000, ("avc1.4D401E", "mp4a.40.2")),
        ]
    )
    assert text == (
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=3100000,AVERAGE-BANDWIDTH=2600000,RESOLUTION=1280x720,"
        'FRAME-RATE=25.000,CODECS="avc1.64001F,mp4a.40.2"\n'
        "source/index.m3u8\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.4D401E,mp4a.40.2"\n'
        "360p/index.m3u8\n"
    )
    with pytest.raises(ValueError):
        render_master_playlist([])


def test_bandwidth_meter_ignores_short_segments_for_the_peak() -> None:
    meter = BandwidthMeter(2.0)
    assert (meter.bandwidth, meter.average) == (0, 0)
    meter.add(50_000, 0.1)  # a lone keyframe at a cut: 4 Mbit/s for a tenth of a second
    assert meter.bandwidth == 4_000_000  # better than nothing while nothing else is known
    meter.add(500_000, 2.0)
    meter.add(750_000, 2.0)
    meter.add(1_000, 0.0)  # ignored
    assert meter.bandwidth == 3_000_000
    assert meter.average == math.ceil(1_300_000 * 8 / 4.1)  # rounded up, like the peak


def test_source_variant_from_tracks(clip: Clip) -> None:
    meter = BandwidthMeter(2.0)
    declared = [replace(t, bit_rate=1_000_000) for t in clip.tracks]
    before = source_variant("source/index.m3u8", declared, meter)
    assert before.bandwidth == 2_000_000 and before.average_bandwidth is None
    meter.add(500_000, 2.0)
    variant = source_variant("source/index.m3u8", [*clip.tracks, TrackInfo(TrackKind.VIDEO, "vp8")],
                             meter)  # fmt: skip
    assert variant == Variant(
        "source/index.m3u8", 2_000_000, ("avc1.64001E", "mp4a.40.2"), 2_000_000, (640, 360), 25.0
    )


def test_a_growing_playlist_renders_as_if_rendered_whole() -> None:
    """Appending renders only the new segment; the text must equal a full render at every
    length, through discontinuities, sequence gaps, new init segments and clock drift."""
    rng = random.Random(7)
    grown, body, start = [], SegmentLines(), 0.0
    for index in range(300):
        duration = rng.choice([2.0, 2.0, 1.96, 2.04, 4.2])
        drift = rng.choice([0.0, 0.0, 0.0, 0.35])
        segment = PlaylistSegment(
            f"{index:06d}.m4s", duration, T0 + timedelta(seconds=start + drift),
            discontinuity=rng.random() < 0.03, init_uri=f"init-{index // 100}.mp4",
            sequence=index + (1 if index > 150 else 0))  # a gap at 151
        start += duration
        grown.append(segment)
        body.append(segment)
        for ended in (False, True):
            assert render_media(body, 2.0, ended=ended) == \
                MediaPlaylist(list(grown), 2.0, ended=ended).render()
    assert len(body) == 300 and body.longest == 4.2
    assert render_media(SegmentLines(), 2.0) == MediaPlaylist([]).render()
