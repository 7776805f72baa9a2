"""Local-directory storage: the embedded default, served to viewers by the portal itself."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from courtcast.storage.base import ObjectMeta, ObjectNotFound, Storage, StorageError


def safe_key(key: str) -> PurePosixPath:
    """Reject keys that could escape the root (absolute, '..', empty parts)."""
    path = PurePosixPath(key)
    if not key or path.is_absolute() or any(part in ("", ".", "..") for part in key.split("/")):
        raise StorageError(f"invalid storage key {key!r}")
    return path


class LocalStorage(Storage):
    def __init__(self, root: Path, public_base_url: str = "/media") -> None:
        self.root = root
        self.public_base_url = public_base_url.rstrip("/")
        root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root.joinpath(*safe_key(key).parts)

    async def put(self, key: str, data: bytes, meta: ObjectMeta) -> None:
        await asyncio.to_thread(self._write_atomically, self.path(key), data)

    @staticmethod
    def _write_atomically(target: Path, data: bytes) -> None:
        # Viewers must never read a half-written playlist: write aside, then rename over.
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def copy(self, source: str, target: str, meta: ObjectMeta) -> None:
        await asyncio.to_thread(self._copy, self.path(source), self.path(target))

    def _copy(self, source: Path, target: Path) -> None:
        try:
            data = source.read_bytes()
        except FileNotFoundError as exc:
            raise ObjectNotFound(str(source.relative_to(self.root))) from exc
        self._write_atomically(target, data)

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path(key).read_bytes)
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    async def delete_prefix(self, prefix: str) -> int:
        keys = await self.list_keys(prefix)
        directory = self.path(prefix.rstrip("/"))
        if directory.is_dir():
            await asyncio.to_thread(shutil.rmtree, directory)
        else:
            for key in keys:
                self.path(key).unlink(missing_ok=True)
        return len(keys)

    async def list_keys(self, prefix: str) -> list[str]:
        return await asyncio.to_thread(self._list, prefix)

    def _list(self, prefix: str) -> list[str]:
        base = self.path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        candidates = base.rglob("*") if base.is_dir() else self.root.rglob(f"{prefix}*")
        keys = (p.relative_to(self.root).as_posix() for p in candidates if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and "/.tmp-" not in f"/{k}")

    def public_url(self, key: str) -> str:
        return f"{self.public_base_url}/{safe_key(key)}"
