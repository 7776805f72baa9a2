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
