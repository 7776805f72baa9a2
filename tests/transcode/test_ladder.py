"""Browser compatibility and rendition plans, from declared tracks alone."""

from __future__ import annotations

from courtcast.media import TrackInfo, TrackKind
from courtcast.transcode.ladder import (
    AUDIO_ONLY,
    SOURCE,
    Profile,
    Rung,
    VideoTarget,
    browser_compatibility,
    master_variants,
    needs_transcode,
    plan_renditions,
)
from courtcast.transcode.playlist import BandwidthMeter, render_master_playlist
from tests.transcode.clips import Clip

AAC_44100_MONO = bytes([0x12, 0x08])  # AAC-LC, 44.1 kHz, mono
AAC_22050 = bytes([0x13, 0x90])  # AAC-LC, 22.05 kHz, stereo
AAC_MAIN = bytes([0x0A, 0x10])  # AAC Main, 48 kHz, stereo


def video(clip: Clip) -> TrackInfo:
    return clip.track(TrackKind.VIDEO)


def audio(extradata: bytes = AAC_44100_MONO, codec: str = "aac", rate: int = 0) -> TrackInfo:
    return TrackInfo(TrackKind.AUDIO, codec, extradata, sample_rate=rate)


def test_h264_and_aac_at_44100_pass_through(clip: Clip) -> None:
    assert browser_compatibility(clip.tracks).passthrough
    assert not needs_transcode(clip.tracks)


def test_what_browsers_cannot_take(clip: Clip) -> None:
    hevc = TrackInfo(TrackKind.VIDEO, "hevc", b"", width=1920, height=1080)
    cases = {
        (hevc, audio()): "hevc is not H.264",
        (video(clip), audio(AAC_22050)): "22050 Hz",
        (video(clip), audio(AAC_MAIN)): "object type 1",
        (video(clip), audio(b"", "opus", 48000)): "opus is not AAC",
        (video(clip), audio(b"", "mp3", 44100)): "mp3 is not AAC",
    }
    for tracks, reason in cases.items():
        result = browser_compatibility(tracks)
        assert not result.passthrough
        assert reason in " ".join(result.reasons)
    high10 = bytearray(video(clip).extradata)
    high10[1] = 110
    result = browser_compatibility([TrackInfo(TrackKind.VIDEO, "h264", bytes(high10))])
    assert (result.video_copy, result.audio_copy) == (False, True)


def test_passthrough_plan_copies_a_good_source(clip: Clip) -> None:
    plan = plan_renditions(clip.tracks, Profile.PASSTHROUGH)
    (source,) = plan.renditions
    assert (source.name, source.copy_only, source.copy_video, source.copy_audio) == (
        SOURCE, True, True, True,
    )  # fmt: skip
    assert not plan.encodes_audio and not plan.encodes_video and plan.audio_rate == 0


def test_passthrough_plan_transcodes_only_what_it_must(clip: Clip) -> None:
    plan = plan_renditions([video(clip), audio(b"", "opus", 48000)], "passthrough")
    (source,) = plan.renditions
    assert source.copy_video and not source.copy_audio and source.audio
    assert (plan.audio_rate, plan.audio_channels) == (48000, 2)
    hevc = TrackInfo(TrackKind.VIDEO, "hevc", b"", width=3840, height=2160)
    (source,) = plan_renditions([hevc], "passthrough", overlay=True).renditions
    assert source.video == VideoTarget(1920, 1080, 5_184_000) and source.overlay
    vp8 = TrackInfo(TrackKind.VIDEO, "vp8")  # size unknown: taken from the first frame
    (source,) = plan_renditions([vp8], "passthrough").renditions
    assert source.video == VideoTarget(0, 0, 0)


def test_ladder_never_upscales(clip: Clip) -> None:
    ladder = (Rung("720p", 720, 2_500_000), Rung("360p", 360, 600_000), Rung("240p", 240, 1))
    plan = plan_renditions(clip.tracks, "ladder", ladder=ladder, overlay=True)
    names = [r.name for r in plan.renditions]
    assert names == [SOURCE, "240p", AUDIO_ONLY]  # the 640x360 source is the 360p rung
    rung = plan.rendition("240p")
    assert rung.video == VideoTarget(426, 240, 1) and rung.overlay
    assert not plan.rendition(SOURCE).overlay  # a copy cannot carry a caption
    assert plan.rendition(AUDIO_ONLY).video is None and plan.encodes_audio
    forced = plan_renditions(clip.tracks, "ladder", ladder=ladder, force_transcode=True)
    assert forced.rendition(SOURCE).video == VideoTarget(640, 360, 576_000)


def test_master_lists_the_start_variant_first(clip: Clip) -> None:
    def meter(bits: int) -> BandwidthMeter:
        bandwidth = BandwidthMeter(2.0)
        bandwidth.add(bits // 4, 2.0)
        return bandwidth

    small = TrackInfo(TrackKind.VIDEO, "h264", video(clip).extradata, width=854, height=480)
    renditions = {
        SOURCE: (clip.tracks, meter(3_000_000)),
        "480p": ((small, clip.track(TrackKind.AUDIO)), meter(1_000_000)),
        AUDIO_ONLY: ((clip.track(TrackKind.AUDIO),), meter(64_000)),
    }
    variants = master_variants(renditions, lambda name: f"{name}/index.m3u8")
    assert [v.uri for v in variants] == ["480p/index.m3u8", "source/index.m3u8",
                                         "audio/index.m3u8"]  # fmt: skip
    assert variants[-1].codecs == ("mp4a.40.2",) and variants[-1].resolution is None
    text = render_master_playlist(variants)
    assert "RESOLUTION=854x480" in text and 'CODECS="mp4a.40.2"' in text
