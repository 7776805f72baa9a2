"""Media storage: one interface, a local-directory backend and (later) S3 behind it."""
