"""RtmpServer against real ffmpeg publishers and a scripted client built from our own layers."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import os
import subprocess
import time
from fractions import Fraction
from pathlib import Path

import av
import pytest
from av.audio.codeccontext import AudioCodecContext
from av.video.codeccontext import VideoCodecContext

from courtcast.ingest.rtmp import amf0
from courtcast.ingest.rtmp.chunk import RtmpMessage
from courtcast.ingest.rtmp.messages import MessageType
from courtcast.media import MediaPacket, TrackInfo, TrackKind

from .conftest import ServerFactory
from .rtmp_client import (
    AVCC,
    RawClient,
    aac_frame,
    aac_header,
    avc_frame,
    avc_header,
    info_object,
)
from .support import RecordingAuthorizer, RecordingSink, ffmpeg_publish, needs_ffmpeg, until

VIDEO, AUDIO = TrackKind.VIDEO, TrackKind.AUDIO
LIVE_ENCODE = ["-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i",
               "sine=frequency=440:sample_rate=44100", "-c:v", "libx264", "-preset", "veryfast",
               "-g", "50", "-c:a", "aac", "-t", "4"]


def url(port: int, key: str) -> str:
    return f"rtmp://127.0.0.1:{port}/live/{key}"


def assert_monotonic(packets: list[MediaPacket]) -> None:
    dts = [p.dts for p in packets]
    assert all(a < b for a, b in itertools.pairwise(dts)), "DTS must increase"


def source_packets(path: Path) -> list[tuple[TrackKind, int, int, bytes, bool]]:
    """What PyAV's own FLV demuxer finds in the clip: the reference for our parse."""
    out = []
    with av.open(str(path)) as container:
        for p in container.demux():
            if p.size:
                assert p.dts is not None and p.pts is not None
                kind = VIDEO if p.stream.type == "video" else AUDIO
                out.append((kind, p.dts, p.pts, bytes(p), p.is_keyframe))
    return out


def received(sink: RecordingSink) -> list[tuple[TrackKind, int, int, bytes, bool]]:
    return [(p.kind, p.dts, p.pts, p.data, p.keyframe) for p in sink.packets]


def mux_mp4(path: Path, tracks: list[TrackInfo], packets: list[MediaPacket]) -> None:
    """Mux the parsed packets with PyAV exactly as received: extradata from the sequence headers."""
    template = av.open(io.BytesIO(), "w", format="mp4")  # only lends codec contexts
    with av.open(str(path), "w", format="mp4") as out:
        streams = {}
        for track in tracks:
            rate = track.sample_rate or None
            stream = out.add_stream_from_template(template.add_stream(track.codec, rate=rate),
                                                  opaque=True)
            context = stream.codec_context
            context.extradata = track.extradata
            if isinstance(context, VideoCodecContext):
                context.width, context.height = track.width, track.height
            elif isinstance(context, AudioCodecContext):
                context.sample_rate = track.sample_rate
            stream.time_base = Fraction(1, 1000)
            streams[track.kind] = stream
        for packet in packets:
            av_packet = av.Packet(packet.data)
            av_packet.dts, av_packet.pts = packet.dts, packet.pts
            av_packet.time_base = packet.time_base
            av_packet.is_keyframe = packet.keyframe
            av_packet.stream = streams[packet.kind]
            out.mux(av_packet)


def ffprobe_frames(path: Path) -> tuple[dict[str, int], str]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_name,nb_read_frames", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    streams = json.loads(result.stdout)["streams"]
    return {s["codec_name"]: int(s["nb_read_frames"]) for s in streams}, result.stderr


# -- real publishers ----------------------------------------------------------------------


