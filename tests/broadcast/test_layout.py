from courtcast.broadcast.layout import HearingLayout, master_key


def test_public_and_record_locations_are_apart() -> None:
    layout = HearingLayout(7, "s3cr3t")
    assert layout.master == master_key(7) == "public/7/master.m3u8"
    assert layout.public("source", "000001.m4s") == "public/7/source/000001.m4s"
    assert layout.record("source", "000001.m4s") == "record/7-s3cr3t/source/000001.m4s"
    assert not layout.record_root.startswith(layout.public_root)
