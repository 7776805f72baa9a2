"""Where a hearing's media lives in storage. Pure naming, shared by writers and the portal."""

from __future__ import annotations

from dataclasses import dataclass

MASTER = "master.m3u8"
MEDIA_PLAYLIST = "index.m3u8"


def public_root(hearing_id: int) -> str:
    return f"public/{hearing_id}"


def master_key(hearing_id: int) -> str:
    """The public master playlist: the hearing's `playback_url`, live and as replay."""
    return f"{public_root(hearing_id)}/{MASTER}"


@dataclass(frozen=True, slots=True)
class HearingLayout:
    hearing_id: int
    record_token: str  # unguessable, so the record's location cannot be derived from the id

    @property
    def public_root(self) -> str:
        return public_root(self.hearing_id)

    @property
    def record_root(self) -> str:
        return f"record/{self.hearing_id}-{self.record_token}"

    @property
    def master(self) -> str:
        return master_key(self.hearing_id)

    @property
    def record_master(self) -> str:
        return f"{self.record_root}/{MASTER}"

    def public_file(self, name: str) -> str:
        """A file of the hearing beside its renditions (poster, thumbnails)."""
        return f"{self.public_root}/{name}"

    def record_file(self, name: str) -> str:
        return f"{self.record_root}/{name}"

    def public(self, rendition: str, name: str) -> str:
        return f"{self.public_root}/{rendition}/{name}"

    def record(self, rendition: str, name: str) -> str:
        return f"{self.record_root}/{rendition}/{name}"