@pytest.mark.e2e
@needs_ffmpeg
async def test_ffmpeg_live_encode_reaches_the_sink(start_server: ServerFactory) -> None:
    server, authorizer = await start_server()
    code, err = await ffmpeg_publish(url(server.port, "good"), *LIVE_ENCODE)
    assert code == 0, err
    [sink] = authorizer.sinks
    await until(lambda: sink.close_calls == 1, what="sink.close()")
    request = authorizer.requests[0]
    assert (request.protocol, request.stream_key, request.app) == ("rtmp", "good", "live")
    assert request.remote.startswith("127.0.0.1:")

    [tracks] = sink.starts
    assert [(t.kind, t.codec) for t in tracks] == [(VIDEO, "h264"), (AUDIO, "aac")]
    video_track, audio_track = tracks
    assert video_track.extradata[0] == 1 and (video_track.width, video_track.height) == (640, 360)
    assert video_track.frame_rate == 25.0
    assert audio_track.extradata and audio_track.sample_rate == 44100
    video, audio = sink.of(VIDEO), sink.of(AUDIO)
    assert 95 <= len(video) <= 101  # 25 fps for 4 s
    assert 165 <= len(audio) <= 180  # 44100 / 1024 frames per second for 4 s
    assert_monotonic(video)
    assert_monotonic(audio)
    keyframes = [p.dts for p in video if p.keyframe]
    assert keyframes[0] == video[0].dts and len(keyframes) >= 2
    assert all(b - a <= 2040 for a, b in itertools.pairwise(keyframes))
    assert all(p.pts >= p.dts for p in video)
    assert server.active_publishers == 0


@pytest.mark.e2e
@needs_ffmpeg
async def test_parsed_packets_are_byte_exact_and_mux_into_a_valid_mp4(
        start_server: ServerFactory, source_flv: Path, tmp_path: Path) -> None:
    server, authorizer = await start_server()
    code, err = await ffmpeg_publish(url(server.port, "good"), "-i", str(source_flv), "-c", "copy")
    assert code == 0, err
    [sink] = authorizer.sinks
    await until(lambda: sink.close_calls == 1, what="sink.close()")

    assert received(sink) == source_packets(source_flv)  # same bytes, timestamps and flags

    mp4 = tmp_path / "received.mp4"
    mux_mp4(mp4, sink.starts[-1], sink.packets)
    frames, errors = ffprobe_frames(mp4)
    assert errors == ""
    assert frames == {"h264": len(sink.of(VIDEO)), "aac": len(sink.of(AUDIO))}


@pytest.mark.e2e
@needs_ffmpeg
async def test_extended_timestamps_from_ffmpeg(start_server: ServerFactory,
                                               source_flv: Path) -> None:
    # 4.7 hours in: every chunk, type 3 continuations included, carries an extended timestamp.
    server, authorizer = await start_server()
    code, err = await ffmpeg_publish(url(server.port, "good"), "-i", str(source_flv), "-c", "copy",
                                     "-output_ts_offset", "16780")
    assert code == 0, err
    [sink] = authorizer.sinks
    await until(lambda: sink.close_calls == 1)
    expected = source_packets(source_flv)
    got = received(sink)
    assert [g[3] for g in got] == [e[3] for e in expected]
    shifts = {(g[1] - e[1], g[2] - e[2]) for g, e in zip(got, expected, strict=True)}
    [(shift, _)] = shifts  # ffmpeg moves the whole stream by one constant
    assert shift > 0xFFFFFF


@pytest.mark.e2e
@needs_ffmpeg
async def test_wrong_key_is_refused_and_the_server_keeps_serving(
        start_server: ServerFactory, source_flv: Path, caplog: pytest.LogCaptureFixture) -> None:
    server, authorizer = await start_server()
    caplog.set_level(logging.INFO, logger="courtcast.ingest.rtmp")
    code, err = await ffmpeg_publish(url(server.port, "wrongsecret"), "-i", str(source_flv),
                                     "-c", "copy")
    assert code != 0
    assert "unknown stream key" in err  # ffmpeg prints the server's description
    assert authorizer.sinks == []
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1
    assert "127.0.0.1:" in refusals[0] and "wron…" in refusals[0]
    assert "unknown stream key" in refusals[0]
    assert all("wrongsecret" not in r.getMessage() for r in caplog.records)

    code, err = await ffmpeg_publish(url(server.port, "good"), "-i", str(source_flv), "-c", "copy")
    assert code == 0, err
    await until(lambda: len(authorizer.sinks) == 1 and authorizer.sinks[0].close_calls == 1)
    assert len(authorizer.sinks[0].of(VIDEO)) == 75


@pytest.mark.e2e
@needs_ffmpeg
async def test_three_concurrent_publishers_get_their_own_sinks(
        start_server: ServerFactory, source_flv: Path) -> None:
    server, authorizer = await start_server()
    keys = ["good-a", "good-b", "good-c"]
    publishers = [asyncio.create_task(ffmpeg_publish(url(server.port, key), "-re", "-i",
                                                     str(source_flv), "-c", "copy"))
                  for key in keys]
    await until(lambda: server.active_publishers == 3, seconds=10, what="3 publishers")
    results = await asyncio.gather(*publishers)
    assert [code for code, _ in results] == [0, 0, 0], results
    await until(lambda: server.active_publishers == 0)
    expected = source_packets(source_flv)
    for key in keys:
        sink = authorizer.sink(key)
        assert sink.close_calls == 1 and len(sink.starts) == 1
        assert received(sink) == expected


