"""Prometheus metrics that operators watch (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ACTIVE_PUBLISHERS = Gauge(
    "courtcast_active_publishers", "Publishers currently sending media", ["protocol"]
)
PUBLISH_REFUSED = Counter(
    "courtcast_publish_refused_total", "Publish attempts refused", ["protocol", "reason"]
)
SEGMENTS = Counter("courtcast_segments_total", "Segments stored in the complete record")
SEGMENT_BYTES = Counter("courtcast_segment_bytes_total", "Bytes of segments stored")
PUBLISH_LAG = Histogram(
    "courtcast_segment_publish_lag_seconds",
    "From a segment's last packet arriving to the segment being listed in the public playlist",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
STORAGE_RETRIES = Counter("courtcast_storage_retries_total", "Storage writes retried")

# S3 storage: what waits in the local spool and how far uploads lag behind the pipeline.
SPOOL_BYTES = Gauge("courtcast_spool_bytes", "Bytes spooled on local disk, not yet in storage")
SPOOL_OBJECTS = Gauge(
    "courtcast_spool_objects", "Storage operations spooled on local disk, not yet done"
)
SPOOL_OVER_LIMIT = Gauge(
    "courtcast_spool_over_limit", "1 while the spool holds more than --spool-limit"
)
UPLOADS = Counter("courtcast_storage_uploads_total", "Spooled storage operations completed")
UPLOAD_FAILURES = Counter(
    "courtcast_storage_upload_failures_total", "Storage operations that failed and will be retried"
)
UPLOAD_LAG = Histogram(
    "courtcast_storage_upload_lag_seconds",
    "From an object being spooled (the pipeline's write returning) to it being in storage",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0),
)
TRANSCODE_LAG = Histogram(
    "courtcast_transcode_lag_seconds",
    "How far a hearing's transcoding is behind real time: wall time now minus the time the "
    "media being transcoded arrived (sampled once a second per hearing)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0),
)
RENDITIONS_DROPPED = Counter(
    "courtcast_renditions_dropped_total",
    "Renditions shed because transcoding fell behind real time",
    ["rendition"],
)
TRANSCODE_PACKETS_DROPPED = Counter(
    "courtcast_transcode_packets_dropped_total",
    "Packets the transcoding queue of a hearing had no room for (the worker is stalled)",
)
