"""Browser assets the portal serves itself: hls.js comes from npm, never a third-party CDN.

A source checkout gets it with `npm ci` (package.json / package-lock.json at the repository
root); a built package ships `static/vendor/hls.min.js`, so nothing runs there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VENDOR_DIR = Path(__file__).resolve().with_name("static") / "vendor"
HLS_DIST = Path("node_modules") / "hls.js" / "dist" / "hls.min.js"
NPM_TIMEOUT = 600


class AssetError(RuntimeError):
    """A browser asset is missing and cannot be produced; the message says what to do."""


def ensure_vendor(repo_root: Path = REPO_ROOT, vendor_dir: Path = VENDOR_DIR) -> Path:
    """Return the vendored hls.min.js, installing and copying it first when missing.

    A copy that differs from node_modules' build (after a lockfile update) is replaced.
    """
    target = vendor_dir / "hls.min.js"
    source = repo_root / HLS_DIST
    if target.is_file() and (not source.is_file() or _same_file(source, target)):
        return target
    if not source.is_file():
        _npm_ci(repo_root)
    if not source.is_file():
        raise AssetError(f"npm ci ran but {source} is still missing")
    vendor_dir.mkdir(parents=True, exist_ok=True)
    # Copy aside then rename, so a concurrent server never serves half a file.
    partial = vendor_dir / f".hls.min.js.{os.getpid()}.tmp"
    shutil.copyfile(source, partial)
    os.replace(partial, target)
    return target


def _same_file(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def _npm_ci(repo_root: Path) -> None:
    if not (repo_root / "package-lock.json").is_file():
        raise AssetError(
            f"hls.js is missing and {repo_root} has no package-lock.json to install it from; "
            "reinstall courtcast (its package ships static/vendor/hls.min.js)"
        )
    npm = shutil.which("npm")
    if npm is None:
        raise AssetError(
            "hls.js is missing and npm is not installed: install Node.js and npm "
            f"(e.g. `apt-get install nodejs npm`), then run `npm ci` in {repo_root}"
        )
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip()[-2000:]
        raise AssetError(f"`npm ci` in {repo_root} failed ({result.returncode}): {tail}")