@pytest.mark.e2e
@needs_ffmpeg
async def test_misbehaving_clients_do_not_disturb_a_publisher(
        start_server: ServerFactory, source_flv: Path) -> None:
    server, authorizer = await start_server(handshake_timeout=1.0, idle_timeout=1.5,
                                            max_message_size=1 << 20)
    publisher = asyncio.create_task(ffmpeg_publish(url(server.port, "good"), "-re", "-i",
                                                   str(source_flv), "-c", "copy"))
    await until(lambda: server.active_publishers == 1, seconds=10, what="the publisher")

    garbage = await RawClient.open(server.port)
    garbage.writer.write(os.urandom(3000).replace(b"\x03", b"\x04"))
    half_handshake = await RawClient.open(server.port)
    half_handshake.writer.write(b"\x03" + bytes(700))
    oversized = await RawClient.open(server.port)
    await oversized.handshake()
    oversized.writer.write(bytes.fromhex("06 000000 ffffff 09 01000000"))
    amf_garbage = await RawClient.open(server.port)
    await amf_garbage.handshake()
    amf_garbage.send(RtmpMessage(3, MessageType.COMMAND_AMF0, 0, 0, b"\x02\x00\x07conn"))
    silent = await RawClient.open(server.port)
    await silent.handshake()
    mid_message = await RawClient.open(server.port)
    await mid_message.start_publish("good-mid")
    mid_message.video(0, avc_header())
    mid_message.writer.write(mid_message.encoder.encode(
        RtmpMessage(6, 9, 1, 40, avc_frame(os.urandom(5000), key=True)))[:3000])
    await mid_message.writer.drain()
    mid_message.writer.transport.abort()

    for client in (garbage, half_handshake, oversized, amf_garbage, silent):
        assert await client.closed_by_server(5.0)
    code, err = await publisher
    assert code == 0, err
    sink = authorizer.sink("good")
    await until(lambda: sink.close_calls == 1)
    assert received(sink) == source_packets(source_flv)
    broken = authorizer.sink("good-mid")
    await until(lambda: broken.close_calls == 1)
    assert broken.packets == []
    assert server.connection_count == 0


# -- scripted publishers ------------------------------------------------------------------


async def test_connect_sequence_and_publish(start_server: ServerFactory) -> None:
    server, authorizer = await start_server()
    client = await RawClient.open(server.port)
    await client.handshake()
    client.command("connect", 1.0, {"app": "live/", "objectEncoding": 0.0})
    replies = [await client.recv() for _ in range(4)]
    assert [m.type_id for m in replies] == [5, 6, 1, 20]
    assert client.decoder.chunk_size == 4096
    result = amf0.decode(replies[3].payload)
    assert result[:2] == ["_result", 1.0]
    assert info_object(result)["code"] == "NetConnection.Connect.Success"
    client.command("releaseStream", 2.0, None, "good")
    client.command("FCPublish", 3.0, None, "good")
    client.command("createStream", 4.0, None)
    assert (await client.expect_command("_result"))[1] == 2.0
    assert (await client.expect_command("_result"))[1] == 3.0
    assert await client.expect_command("_result") == ["_result", 4.0, None, 1.0]
    client.command("publish", 5.0, None, "good", "live", stream_id=1)
    begin = await client.recv()
    assert (begin.type_id, begin.payload) == (4, b"\x00\x00\x00\x00\x00\x01")
    status = await client.expect_command("onStatus")
    assert info_object(status)["code"] == "NetStream.Publish.Start"
    assert authorizer.requests[0].app == "live" and server.active_publishers == 1
    client.command("FCUnpublish", 6.0, None, "good")
    client.command("deleteStream", 7.0, None, 1.0)
    assert await client.closed_by_server()
    await until(lambda: authorizer.sinks[0].close_calls == 1)


