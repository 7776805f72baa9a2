#!/usr/bin/env bash
# Sets up and runs every check: lint, types, unit and end-to-end tests (real ffmpeg, Chromium,
# PostgreSQL). Extra arguments go to pytest, e.g. `infra/test.sh -k rtmp`.
set -euo pipefail
cd "$(dirname "$0")/.."
infra/setup.sh --test

# The catalog tests run against the real PostgreSQL server too.
if ! pg_isready -q -h 127.0.0.1 2>/dev/null; then
  for version in /etc/postgresql/*; do
    pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
  done
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
fi

.venv/bin/ruff check courtcast tests bench
.venv/bin/mypy
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
