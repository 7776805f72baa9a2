"""A clerk's day in Chromium against the real `courtcast serve`: the first administrator from
the command line, a clerk account made in the admin pages, sign-in, scheduling, approval, a real
ffmpeg courtroom, cut and resume, end, withdrawal with a reason and restore; the audit log keeps
every step. The media effects of cut and withdraw are test_delay_cut's; here the page flow and
the status changes are checked, with a clean console (the strict CSP reports violations there).
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from courtcast.catalog.service import AuditQuery, Catalog
from courtcast.simulator import publish_command
from courtcast.web.render import DISPLAY_ZONE
from tests.e2e.conftest import RunningServer, create_account, sign_in
from tests.e2e.test_live_spine import SMALL, wait_status
from tests.helpers import eventually

pytestmark = pytest.mark.e2e

ADMIN_PASSWORD = "chief clerk's long password"
CLERK_PASSWORD = "clerk li's long password"


def create_admin(server: RunningServer) -> str:
    return create_account(server, "chief", ADMIN_PASSWORD, "--role", "admin")


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    page = await browser.new_page()
    errors: list[str] = []

    def on_console(message: Any) -> None:
        url = message.location.get("url", "")
        # The monitor polls the record until the courtroom sends media: 404s until then.
        waiting = "/record/" in url and "404" in message.text
        if message.type == "error" and not waiting:
            errors.append(f"{message.text} {url}")

    page.on("console", on_console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.console_errors = errors
    yield page
    await page.close()


async def click_and_wait(page: Any, selector: str, done: str) -> None:
    await page.click(selector)
    await page.wait_for_url(f"**done={done}")


async def badge(page: Any) -> str:
    return str(await page.text_content("#status-badge"))


def local(moment: datetime) -> str:
    return moment.astimezone(DISPLAY_ZONE).strftime("%Y-%m-%dT%H:%M")


async def test_a_clerks_day(server: RunningServer, page: Any) -> None:
    assert create_admin(server).startswith("created admin account chief")
    court = await server.api("POST", "/api/v1/courts", {
        "name": "北京市朝阳区人民法院", "level": "basic", "region": "北京市 / 朝阳区"}, expect=201)
    await server.api("POST", "/api/v1/courtrooms", {"court_id": court["id"], "name": "第一法庭"},
                     expect=201)
    await server.api("POST", "/api/v1/cases", {
        "court_id": court["id"], "case_number": "(2026)京0105民初901号",
        "title": "张某诉某科技有限公司买卖合同纠纷", "case_type": "civil",
        "cause": "contract dispute"}, expect=201)

    # The administrator makes a clerk account for the court, with the approval right.
    await sign_in(page, server, "chief", ADMIN_PASSWORD)
    await page.goto(f"{server.base_url}/admin/accounts")
    await page.fill("#username", "clerk.li")
    await page.fill("#password", CLERK_PASSWORD)
    await page.select_option("#role", "clerk")
    await page.select_option("#court_ids", str(court["id"]))
    await page.check("#can_approve")
    await page.click("#account-form button[type=submit]")
    await page.wait_for_url("**done=create")
    await page.click("#sign-out")
    await page.wait_for_url(f"{server.base_url}/")

    # The clerk schedules the hearing and approves it.
    await sign_in(page, server, "clerk.li", CLERK_PASSWORD)
    await page.goto(f"{server.base_url}/clerk/hearings/new")
    now = datetime.now(DISPLAY_ZONE)
    await page.fill("#scheduled_start", local(now - timedelta(minutes=5)))
    await page.fill("#scheduled_end", local(now + timedelta(hours=1)))
    await page.click("#schedule-form button[type=submit]")
    await page.wait_for_url("**done=create")
    hearing_id = int(page.url.split("/clerk/hearings/")[1].split("?")[0])
    assert "Awaiting approval" in await page.text_content("#approval")
    assert await server.api("GET", f"/api/v1/hearings/{hearing_id}", auth=False) == {
        "error": {"code": "not_found", "message": f"no hearing {hearing_id}"}}
    await click_and_wait(page, "#approve", "approve")
    assert "clerk.li" in await page.text_content("#approval")

    # The courtroom publishes to what the page hands out.
    rtmp = f"{await page.text_content('#rtmp-server')}/{await page.text_content('#stream-key')}"
    encoder = subprocess.Popen(publish_command(rtmp, duration=60, settings=SMALL),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_status(server, hearing_id, "live")
        await page.reload()
        assert await badge(page) == "Live"

        async def monitoring() -> bool:
            # Polled from here: wait_for_function evaluates strings, which the CSP forbids.
            return bool(await page.evaluate(
                "() => !!(window.courtcastRecordMonitor"
                " && window.courtcastRecordMonitor.video.currentTime > 0)"))

        await eventually(monitoring, timeout=30, what="the record monitor to play")
        await click_and_wait(page, "#cut", "cut")
        assert await badge(page) == "Interrupted"
        await wait_status(server, hearing_id, "interrupted", timeout=5)
        await click_and_wait(page, "#resume", "resume")
        assert await badge(page) == "Live"
        await click_and_wait(page, "#end", "end")
        await wait_status(server, hearing_id, "ended", timeout=10)
    finally:
        encoder.kill()
        encoder.wait()
    await page.reload()
    assert await badge(page) == "Replay"

    # A court order: the replay is withdrawn, then restored.
    await page.fill("#reason", "裁定撤回 (2026)京0105民初901号之一")
    await click_and_wait(page, "#withdraw", "withdraw")
    assert await badge(page) == "Withdrawn"
    assert "裁定撤回" in await page.text_content("#withdrawn-reason")
    public = await server.api("GET", f"/api/v1/hearings/{hearing_id}", auth=False)
    assert public["error"]["code"] == "not_found"
    status, _ = await server.get_text(f"/hearings/{hearing_id}")
    assert status == 404
    await click_and_wait(page, "#restore", "restore")
    assert await badge(page) == "Replay"
    await wait_status(server, hearing_id, "ended", timeout=5)
    assert page.console_errors == []

    catalog = Catalog(f"sqlite:///{server.data_dir / 'catalog.db'}")
    try:
        async def recorded() -> list[str] | None:
            entries = catalog.audit_entries(AuditQuery(hearing_id=hearing_id))
            return [e.action for e in reversed(entries)] if len(entries) >= 7 else None

        actions = await eventually(recorded, timeout=5, what="the audit entries")
        assert actions == ["hearing.create", "hearing.approve", "hearing.cut", "hearing.resume",
                           "hearing.end", "hearing.withdraw", "hearing.restore"]
        clerk_actions = catalog.audit_entries(AuditQuery(actor="clerk.li", hearing_id=hearing_id))
        assert len(clerk_actions) == 7 and all(e.ip == "127.0.0.1" for e in clerk_actions)
        assert catalog.audit_entries(AuditQuery(action="account.create"))
    finally:
        catalog.close()
