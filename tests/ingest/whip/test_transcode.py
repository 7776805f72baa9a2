from __future__ import annotations

import asyncio
import functools
import itertools
import threading
from typing import Any

import av
import numpy as np
import pytest

from courtcast.ingest.whip import vp9
from courtcast.ingest.whip.h264 import AnnexBToAvcc
from courtcast.ingest.whip.transcode import (
    AUDIO_TIME_BASE,
    VIDEO_TIME_BASE,
    AacToOpus,
    Offload,
    OpusToAac,
    VpxToH264,
)
from courtcast.transcode.codecs import parse_audio_specific_config

from .vp9_rtp import Frames, libvpx_frames


def vp8_frames(count: int, width: int = 160, height: int = 120) -> list[tuple[bytes, int]]:
    """VP8 frames as a browser sends them: 90 kHz timestamps, ~30 fps."""
    encoder: Any = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = VIDEO_TIME_BASE
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out = []
    for index in range(count):
        picture = np.full((height, width, 3), index * 7 % 256, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts, frame.time_base = index * 3000, VIDEO_TIME_BASE
        out += [(bytes(p), int(p.pts)) for p in encoder.encode(frame)]
    return out


def opus_packets(count: int) -> list[tuple[bytes, int]]:
    encoder: Any = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "stereo", "s16"
    encoder.time_base = AUDIO_TIME_BASE
    out = []
    tone = (np.sin(np.arange(960 * 2) / 8) * 6000).astype(np.int16).reshape(1, -1)
    for index in range(count):
        frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = 48000, index * 960, AUDIO_TIME_BASE
        out += [(bytes(p), index * 960) for p in encoder.encode(frame)]
    return out


def test_vp8_becomes_h264_with_an_idr_every_interval() -> None:
    transcoder = VpxToH264(keyframe_interval=1.0)
    converter = AnnexBToAvcc()
    out = [e for data, pts in vp8_frames(75, width=161) for e in transcoder.transcode(data, pts)]
    assert len(out) == 75, "zero latency: every frame comes out at once"
    assert [e.pts for e in out] == [i * 3000 for i in range(75)]
    assert [e.pts / 90000 for e in out if e.keyframe] == [0.0, 1.0, 2.0]
    units = [converter.convert(e.data) for e in out]
    assert all(u is not None for u in units)
    assert units[0] is not None and units[0].config and units[0].config[1] == 66  # Baseline
    decoder: Any = av.CodecContext.create("h264", "r")
    frame = decoder.decode(av.Packet(out[0].data))[0]
    assert (frame.width, frame.height) == (160, 120)  # odd widths are made even


def test_the_output_grows_with_the_picture_but_never_shrinks() -> None:
    """A browser ramping up from a small start, then shrinking under load."""
    transcoder = VpxToH264(keyframe_interval=10.0)
    converter = AnnexBToAvcc()
    decoder: Any = av.CodecContext.create("h264", "r")
    sizes = []
    for index, (width, height) in enumerate([(160, 90), (320, 180), (160, 90)]):
        for data, pts in vp8_frames(5, width, height):
            for encoded in transcoder.transcode(data, index * 15000 + pts):
                unit = converter.convert(encoded.data)
                assert unit is not None
                if unit.config is not None:  # a new configuration starts with an IDR
                    assert unit.keyframe
                frame = decoder.decode(av.Packet(encoded.data))[0]
                sizes.append((frame.width, frame.height, unit.keyframe))
    assert [size[:2] for size in sizes] == [(160, 90)] * 5 + [(320, 180)] * 10
    assert [i for i, size in enumerate(sizes) if size[2]] == [0, 5]  # no IDR on shrinking


def test_a_corrupt_vp8_frame_raises_and_the_next_keyframe_recovers() -> None:
    transcoder = VpxToH264()
    frames = vp8_frames(3)
    with pytest.raises(av.FFmpegError):
        transcoder.transcode(b"\x00garbage" * 10, 0)
    assert transcoder.transcode(*frames[0])


def test_vp9_becomes_h264_one_frame_a_picture_whatever_its_depth(
    alt_ref_frames: Frames, profile2_frames: Frames,
) -> None:
    """Profile 0 as browsers send it, 10-bit profile 2, and superframes with hidden alt-refs."""
    for frames in (libvpx_frames(6, 161, 120), profile2_frames, alt_ref_frames):
        transcoder = VpxToH264(codec="vp9")
        out = [e for n, (data, _) in enumerate(frames) for e in transcoder.transcode(data, n)]
        assert [e.pts for e in out] == list(range(len(frames)))
        decoder: Any = av.CodecContext.create("h264", "r")
        frame = decoder.decode(av.Packet(out[0].data))[0]
        assert (frame.format.name, frame.width, frame.height) == ("yuv420p", 160, 120)


def test_a_superframe_of_shown_spatial_layers_becomes_one_h264_frame() -> None:
    """VP9 SVC shows every spatial layer of a superframe; FFmpeg outputs each one."""
    (key, _), (inter, _), (last, _) = libvpx_frames(3, 160, 120)
    both: Any = av.CodecContext.create("vp9", "r")
    assert len(both.decode(av.Packet(vp9.superframe([key, inter])))) == 2
    transcoder = VpxToH264(codec="vp9")
    assert [e.pts for e in transcoder.transcode(vp9.superframe([key, inter]), 0)] == [0]
    assert [e.pts for e in transcoder.transcode(last, 3000)] == [3000]


def test_opus_becomes_aac_lc_at_48_khz() -> None:
    transcoder = OpusToAac()
    config = parse_audio_specific_config(transcoder.extradata)
    assert (config.sample_rate, config.channels) == (48000, 2)
    out = [e for data, pts in opus_packets(50) for e in transcoder.transcode(data, pts)]
    assert len(out) >= 50 * 960 // 1024 - 3
    steps = {b.pts - a.pts for a, b in itertools.pairwise(out)}
    assert steps == {1024}


def test_aac_becomes_20_ms_opus_for_the_monitor() -> None:
    source = OpusToAac()
    aac = [e for data, pts in opus_packets(50) for e in source.transcode(data, pts)]
    transcoder = AacToOpus(source.extradata, 48000, 2)
    out = [e for a in aac for e in transcoder.transcode(a.data, a.pts, AUDIO_TIME_BASE)]
    assert len(out) >= len(aac) * 1024 // 960 - 3
    decoder: Any = av.CodecContext.create("opus", "r")
    decoder.sample_rate, decoder.layout = 48000, "stereo"
    assert decoder.decode(av.Packet(out[5].data))[0].samples == 960


async def test_offload_runs_in_order_off_the_event_loop() -> None:
    delivered: list[tuple[int, str]] = []
    loop_thread = threading.current_thread().name
    worker: Offload[tuple[int, str]] = Offload("test", delivered.append)
    def work(index: int) -> tuple[int, str]:
        return index, threading.current_thread().name

    for index in range(20):
        assert worker.submit(functools.partial(work, index))
    await worker.drain()
    assert [i for i, _ in delivered] == list(range(20))
    assert all(name != loop_thread and name.startswith("test") for _, name in delivered)
    await worker.close()
    assert not worker.submit(lambda: (0, ""))


async def test_offload_refuses_work_beyond_its_limit_and_survives_failures() -> None:
    gate = threading.Event()
    results: list[int] = []
    worker: Offload[int] = Offload("test", results.append, max_pending=2)
    assert worker.submit(lambda: gate.wait() and 1)
    assert worker.submit(lambda: 1 // 0)
    assert not worker.submit(lambda: 3)
    assert worker.dropped == 1
    gate.set()
    await worker.close()
    await asyncio.sleep(0)
    assert results == [1] and worker.failures == 1
