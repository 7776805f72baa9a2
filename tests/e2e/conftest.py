"""A real `courtcast serve` process, a bearer token from the real CLI, and headless Chromium."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import Engine

from tests.helpers import eventually, free_port
from tests.postgres import throwaway_database

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@dataclass
class RunningServer:
    base_url: str
    rtmp_port: int
    data_dir: Path
    token: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def api(self, method: str, path: str, json: Any = None, *, auth: bool = True,
                  expect: int | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        async with aiohttp.ClientSession() as session, session.request(
            method, f"{self.base_url}{path}", json=json, headers=headers
        ) as response:
            body = await response.json(content_type=None)
            if expect is not None:
                assert response.status == expect, (response.status, body)
            return body

    async def get_text(self, url: str) -> tuple[int, str]:
        absolute = url if url.startswith("http") else f"{self.base_url}{url}"
        async with aiohttp.ClientSession() as session, session.get(absolute) as response:
            return response.status, await response.text()

    def url(self, path_or_url: str) -> str:
        return path_or_url if path_or_url.startswith("http") else f"{self.base_url}{path_or_url}"


def courtcast_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "courtcast", *args]


def start_server(data_dir: Path, *extra: str, command: str = "serve") -> RunningServer:
    """`extra` options go to both `token create` and the server (e.g. `--database URL`)."""
    http_port, rtmp_port = free_port(), free_port()
    token = subprocess.run(
        courtcast_command("token", "create", "--role", "admin", "--data", str(data_dir), *extra),
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    log_path = data_dir / f"{command}.log"
    process = subprocess.Popen(
        courtcast_command(command, "--data", str(data_dir), "--http", f"127.0.0.1:{http_port}",
                          "--rtmp", f"127.0.0.1:{rtmp_port}", *extra),
        stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
    )
    return RunningServer(f"http://127.0.0.1:{http_port}", rtmp_port, data_dir, token, process,
                         log_path)


def create_account(server: RunningServer, username: str, password: str, *options: str) -> str:
    """An account made with `courtcast account create` (e.g. `--role clerk --court 3`)."""
    result = subprocess.run(
        courtcast_command("account", "create", "--username", username,
                          "--data", str(server.data_dir), *options),
        input=password + "\n", capture_output=True, text=True, check=True, timeout=60)
    return result.stdout.strip()


async def sign_in(page: Any, server: RunningServer, username: str, password: str) -> None:
    await page.goto(f"{server.base_url}/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_url(f"{server.base_url}/clerk")
    assert await page.text_content("#signed-in-as") == username


async def wait_healthy(server: RunningServer, timeout: float = 60) -> None:
    async def healthy() -> bool:
        assert server.process.poll() is None, f"server exited:\n{server.log()}"
        try:
            status, _ = await server.get_text("/healthz")
        except aiohttp.ClientError:
            return False
        return status == 200

    await eventually(healthy, timeout=timeout, what="the server to answer /healthz")


def stop_server(server: RunningServer) -> int:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired as timeout:
            server.process.kill()
            server.process.wait()
            raise AssertionError(
                f"server did not stop on SIGINT:\n{server.log()[-3000:]}"
            ) from timeout
    return server.process.returncode


async def serving(
    data_dir: Path, *extra: str, command: str = "serve"
) -> AsyncIterator[RunningServer]:
    running = start_server(data_dir, *extra, command=command)
    try:
        await wait_healthy(running)
        yield running
    finally:
        code = stop_server(running)
    assert code == 0, f"server exited with {code}:\n{running.log()[-3000:]}"
    assert "Traceback" not in running.log(), running.log()[-5000:]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    async for running in serving(tmp_path / "data"):
        yield running


@pytest.fixture
async def postgres_server(tmp_path: Path, pg_admin: Engine) -> AsyncIterator[RunningServer]:
    """The production catalog: `courtcast serve --database postgresql://...`."""
    with throwaway_database(pg_admin) as url:
        async for running in serving(tmp_path / "data", "--database", url):
            yield running


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (infra/setup.sh --test installs it)")
        pytest.skip("chromium not installed")
    return path


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_FLAGS
        )
        try:
            yield instance
        finally:
            await instance.close()



__all__ = ["RunningServer", "start_server", "stop_server", "wait_healthy"]
