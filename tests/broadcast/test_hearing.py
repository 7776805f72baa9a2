"""A hearing's broadcast with real parts: catalog (SQLite), local storage, the PyAV segmenter and
packets of a real H.264/AAC clip. Checks what reaches the public location and the record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from courtcast.broadcast.broadcaster import Broadcaster
from courtcast.catalog.service import Catalog
from courtcast.config import load
from courtcast.ingest.publish import MediaSink, PublishRefused, PublishRequest
from courtcast.media import MediaPacket, TrackKind
from courtcast.storage.local import LocalStorage
from courtcast.transcode.playlist import parse_media_playlist
from tests.transcode.clips import Clip, shifted


@dataclass
class Hearing:
    id: int
    key: str
    broadcaster: Broadcaster
    catalog: Catalog
    media: Path

    def public_segments(self) -> list[str]:
        return sorted(p.name for p in (self.media / "public" / str(self.id)).rglob("*.m4s"))

    def record_segments(self) -> list[str]:
        return sorted(p.name for p in (self.media / "record").rglob(f"{self.id}-*/**/*.m4s"))

    def public_playlist(self) -> str:
        path = self.media / "public" / str(self.id) / "source" / "index.m3u8"
        return path.read_text() if path.exists() else ""


@pytest.fixture
async def make_hearing(tmp_path: Path) -> AsyncIterator[object]:
    config = load(data=str(tmp_path))
    catalog = Catalog(config.database_url)
    catalog.migrate()
    assert config.media_dir
    broadcaster = Broadcaster(config, catalog, LocalStorage(config.media_dir))
    court = catalog.create_court(name="Court", level="basic", region="Region")
    assert court.id
    room = catalog.create_courtroom(court_id=court.id, name="Room")
    counter = iter(range(1000))
    approver = catalog.builtin_admin().id

    def make(delay: int = 0) -> Hearing:
        assert court.id and room.id
        case = catalog.create_case(court_id=court.id, case_number=f"C-{next(counter)}",
                                   title="T", case_type="civil", cause="contract dispute")
        assert case.id
        now = datetime.now(UTC)
        hearing = catalog.create_hearing(case_id=case.id, courtroom_id=room.id,
                                         scheduled_start=now, delay_seconds=delay,
                                         scheduled_end=now + timedelta(hours=1))
        assert hearing.id and config.media_dir
        assert approver is not None
        catalog.approve_hearing(hearing.id, account_id=approver)
        return Hearing(hearing.id, hearing.stream_key, broadcaster, catalog, config.media_dir)

    yield make
    await broadcaster.close()
    catalog.close()


async def publish(hearing: Hearing) -> MediaSink:
    return await hearing.broadcaster.begin_publish(
        PublishRequest("rtmp", hearing.key, "127.0.0.1:5000", "live"))


def gops(packets: Sequence[MediaPacket]) -> list[list[MediaPacket]]:
    """Packets grouped from one video keyframe to the next."""
    groups: list[list[MediaPacket]] = [[]]
    for packet in packets:
        if packet.kind is TrackKind.VIDEO and packet.keyframe and groups[-1]:
            groups.append([])
        groups[-1].append(packet)
    return groups


async def feed(sink: MediaSink, groups: Sequence[list[MediaPacket]], pause: float = 0.1) -> None:
    for group in groups:
        for packet in group:
            sink.write(packet)
        await asyncio.sleep(pause)  # segments are cut as each next keyframe arrives


async def test_the_public_trails_the_record_by_the_delay_and_a_cut_holds(
    make_hearing: object, clip: Clip
) -> None:
    hearing = make_hearing(delay=1)  # type: ignore[operator]
    sink = await publish(hearing)
    sink.start(clip.tracks)
    groups = gops(clip.packets)  # 5 GOPs of 2 s
    await feed(sink, groups[:3])  # segments 0 and 1 are complete
    assert len(hearing.record_segments()) == 2
    assert hearing.public_segments() == [], "the delay holds them back"
    await asyncio.sleep(1.2)
    assert hearing.public_segments() == ["000000.m4s", "000001.m4s"]
    assert hearing.catalog.hearing(hearing.id).status == "live"

    await feed(sink, groups[3:4])  # segment 2 is recorded, then the judge says stop
    await hearing.broadcaster.cut(hearing.id)
    assert hearing.catalog.hearing(hearing.id).status == "interrupted"
    await feed(sink, groups[4:])  # recorded during the cut
    continuation = gops(shifted(clip.packets, 10_000))
    await feed(sink, continuation[:1])
    await hearing.broadcaster.resume(hearing.id)
    await feed(sink, continuation[1:])
    await sink.close()
    await asyncio.sleep(1.2)
    await hearing.broadcaster.end_hearing(hearing.id)
    await asyncio.sleep(0.1)

    public = hearing.public_segments()
    assert "000002.m4s" not in public, "inside the delay window at the cut: never public"
    assert "000003.m4s" not in public and "000004.m4s" not in public, "recorded while cut"
    assert public[:2] == ["000000.m4s", "000001.m4s"] and len(public) > 2, public
    assert len(hearing.record_segments()) == 10, "the record keeps everything"
    playlist = parse_media_playlist(hearing.public_playlist())
    assert playlist.ended
    assert [s.uri for s in playlist.segments] == public
    assert any(s.discontinuity for s in playlist.segments[2:3]), "the cut shows as a gap"
    assert hearing.catalog.hearing(hearing.id).status == "ended"


async def test_withdraw_removes_the_public_replay_and_restore_brings_it_back(
    make_hearing: object, clip: Clip
) -> None:
    hearing = make_hearing()  # type: ignore[operator]
    sink = await publish(hearing)
    sink.start(clip.tracks)
    await feed(sink, gops(clip.packets), pause=0)
    await sink.close()
    await hearing.broadcaster.end_hearing(hearing.id)
    published = hearing.public_segments()
    before = hearing.public_playlist()
    assert len(published) == 5 and "#EXT-X-ENDLIST" in before
    poster = hearing.media / "public" / str(hearing.id) / "poster.jpg"
    # Fed faster than real time: the poster comes after its segment was public, and follows it.
    assert poster.read_bytes()[:3] == b"\xff\xd8\xff"
    assert hearing.catalog.hearing(hearing.id).has_poster

    hearing.catalog.set_status(hearing.id, "withdrawn")
    await hearing.broadcaster.withdraw(hearing.id)
    assert not (hearing.media / "public" / str(hearing.id)).exists()
    assert len(hearing.record_segments()) == 5
    with pytest.raises(PublishRefused):
        await publish(hearing)

    hearing.catalog.restore(hearing.id)
    await hearing.broadcaster.restore(hearing.id)
    assert hearing.public_segments() == published
    assert hearing.public_playlist() == before
    assert (hearing.media / "public" / str(hearing.id) / "master.m3u8").exists()
    assert poster.exists(), "restore brings the poster back"


async def test_ending_while_publishing_keeps_the_last_packets(
    make_hearing: object, clip: Clip
) -> None:
    hearing = make_hearing()  # type: ignore[operator]
    sink = await publish(hearing)
    sink.start(clip.tracks)
    await feed(sink, gops(clip.packets)[:2], pause=0)
    ending = asyncio.create_task(hearing.broadcaster.end_hearing(hearing.id))
    await asyncio.sleep(0.1)
    for packet in gops(clip.packets)[2]:  # still arriving within the grace period
        sink.write(packet)
    await sink.close()
    await ending
    assert hearing.public_segments() == ["000000.m4s", "000001.m4s", "000002.m4s"]
    with pytest.raises(PublishRefused):
        sink.write(clip.packets[0])
