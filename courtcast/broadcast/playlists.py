"""A hearing's playlists: per rendition the court's record and the public media playlist, and a
master playlist for each side.

Rendering is `courtcast.transcode.playlist`'s; this module decides what each lists and when it
is rewritten. Callers add a segment only after the segment itself is stored. The record keeps a
master of its own, which is also what a restored replay's public master is copied from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from courtcast.broadcast.layout import MEDIA_PLAYLIST, HearingLayout
from courtcast.catalog.models import Segment
from courtcast.media import TrackInfo
from courtcast.storage.base import FINAL_PLAYLIST, LIVE_PLAYLIST, PRIVATE, ObjectMeta, Storage
from courtcast.transcode.ladder import master_variants
from courtcast.transcode.playlist import (
    BandwidthMeter,
    PlaylistSegment,
    SegmentLines,
    render_master_playlist,
    render_media,
)

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
MASTER_GROWTH = 1.1  # rewrite a master when a measured peak grows by more than this


def playlist_entry(segment: Segment) -> PlaylistSegment:
    return PlaylistSegment(
        uri=segment.uri,
        duration=segment.duration,
        program_date_time=segment.program_date_time,
        discontinuity=segment.discontinuity,
        init_uri=segment.init_uri,
        sequence=segment.sequence,
    )


def media_uri(rendition: str) -> str:
    return f"{rendition}/{MEDIA_PLAYLIST}"


class PlaylistWriter:
    def __init__(self, layout: HearingLayout, storage: Storage, target_duration: float) -> None:
        self.layout = layout
        self.storage = storage
        self.target_duration = target_duration
        self.record: dict[str, SegmentLines] = defaultdict(SegmentLines)
        self.public: dict[str, SegmentLines] = defaultdict(SegmentLines)
        self.meters: dict[str, BandwidthMeter] = {}
        self.tracks: dict[str, tuple[TrackInfo, ...]] = {}  # renditions being produced
        # What each stored master states: {rendition: BANDWIDTH}; None = not stored by us.
        self._record_master: dict[str, int] | None = None
        self._public_master: dict[str, int] | None = None

    def meter(self, rendition: str) -> BandwidthMeter:
        return self.meters.setdefault(rendition, BandwidthMeter(self.target_duration))

    def load(self, segments: Sequence[Segment]) -> None:
        """Resume from the catalog after a restart; stored masters stay as they are."""
        for segment in segments:
            self.record[segment.rendition].append(playlist_entry(segment))
            self.meter(segment.rendition).add(segment.size, segment.duration)
            if segment.published_at is not None:
                self.public[segment.rendition].append(playlist_entry(segment))

    def started(self, rendition: str, tracks: Sequence[TrackInfo]) -> None:
        self.tracks[rendition] = tuple(tracks)

    async def dropped(self, rendition: str) -> None:
        """A rendition stops for good (the machine is behind): masters no longer offer it."""
        self.tracks.pop(rendition, None)
        await self._write_masters(force=True, cache=LIVE_PLAYLIST)

    async def add_record(self, segment: Segment) -> None:
        entries = self.record[segment.rendition]
        entries.append(playlist_entry(segment))
        self.meter(segment.rendition).add(segment.size, segment.duration)
        await self._write_media(self.layout.record(segment.rendition, MEDIA_PLAYLIST), entries,
                                ended=False, cache=PRIVATE)
        await self._write_masters(force=False, cache=LIVE_PLAYLIST)

    async def add_public(self, segment: Segment) -> None:
        entries = self.public[segment.rendition]
        entries.append(playlist_entry(segment))
        await self._write_media(self.layout.public(segment.rendition, MEDIA_PLAYLIST), entries,
                                ended=False, cache=LIVE_PLAYLIST)
        await self._write_masters(force=False, cache=LIVE_PLAYLIST)

    async def finish_record(self) -> None:
        for rendition, entries in self.record.items():
            await self._write_media(self.layout.record(rendition, MEDIA_PLAYLIST), entries,
                                    ended=True, cache=PRIVATE)

    async def finish_public(self) -> None:
        """The public broadcast is over: EXT-X-ENDLIST, and playlists may be cached long."""
        for rendition, entries in self.public.items():
            if entries:
                await self._write_media(self.layout.public(rendition, MEDIA_PLAYLIST), entries,
                                        ended=True, cache=FINAL_PLAYLIST)
        await self._write_masters(force=True, cache=FINAL_PLAYLIST)

    async def restore_public(self, *, ended: bool) -> None:
        """Rewrite the public playlists of a restored replay from what had been published."""
        cache = FINAL_PLAYLIST if ended else LIVE_PLAYLIST
        for rendition, entries in self.public.items():
            if entries:
                await self._write_media(self.layout.public(rendition, MEDIA_PLAYLIST), entries,
                                        ended=ended, cache=cache)
        if any(self.public.values()):
            await self.storage.copy(self.layout.record_master, self.layout.master,
                                    ObjectMeta(PLAYLIST_TYPE, FINAL_PLAYLIST))

    async def _write_media(
        self, key: str, entries: SegmentLines, *, ended: bool, cache: str
    ) -> None:
        text = render_media(entries, self.target_duration, ended=ended)
        await self.storage.put(key, text.encode(), ObjectMeta(PLAYLIST_TYPE, cache))

    async def _write_masters(self, *, force: bool, cache: str) -> None:
        # A master names only renditions whose media playlist exists on its side.
        record = self._offered(self.record)
        if record and (force or self._stale(self._record_master, record)):
            await self._write_master(self.layout.record_master, record, PRIVATE)
            self._record_master = record
        public = self._offered(self.public)
        if public and (force or self._stale(self._public_master, public)):
            await self._write_master(self.layout.master, public, cache)
            self._public_master = public

    def _offered(self, side: dict[str, SegmentLines]) -> dict[str, int]:
        return {r: self.meter(r).bandwidth for r in self.tracks if side.get(r)}

    @staticmethod
    def _stale(stated: dict[str, int] | None, now: dict[str, int]) -> bool:
        if stated is None or stated.keys() != now.keys():
            return True
        return any(now[r] > stated[r] * MASTER_GROWTH for r in now)

    async def _write_master(self, key: str, offered: dict[str, int], cache: str) -> None:
        renditions = {r: (self.tracks[r], self.meter(r)) for r in offered}
        text = render_master_playlist(master_variants(renditions, media_uri))
        await self.storage.put(key, text.encode(), ObjectMeta(PLAYLIST_TYPE, cache))


