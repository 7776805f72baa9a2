"""The on-disk journal of storage operations not yet done: one file per operation.

A file is a JSON header line, then the object's bytes (puts only). It is written aside, fsynced,
renamed into place and the directory fsynced, so after a crash an operation is either wholly
in the journal or not at all; a header carries the body's length and CRC32, so a torn or
damaged file is recognised (and set aside, never silently dropped). Files are removed once the
operation is done in storage. All methods block: call them from a worker thread.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zlib
from pathlib import Path
from typing import Any

from courtcast.storage.base import ObjectMeta, StorageError
from courtcast.storage.scheduler import Op, Operation

log = logging.getLogger("courtcast.storage.spool")

SUFFIX = ".op"


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.ops_dir = root / "ops"
        self.damaged_dir = root / "damaged"
        self.ops_dir.mkdir(parents=True, exist_ok=True)

    def path(self, seq: int) -> Path:
        return self.ops_dir / f"{seq:016d}{SUFFIX}"

    def write(self, op: Operation, body: bytes = b"") -> None:
        """Make `op` durable; raises StorageError when the local disk refuses."""
        header = json.dumps(_header(op, body), separators=(",", ":")).encode()
        try:
            fd, tmp = tempfile.mkstemp(dir=self.ops_dir, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(header + b"\n" + body)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path(op.seq))
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            _fsync_dir(self.ops_dir)
        except OSError as exc:
            raise StorageError(f"cannot spool {op.key!r} in {self.ops_dir}: {exc}") from exc

    def read_body(self, seq: int) -> bytes:
        """The spooled bytes of a put; FileNotFoundError once it is done."""
        with self.path(seq).open("rb") as handle:
            handle.readline()
            return handle.read()

    def remove(self, seq: int) -> None:
        self.path(seq).unlink(missing_ok=True)

    def load(self) -> list[Operation]:
        """Every operation in the journal, oldest first (after a restart)."""
        for stale in self.ops_dir.glob(".tmp-*"):
            stale.unlink()  # a write the crash interrupted: its put never returned
        ops: list[Operation] = []
        for path in sorted(self.ops_dir.glob(f"*{SUFFIX}")):
            op = self._read_op(path)
            if op is not None:
                ops.append(op)
        return ops

    def _read_op(self, path: Path) -> Operation | None:
        try:
            with path.open("rb") as handle:
                header = json.loads(handle.readline())
                body = handle.read()
            op = _operation(header)
            if len(body) != header["size"] or zlib.crc32(body) != header["crc32"]:
                raise ValueError("body length or checksum does not match")
            return op
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.damaged_dir.mkdir(exist_ok=True)
            path.replace(self.damaged_dir / path.name)
            log.error("spooled operation %s is damaged (%s); kept in %s for inspection",
                      path.name, exc, self.damaged_dir)
            return None


def _header(op: Operation, body: bytes) -> dict[str, Any]:
    meta = op.meta
    return {
        "seq": op.seq, "op": op.op.value, "key": op.key, "source": op.source,
        "content_type": meta.content_type if meta else None,
        "cache_control": meta.cache_control if meta else None,
        "spooled_at": op.spooled_at, "size": len(body), "crc32": zlib.crc32(body),
    }


def _operation(header: dict[str, Any]) -> Operation:
    meta = None
    if header["content_type"] is not None:
        meta = ObjectMeta(header["content_type"], header["cache_control"])
    return Operation(
        seq=int(header["seq"]), op=Op(header["op"]), key=header["key"], meta=meta,
        source=header["source"], size=int(header["size"]),
        spooled_at=float(header["spooled_at"]),
    )


def _fsync_dir(directory: Path) -> None:
    # The rename itself must survive a power loss, not only the file's bytes.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
