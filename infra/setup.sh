#!/usr/bin/env bash
# Sets CourtCast up on a fresh Debian machine: system packages, a virtualenv, the portal's hls.js.
#   infra/setup.sh          what `courtcast demo` / `serve` need
#   infra/setup.sh --test   also what the test suite needs (Chromium, PostgreSQL)
set -euo pipefail
cd "$(dirname "$0")/.."
with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

sudo_cmd=""
[ "$(id -u)" != 0 ] && sudo_cmd="sudo"

missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)          # the simulated courtroom's encoder
command -v npm >/dev/null || missing+=(npm)                # installs hls.js for the player
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)  # CJK captions
if [ "$with_tests" = 1 ]; then
  command -v chromium >/dev/null || missing+=(chromium chromium-driver)
  command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
  command -v nginx >/dev/null || missing+=(nginx libnginx-mod-rtmp)  # benchmark reference
fi
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
extras=""
[ "$with_tests" = 1 ] && extras="[test]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"

if [ ! -d node_modules/hls.js ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
.venv/bin/python -c 'from courtcast.web.assets import ensure_vendor; ensure_vendor()'
echo "setup: ready (.venv/bin/courtcast)" >&2
