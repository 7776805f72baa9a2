"""Media storage: one interface; a local-directory backend, and S3 behind a crash-safe spool."""
