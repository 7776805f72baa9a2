"""A hearing's playlists: the court's record, the public media playlist and the master.

Rendering is `courtcast.transcode.playlist`'s; this module decides what each lists and when it
is rewritten. Callers add a segment only after the segment itself is stored.
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
MASTER_GROWTH = 1.1  # rewrite the master when the measured peak grows by more than this


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
        self._master_bandwidth = 0  # the BANDWIDTH the stored master states; 0 = none stored

    def load(self, segments: Sequence[Segment]) -> None:
        """Resume from the catalog after a restart; the stored master stays as it is."""
        for segment in segments:
            self.record.append(playlist_entry(segment))
            if segment.published_at is not None:
                self.public.append(playlist_entry(segment))
                self.meter.add(segment.size, segment.duration)
        self._master_bandwidth = self.meter.bandwidth

    async def add_record(self, segment: Segment) -> None:
        self.record.append(playlist_entry(segment))
        await self._write_record(ended=False)

    async def add_public(self, segment: Segment, tracks: Sequence[TrackInfo]) -> None:
        self.public.append(playlist_entry(segment))
        self.meter.add(segment.size, segment.duration)
        self.tracks = tracks
        await self._write_public(ended=False)
        if self.meter.bandwidth > self._master_bandwidth * MASTER_GROWTH:
            await self._write_master(LIVE_PLAYLIST)

    async def finish(self) -> None:
        """The hearing ended: every playlist gets EXT-X-ENDLIST and may be cached long."""
        if self.record:
            await self._write_record(ended=True)
        if self.public:
            await self._write_public(ended=True)
            if self.tracks:
                await self._write_master(FINAL_PLAYLIST)

    async def _write_record(self, *, ended: bool) -> None:
        text = MediaPlaylist(self.record, self.target_duration, ended=ended).render()
        await self.storage.put(self.layout.record(RENDITION, MEDIA_PLAYLIST), text.encode(),
                               ObjectMeta(PLAYLIST_TYPE, PRIVATE))

    async def _write_public(self, *, ended: bool) -> None:
        text = MediaPlaylist(self.public, self.target_duration, ended=ended).render()
        cache = FINAL_PLAYLIST if ended else LIVE_PLAYLIST
        await self.storage.put(self.layout.public(RENDITION, MEDIA_PLAYLIST), text.encode(),
                               ObjectMeta(PLAYLIST_TYPE, cache))

    async def _write_master(self, cache: str) -> None:
        variant = source_variant(f"{RENDITION}/{MEDIA_PLAYLIST}", self.tracks, self.meter)
        text = render_master_playlist([variant])
        await self.storage.put(self.layout.master, text.encode(), ObjectMeta(PLAYLIST_TYPE, cache))
        self._master_bandwidth = variant.bandwidth
