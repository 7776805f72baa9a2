"""A real catalog on a temporary SQLite file, local storage and the web app under a test client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from courtcast.catalog.service import Catalog
from courtcast.config import Config, HostPort
from courtcast.storage.local import LocalStorage
from courtcast.web.app import create_app
from courtcast.web.services import WebServices


@dataclass
class FakeBroadcasts:
    """Stands in for the live pipeline: records what the API asked of it and changes the catalog
    status as the real one does."""

    catalog: Catalog
    ended: list[int] = field(default_factory=list)
    calls: list[tuple[str, int]] = field(default_factory=list)

    async def end_hearing(self, hearing_id: int) -> None:
        self.ended.append(hearing_id)
        self.calls.append(("end", hearing_id))
        self.catalog.set_status(hearing_id, "ended")

    async def cut(self, hearing_id: int) -> None:
        self.calls.append(("cut", hearing_id))
        self.catalog.set_status(hearing_id, "interrupted")

    async def resume(self, hearing_id: int) -> None:
        self.calls.append(("resume", hearing_id))
        self.catalog.set_status(hearing_id, "live")

    async def withdraw(self, hearing_id: int) -> None:
        assert self.catalog.hearing(hearing_id).status == "withdrawn"  # the catalog went first
        self.calls.append(("withdraw", hearing_id))

    async def restore(self, hearing_id: int) -> None:
        assert self.catalog.hearing(hearing_id).status != "withdrawn"
        self.calls.append(("restore", hearing_id))

    def rtmp_url(self, stream_key: str, request_host: str) -> str:
        return f"rtmp://{request_host}:1935/live/{stream_key}"


@dataclass
class Seed:
    """A small court tree with one hearing in each state the portal shows."""

    root_court: int
    court: int
    child_court: int
    courtroom: int
    case: int
    live: int
    scheduled: int
    ended: int
    private: int
    restricted: int


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        data_dir=tmp_path,
        http=HostPort("127.0.0.1", 0),
        rtmp=HostPort("127.0.0.1", 0),
        database_url=f"sqlite:///{tmp_path / 'catalog.db'}",
        storage_url=f"file://{tmp_path / 'media'}",
    )


@pytest.fixture
def catalog(config: Config) -> Iterator[Catalog]:
    catalog = Catalog(config.database_url)
    catalog.migrate()
    yield catalog
    catalog.close()


@pytest.fixture
def broadcasts(catalog: Catalog) -> FakeBroadcasts:
    return FakeBroadcasts(catalog)


@pytest.fixture
def services(config: Config, catalog: Catalog, broadcasts: FakeBroadcasts) -> WebServices:
    assert config.media_dir is not None
    return WebServices(config, catalog, LocalStorage(config.media_dir), broadcasts)


@pytest.fixture
async def client(services: WebServices) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(create_app(services))) as test_client:
        yield test_client


@pytest.fixture
def token(catalog: Catalog) -> str:
    return catalog.create_token(role="admin", label="tests")


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _hearing(catalog: Catalog, case: int, room: int, start: datetime, **extra: object) -> int:
    """A hearing, approved unless its case is restricted (which can never be approved)."""
    hearing = catalog.create_hearing(
        case_id=case,
        courtroom_id=room,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
        **extra,  # type: ignore[arg-type]
    )
    assert hearing.id is not None
    if catalog.case(case).restriction is None:
        catalog.approve_hearing(hearing.id, account_id=catalog.builtin_admin().id or 0)
    return hearing.id


@pytest.fixture
def seed(catalog: Catalog) -> Seed:
    root = catalog.create_court(name="最高人民法院", level="supreme", region="北京市")
    assert root.id is not None
    court = catalog.create_court(
        name="北京市朝阳区人民法院", level="basic", region="北京市 / 朝阳区", parent_id=root.id
    )
    assert court.id is not None
    child = catalog.create_court(
        name="朝阳区人民法院 望京法庭", level="basic", region="北京市 / 朝阳区", parent_id=court.id
    )
    room = catalog.create_courtroom(court_id=court.id, name="第一法庭")
    case = catalog.create_case(
        court_id=court.id,
        case_number="(2026)京0105民初100号",
        title="张某诉某科技有限公司买卖合同纠纷",
        case_type="civil",
        cause="contract dispute",
        parties="张某; 某科技有限公司",
        judges="王法官",
    )
    secret = catalog.create_case(
        court_id=court.id,
        case_number="(2026)京0105刑初7号",
        title="Sealed juvenile matter",
        case_type="criminal",
        cause="theft",
        restriction="juvenile",
        restriction_reason="a minor is a party",
    )
    assert room.id is not None and case.id is not None and secret.id is not None and child.id
    now = datetime.now(UTC)
    live = _hearing(catalog, case.id, room.id, now - timedelta(minutes=10))
    catalog.set_status(live, "live")
    ended = _hearing(catalog, case.id, room.id, now - timedelta(days=1))
    catalog.set_status(ended, "ended")
    return Seed(
        root_court=root.id,
        court=court.id,
        child_court=child.id,
        courtroom=room.id,
        case=case.id,
        live=live,
        scheduled=_hearing(catalog, case.id, room.id, now + timedelta(hours=3)),
        ended=ended,
        private=_hearing(catalog, case.id, room.id, now + timedelta(hours=1), public=False),
        restricted=_hearing(catalog, secret.id, room.id, now + timedelta(hours=1)),
    )


PASSWORD = "a long enough password"


@dataclass
class Staff:
    """Accounts around the seed's court: a token and a signed-in session for each."""

    admin: int
    clerk: int  # clerk of seed.court, may approve
    plain_clerk: int  # clerk of seed.court without the approval right
    other_clerk: int  # clerk of the child court only (assignment does not cover children)
    tokens: dict[str, str]
    cookies: dict[str, str]
    csrf: dict[str, str]


def _account(catalog: Catalog, name: str, role: str, courts: list[int], approve: bool) -> int:
    account = catalog.create_account(username=name, role=role, password=PASSWORD,
                                     court_ids=courts, can_approve=approve)
    assert account.id is not None
    return account.id


@pytest.fixture
def staff(catalog: Catalog, seed: Seed) -> Staff:
    ids = {
        "admin": _account(catalog, "admin.zhao", "admin", [], False),
        "clerk": _account(catalog, "clerk.li", "clerk", [seed.court], True),
        "plain_clerk": _account(catalog, "clerk.sun", "clerk", [seed.court], False),
        "other_clerk": _account(catalog, "clerk.wang", "clerk", [seed.child_court], True),
    }
    tokens = {name: catalog.create_token(account_id=i, label=name) for name, i in ids.items()}
    cookies = {name: catalog.open_session(i) for name, i in ids.items()}
    csrf: dict[str, str] = {}
    for name, cookie in cookies.items():
        signed = catalog.session_actor(cookie)
        assert signed is not None
        csrf[name] = signed.csrf_token
    return Staff(tokens=tokens, cookies=cookies, csrf=csrf, **ids)
