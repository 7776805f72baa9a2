# The transcode tests' real H.264/AAC clip, made with the ffmpeg CLI once per session.
from tests.transcode.conftest import clip, media_dir

__all__ = ["clip", "media_dir"]
