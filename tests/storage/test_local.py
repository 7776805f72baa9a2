from pathlib import Path

import pytest

from courtcast.storage.base import IMMUTABLE, ObjectMeta, ObjectNotFound, StorageError
from courtcast.storage.local import LocalStorage

META = ObjectMeta("video/iso.segment", IMMUTABLE)


async def test_put_get_list_delete(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, "/media")
    await storage.put("public/1/source/000000.m4s", b"a", META)
    await storage.put("public/1/source/000001.m4s", b"b", META)
    await storage.put("public/12/source/000000.m4s", b"c", META)
    assert await storage.get("public/1/source/000001.m4s") == b"b"
    assert await storage.list_keys("public/1/") == [
        "public/1/source/000000.m4s", "public/1/source/000001.m4s"]
    assert await storage.delete_prefix("public/1/") == 2
    assert await storage.list_keys("public/") == ["public/12/source/000000.m4s"]
    with pytest.raises(ObjectNotFound):
        await storage.get("public/1/source/000000.m4s")


async def test_overwrite_is_atomic_and_leaves_no_temporaries(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.put("public/1/master.m3u8", b"#EXTM3U\n1", META)
    await storage.put("public/1/master.m3u8", b"#EXTM3U\n2", META)
    assert (tmp_path / "public/1/master.m3u8").read_bytes() == b"#EXTM3U\n2"
    assert [p.name for p in (tmp_path / "public/1").iterdir()] == ["master.m3u8"]


@pytest.mark.parametrize("key", ["", "/etc/passwd", "public/../record/x", "public//x", "./a"])
async def test_keys_cannot_escape_the_root(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path)
    with pytest.raises(StorageError):
        await storage.put(key, b"x", META)


def test_public_url(tmp_path: Path) -> None:
    local = LocalStorage(tmp_path)
    assert local.public_url("public/1/master.m3u8") == "/media/public/1/master.m3u8"
    cdn = LocalStorage(tmp_path, "https://cdn.example/media/")
    assert cdn.public_url("public/1/master.m3u8") == "https://cdn.example/media/public/1/master.m3u8"


async def test_copy(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.put("record/1-x/source/000000.m4s", b"segment", META)
    await storage.copy("record/1-x/source/000000.m4s", "public/1/source/000000.m4s", META)
    assert await storage.get("public/1/source/000000.m4s") == b"segment"
    with pytest.raises(ObjectNotFound):
        await storage.copy("record/1-x/source/missing.m4s", "public/1/x", META)