async def test_refusal_reaches_the_client_and_logs_only_a_key_prefix(
        start_server: ServerFactory, caplog: pytest.LogCaptureFixture) -> None:
    server, authorizer = await start_server()
    caplog.set_level(logging.INFO, logger="courtcast.ingest.rtmp")
    client = await RawClient.open(server.port)
    info = await client.start_publish("secretkey123")
    assert info == {"level": "error", "code": "NetStream.Publish.BadName",
                    "description": "unknown stream key"}
    assert await client.closed_by_server()
    await until(lambda: server.connection_count == 0)
    [line] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    port = client.writer.get_extra_info("sockname")[1]
    assert f"127.0.0.1:{port}" in line and "secr…" in line and "unknown stream key" in line
    assert not any("secretkey123" in r.getMessage() for r in caplog.records)
    assert authorizer.sinks == []


async def test_media_and_metadata_from_a_scripted_publisher(start_server: ServerFactory) -> None:
    server, authorizer = await start_server()
    client = await RawClient.open(server.port)
    await client.start_publish("good")
    client.metadata(videocodecid=7.0, audiocodecid=10.0, width=640.0, height=360.0,
                    framerate=30.0, videodatarate=2500.0, audiodatarate=128.0)
    client.video(0, avc_header())
    client.video(0, avc_frame(b"\x00\x00\x00\x01\x65", key=True, cto=66))
    client.audio(0, aac_header())
    client.audio(21, aac_frame(b"\x21\x00"))
    client.video(33, avc_frame(b"\x00\x00\x00\x01\x41", cto=33))
    client.video(33, avc_header())  # repeated, identical: ignored
    await client.close()
    [sink] = authorizer.sinks
    await until(lambda: sink.close_calls == 1)
    [tracks] = sink.starts
    assert tracks[0] == TrackInfo(VIDEO, "h264", AVCC, width=640, height=360, frame_rate=30.0,
                                  bit_rate=2_500_000)
    assert tracks[1] == TrackInfo(AUDIO, "aac", b"\x12\x10", sample_rate=44100, channels=2,
                                  bit_rate=128_000)
    assert [(p.kind, p.dts, p.pts, p.keyframe) for p in sink.packets] == [
        (VIDEO, 0, 66, True), (AUDIO, 21, 21, True), (VIDEO, 33, 66, False)]


async def test_configuration_change_and_timestamp_wrap(start_server: ServerFactory) -> None:
    server, authorizer = await start_server()
    client = await RawClient.open(server.port)
    await client.start_publish("good")
    client.metadata(videocodecid=7.0)
    start = 2**32 - 100
    client.video(start, avc_header())
    for i in range(6):
        client.video((start + 40 * i) % 2**32, avc_frame(b"\x00\x00\x00\x01\x65", key=i == 0))
    other = AVCC.replace(b"\x00\x1e", b"\x00\x1f", 1)  # new level: a new configuration
    client.video((start + 240) % 2**32, avc_header(other))
    client.video((start + 240) % 2**32, avc_frame(b"\x00\x00\x00\x01\x65", key=True))
    await client.close()
    [sink] = authorizer.sinks
    await until(lambda: sink.close_calls == 1)
    assert [t[0].extradata for t in sink.starts] == [AVCC, other]
    assert [p.dts for p in sink.packets] == [start + 40 * i for i in range(7)]


async def test_acknowledgements_and_pings(start_server: ServerFactory) -> None:
    server, _ = await start_server()
    client = await RawClient.open(server.port)
    await client.handshake()
    client.send(RtmpMessage(2, MessageType.WINDOW_ACK_SIZE, 0, 0, (1000).to_bytes(4, "big")))
    client.command("connect", 1.0, {"app": "live"})
    await client.expect_command("_result")
    client.send(RtmpMessage(2, MessageType.USER_CONTROL, 0, 0, b"\x00\x06\x00\x00\x04\xd2"))
    pong = await client.recv()
    assert (pong.type_id, pong.payload) == (4, b"\x00\x07\x00\x00\x04\xd2")
    client.command("someUnknownCall", 9.0, None)
    assert (await client.expect_command("_error"))[1] == 9.0
    client.command("createStream", 2.0, None, stream_id=0)
    client.send(RtmpMessage(3, MessageType.COMMAND_AMF0, 0, 0,
                            amf0.encode("_checkbw", 0.0, None, "x" * 1500)))
    ack = await client.recv()
    while ack.type_id != MessageType.ACKNOWLEDGEMENT:
        ack = await client.recv()
    assert int.from_bytes(ack.payload, "big") >= 1000
    await client.close()


