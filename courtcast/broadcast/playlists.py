"""A hearing's playlists: the court's record, the public media playlist and their masters.

Rendering is `courtcast.transcode.playlist`'s; this module decides what each lists and when it
is rewritten. Callers add a segment only after the segment itself is stored. The record keeps a
master playlist of its own, which is also what a restored replay's public master is copied from.
"""

from __future__ import annotations

from collections.abc import Sequence

from courtcast.broadcast.layout import MEDIA_PLAYLIST, HearingLayout
from courtcast.catalog.models import Segment
from courtcast.media import TrackInfo
from courtcast.storage.base import FINAL_PLAYLIST, LIVE_PLAYLIST, PRIVATE, ObjectMeta, Storage
from courtcast.transcode.playlist import (
    BandwidthMeter,
    MediaPlaylist,
    PlaylistSegment,
    render_master_playlist,
    source_variant,
)

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
RENDITION = "source"
MASTER_GROWTH = 1.1  # rewrite a master when the measured peak grows by more than this


def playlist_entry(segment: Segment) -> PlaylistSegment:
    return PlaylistSegment(
        uri=segment.uri,
        duration=segment.duration,
        program_date_time=segment.program_date_time,
        discontinuity=segment.discontinuity,
        init_uri=segment.init_uri,
        sequence=segment.sequence,
    )


class PlaylistWriter:
    def __init__(self, layout: HearingLayout, storage: Storage, target_duration: float) -> None:
        self.layout = layout
        self.storage = storage
        self.target_duration = target_duration
        self.record: list[PlaylistSegment] = []
        self.public: list[PlaylistSegment] = []
        self.meter = BandwidthMeter(target_duration)
        self.tracks: Sequence[TrackInfo] = ()
        # The BANDWIDTH each stored master states; 0 = not stored by this process.
        self._record_master = 0
        self._public_master = 0

    def load(self, segments: Sequence[Segment]) -> None:
        """Resume from the catalog after a restart; stored masters stay as they are."""
        for segment in segments:
            self.record.append(playlist_entry(segment))
            self.meter.add(segment.size, segment.duration)
            if segment.published_at is not None:
                self.public.append(playlist_entry(segment))
        if self.record:
            self._record_master = self.meter.bandwidth
        if self.public:
            self._public_master = self.meter.bandwidth

    async def add_record(self, segment: Segment, tracks: Sequence[TrackInfo]) -> None:
        self.record.append(playlist_entry(segment))
        self.meter.add(segment.size, segment.duration)
        self.tracks = tracks
        await self._write_media(self.layout.record(RENDITION, MEDIA_PLAYLIST), self.record,
                                ended=False, cache=PRIVATE)
        if self._stale(self._record_master):
            self._record_master = await self._write_master(self.layout.record_master, PRIVATE)

    async def add_public(self, segment: Segment) -> None:
        self.public.append(playlist_entry(segment))
        await self._write_media(self.layout.public(RENDITION, MEDIA_PLAYLIST), self.public,
                                ended=False, cache=LIVE_PLAYLIST)
        if self._stale(self._public_master):
            self._public_master = await self._write_master(self.layout.master, LIVE_PLAYLIST)

    async def finish_record(self) -> None:
        if self.record:
            await self._write_media(self.layout.record(RENDITION, MEDIA_PLAYLIST), self.record,
                                    ended=True, cache=PRIVATE)
            if self.tracks:
                await self._write_master(self.layout.record_master, PRIVATE)

    async def finish_public(self) -> None:
        """The public broadcast is over: EXT-X-ENDLIST, and playlists may be cached long."""
        if self.public:
            await self._write_media(self.layout.public(RENDITION, MEDIA_PLAYLIST), self.public,
                                    ended=True, cache=FINAL_PLAYLIST)
            if self.tracks:
                await self._write_master(self.layout.master, FINAL_PLAYLIST)

    async def restore_public(self, *, ended: bool) -> None:
        """Rewrite the public playlists of a restored replay from what had been published."""
        if not self.public:
            return
        await self._write_media(self.layout.public(RENDITION, MEDIA_PLAYLIST), self.public,
                                ended=ended, cache=FINAL_PLAYLIST if ended else LIVE_PLAYLIST)
        await self.storage.copy(self.layout.record_master, self.layout.master,
                                ObjectMeta(PLAYLIST_TYPE, FINAL_PLAYLIST))

    def _stale(self, stated: int) -> bool:
        return bool(self.tracks) and self.meter.bandwidth > stated * MASTER_GROWTH

    async def _write_media(
        self, key: str, entries: list[PlaylistSegment], *, ended: bool, cache: str
    ) -> None:
        text = MediaPlaylist(entries, self.target_duration, ended=ended).render()
        await self.storage.put(key, text.encode(), ObjectMeta(PLAYLIST_TYPE, cache))

    async def _write_master(self, key: str, cache: str) -> int:
        variant = source_variant(f"{RENDITION}/{MEDIA_PLAYLIST}", self.tracks, self.meter)
        text = render_master_playlist([variant])
        await self.storage.put(key, text.encode(), ObjectMeta(PLAYLIST_TYPE, cache))
        return variant.bandwidth