async def test_play_is_refused(start_server: ServerFactory) -> None:
    server, _ = await start_server()
    client = await RawClient.open(server.port)
    await client.handshake()
    client.command("connect", 1.0, {"app": "live"})
    client.command("createStream", 2.0, None)
    client.command("play", 3.0, None, "good", stream_id=1)
    status = await client.expect_command("onStatus")
    assert info_object(status)["code"] == "NetStream.Play.Failed"
    assert await client.closed_by_server()


async def test_media_before_publish_closes_the_connection(start_server: ServerFactory) -> None:
    server, authorizer = await start_server()
    client = await RawClient.open(server.port)
    await client.handshake()
    client.command("connect", 1.0, {"app": "live"})
    client.video(0, avc_header())
    assert await client.closed_by_server()
    assert authorizer.requests == []


async def test_unsupported_audio_codec_starts_video_alone(
        start_server: ServerFactory, caplog: pytest.LogCaptureFixture) -> None:
    server, authorizer = await start_server()
    client = await RawClient.open(server.port)
    await client.start_publish("good")
    client.metadata(videocodecid=7.0, audiocodecid=2.0)
    client.video(0, avc_header())
    for ts in (0, 26, 52):
        client.audio(ts, b"\x2f\xff\xfb\x90\x00")  # MP3
    client.video(40, avc_frame(b"\x00\x00\x00\x01\x65", key=True))
    await client.close()
    [sink] = authorizer.sinks
    await until(lambda: sink.close_calls == 1)
    assert [[t.codec for t in tracks] for tracks in sink.starts] == [["h264"]]
    assert [p.kind for p in sink.packets] == [VIDEO]
    assert sum("not supported" in r.getMessage() for r in caplog.records) == 1


async def test_a_failing_sink_ends_only_its_connection(start_server: ServerFactory) -> None:
    server, authorizer = await start_server(authorizer=RecordingAuthorizer(fail_after=1))
    client = await RawClient.open(server.port)
    await client.start_publish("good")
    client.metadata(videocodecid=7.0)
    client.video(0, avc_header())
    for ts in range(0, 200, 40):
        client.video(ts, avc_frame(b"\x00\x00\x00\x01\x65", key=ts == 0))
    assert await client.closed_by_server()
    await until(lambda: authorizer.sinks[0].close_calls == 1)
    assert len(authorizer.sinks[0].packets) == 1

    second = await RawClient.open(server.port)
    info = await second.start_publish("good-2")
    assert info["code"] == "NetStream.Publish.Start"
    await second.close()


async def test_timeouts_close_silent_sockets(start_server: ServerFactory) -> None:
    server, _ = await start_server(handshake_timeout=0.3, idle_timeout=0.5)
    silent = await RawClient.open(server.port)
    idle = await RawClient.open(server.port)
    await idle.handshake()
    began = time.monotonic()
    assert await silent.closed_by_server(3.0)
    assert await idle.closed_by_server(3.0)
    assert time.monotonic() - began < 2.0
    await until(lambda: server.connection_count == 0)


async def test_publisher_going_quiet_keeps_its_data(start_server: ServerFactory) -> None:
    server, authorizer = await start_server(idle_timeout=0.5)
    client = await RawClient.open(server.port)
    await client.start_publish("good")
    client.video(0, avc_header())
    client.video(0, avc_frame(b"\x00\x00\x00\x01\x65", key=True))
    assert await client.closed_by_server(3.0)
    [sink] = authorizer.sinks
    await until(lambda: sink.close_calls == 1)
    assert [t.codec for t in sink.starts[0]] == ["h264"]  # flushed on the way out
    assert len(sink.packets) == 1


async def test_close_ends_publishers_and_closes_their_sinks(start_server: ServerFactory) -> None:
    server, authorizer = await start_server()
    clients = [await RawClient.open(server.port) for _ in range(2)]
    for i, client in enumerate(clients):
        await client.start_publish(f"good-{i}")
    await until(lambda: server.active_publishers == 2)
    await server.close()
    assert [sink.close_calls for sink in authorizer.sinks] == [1, 1]
    assert server.active_publishers == 0 and server.connection_count == 0
    for client in clients:
        assert await client.closed_by_server()


async def test_connection_limit(start_server: ServerFactory) -> None:
    server, _ = await start_server(max_connections=1)
    first = await RawClient.open(server.port)
    await first.handshake()
    await until(lambda: server.connection_count == 1)
    second = await RawClient.open(server.port)
    assert await second.closed_by_server()
    await first.close()
