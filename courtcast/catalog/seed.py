"""The demo catalog of `courtcast demo`: real Chinese courts, anonymised cases, hearings around now.

Names are the courts' official Chinese names, regions read "省/市 / 区". Parties appear as a court
portal shows them: natural persons by surname only (张某), companies without their name.
Seeding is idempotent: what exists already (courts by name and parent, courtrooms by name, cases
by number, a case's first hearing) is reused, so a second run creates nothing and returns the
same ids, and an interrupted run is completed by the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from courtcast.catalog.models import Court, CourtLevel, Restriction
from courtcast.catalog.service import Catalog

L = CourtLevel


@dataclass(frozen=True)
class _CourtSpec:
    key: str
    name: str
    level: CourtLevel
    region: str
    code: str
    parent: str | None
    rooms: tuple[str, ...]


@dataclass(frozen=True)
class _CaseSpec:
    key: str
    court: str
    number: str
    title: str
    case_type: str
    cause: str
    parties: str
    judges: str
    restriction: Restriction | None = None
    restriction_reason: str = ""


@dataclass(frozen=True)
class _HearingSpec:
    case: str
    room: int  # index into the court's rooms
    start: timedelta  # from the seed's base time
    length: timedelta
    role: str  # live, replay, scheduled, restricted
    public: bool = True
    delay_seconds: int = 0


ROOMS_BASIC = ("第一法庭", "第二法庭", "第三法庭")
ROOMS_OTHER = ("第一法庭", "第二法庭")

COURTS = (
    _CourtSpec("spc", "最高人民法院", L.SUPREME, "全国", "最高法", None, ("第一巡回法庭",)),
    _CourtSpec("bj", "北京市高级人民法院", L.HIGH, "北京市", "京", "spc", ROOMS_OTHER),
    _CourtSpec(
        "bj2", "北京市第二中级人民法院", L.INTERMEDIATE, "北京市", "京02", "bj", ROOMS_OTHER
    ),
    _CourtSpec(
        "xicheng", "北京市西城区人民法院", L.BASIC, "北京市 / 西城区", "京0102", "bj2", ROOMS_BASIC
    ),
    _CourtSpec(
        "bj3", "北京市第三中级人民法院", L.INTERMEDIATE, "北京市", "京03", "bj", ROOMS_OTHER
    ),
    _CourtSpec(
        "chaoyang", "北京市朝阳区人民法院", L.BASIC, "北京市 / 朝阳区", "京0105", "bj3", ROOMS_BASIC
    ),
    _CourtSpec(
        "bj4", "北京市第四中级人民法院", L.INTERMEDIATE, "北京市", "京04", "bj", ROOMS_OTHER
    ),
    _CourtSpec("internet", "北京互联网法院", L.SPECIAL, "北京市", "京0491", "bj4", ("在线庭审室",)),
    _CourtSpec("bjip", "北京知识产权法院", L.SPECIAL, "北京市", "京73", "bj", ROOMS_OTHER),
    _CourtSpec("sh", "上海市高级人民法院", L.HIGH, "上海市", "沪", "spc", ROOMS_OTHER),
    _CourtSpec(
        "sh1", "上海市第一中级人民法院", L.INTERMEDIATE, "上海市", "沪01", "sh", ROOMS_OTHER
    ),
    _CourtSpec(
        "pudong",
        "上海市浦东新区人民法院",
        L.BASIC,
        "上海市 / 浦东新区",
        "沪0115",
        "sh1",
        ROOMS_BASIC,
    ),
    _CourtSpec("maritime", "上海海事法院", L.SPECIAL, "上海市", "沪72", "sh", ROOMS_OTHER),
)

CASES = (
    _CaseSpec(
        "sale",
        "chaoyang",
        "（2025）京0105民初18423号",
        "张某诉北京某科技有限公司买卖合同纠纷案",
        "civil",
        "买卖合同纠纷",
        "原告：张某；被告：北京某科技有限公司",
        "审判长：王某某；人民陪审员：李某、赵某",
    ),
    _CaseSpec(
        "theft",
        "chaoyang",
        "（2025）京0105刑初1207号",
        "刘某盗窃案",
        "criminal",
        "盗窃罪",
        "公诉机关：北京市朝阳区人民检察院；被告人：刘某",
        "审判长：陈某某；审判员：周某；人民陪审员：吴某",
    ),
    _CaseSpec(
        "traffic",
        "bj2",
        "（2025）京02民终6531号",
        "孙某与某财产保险股份有限公司机动车交通事故责任纠纷上诉案",
        "civil",
        "机动车交通事故责任纠纷",
        "上诉人（原审原告）：孙某；被上诉人（原审被告）：某财产保险股份有限公司北京分公司",
        "审判长：郑某某；审判员：冯某、何某",
    ),
    _CaseSpec(
        "copyright",
        "internet",
        "（2025）京0491民初8822号",
        "某文化传媒有限公司诉某网络科技有限公司侵害作品信息网络传播权纠纷案",
        "civil",
        "侵害作品信息网络传播权纠纷",
        "原告：某文化传媒有限公司；被告：某网络科技有限公司",
        "审判长：林某某",
    ),
    _CaseSpec(
        "loan",
        "pudong",
        "（2025）沪0115民初40315号",
        "某银行股份有限公司上海分行诉钱某金融借款合同纠纷案",
        "civil",
        "金融借款合同纠纷",
        "原告：某银行股份有限公司上海分行；被告：钱某",
        "审判员：沈某",
    ),
    _CaseSpec(
        "cargo",
        "maritime",
        "（2025）沪72民初517号",
        "某航运有限公司诉某国际物流有限公司海上货物运输合同纠纷案",
        "civil",
        "海上货物运输合同纠纷",
        "原告：某航运有限公司；被告：某国际物流有限公司",
        "审判长：韩某某；审判员：杨某、朱某",
    ),
    _CaseSpec(
        "patent",
        "bjip",
        "（2025）京73民初902号",
        "某通信技术有限公司诉某电子有限公司侵害发明专利权纠纷案",
        "civil",
        "侵害发明专利权纠纷",
        "原告：某通信技术有限公司；被告：某电子有限公司",
        "审判长：许某某；审判员：邓某；技术调查官：曹某",
    ),
    _CaseSpec(
        "penalty",
        "pudong",
        "（2025）沪0115行初211号",
        "某餐饮管理有限公司诉上海市浦东新区市场监督管理局行政处罚案",
        "administrative",
        "行政处罚",
        "原告：某餐饮管理有限公司；被告：上海市浦东新区市场监督管理局",
        "审判长：袁某某；人民陪审员：潘某、蒋某",
    ),
    _CaseSpec(
        "juvenile",
        "xicheng",
        "（2025）京0102刑初388号",
        "王某故意伤害案",
        "criminal",
        "故意伤害罪",
        "公诉机关：北京市西城区人民检察院；被告人：王某（未成年人）",
        "审判长：谢某某；人民陪审员：董某、梁某",
        Restriction.JUVENILE,
        "被告人系未成年人，依法不公开审理",
    ),
)

H = timedelta(hours=1)
HEARINGS = (
    _HearingSpec("sale", 0, timedelta(0), 1.5 * H, "live"),  # straddles now: the demo goes live
    # Ended shortly before now: the demo can still publish a clip to them (ingest admits a key
    # until two hours after the scheduled end) and then ends them into replays.
    _HearingSpec("theft", 1, -2 * H, H, "replay"),
    _HearingSpec("traffic", 0, -1.75 * H, H, "replay"),
    _HearingSpec("copyright", 0, 2 * H, H, "scheduled"),
    _HearingSpec("loan", 1, 3.5 * H, H, "scheduled", delay_seconds=30),
    _HearingSpec("cargo", 0, 24 * H, 2 * H, "scheduled"),
    _HearingSpec("patent", 1, 27 * H, 2 * H, "scheduled"),
    _HearingSpec("penalty", 2, 48 * H, H, "scheduled"),
    _HearingSpec("juvenile", 2, H, H, "restricted", public=False),
)


@dataclass(frozen=True)
class DemoSeed:
    live_hearing_id: int  # the hearing the demo's simulated courtroom makes live
    replay_hearing_ids: tuple[int, ...]  # past hearings the demo publishes a clip to, then ends
    scheduled_hearing_ids: tuple[int, ...]
    restricted_hearing_id: int  # of a juvenile case: never in public lists
    court_ids: dict[str, int]  # by the seed's short keys ("chaoyang", ...)
    created: bool  # False when everything existed already


def seed_demo(catalog: Catalog, now: datetime) -> DemoSeed:
    """Fill `catalog` with the demo courts, cases and hearings (hearings placed around `now`)."""
    if now.utcoffset() is None:
        now = now.replace(tzinfo=UTC)
    base = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    seeder = _Seeder(catalog)
    courts = seeder.courts()
    cases = {spec.key: seeder.case(spec, courts[spec.court]) for spec in CASES}
    court_of_case = {spec.key: spec.court for spec in CASES}
    hearings: dict[str, list[int]] = {}
    for spec in HEARINGS:
        room = seeder.rooms[court_of_case[spec.case]][spec.room]
        hearing_id = seeder.hearing(spec, cases[spec.case], room, base)
        hearings.setdefault(spec.role, []).append(hearing_id)
    return DemoSeed(
        live_hearing_id=hearings["live"][0],
        replay_hearing_ids=tuple(hearings["replay"]),
        scheduled_hearing_ids=tuple(hearings["scheduled"]),
        restricted_hearing_id=hearings["restricted"][0],
        court_ids=courts,
        created=seeder.created,
    )


class _Seeder:
    """Get-or-create on top of the Catalog's validated writes."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.created = False
        self.rooms: dict[str, list[int]] = {}

    def courts(self) -> dict[str, int]:
        existing = {(c.name, c.parent_id): c for c in self.catalog.courts()}
        ids: dict[str, int] = {}
        for spec in COURTS:
            parent_id = ids[spec.parent] if spec.parent else None
            court = existing.get((spec.name, parent_id)) or self._new_court(spec, parent_id)
            assert court.id is not None
            ids[spec.key] = court.id
            self.rooms[spec.key] = self._rooms(court.id, spec.rooms)
        return ids

    def _new_court(self, spec: _CourtSpec, parent_id: int | None) -> Court:
        self.created = True
        return self.catalog.create_court(
            name=spec.name,
            level=spec.level,
            region=spec.region,
            parent_id=parent_id,
            code=spec.code,
        )

    def _rooms(self, court_id: int, names: tuple[str, ...]) -> list[int]:
        existing = {room.name: room.id for room in self.catalog.courtrooms(court_id)}
        ids: list[int] = []
        for name in names:
            room_id = existing.get(name)
            if room_id is None:
                self.created = True
                room_id = self.catalog.create_courtroom(court_id=court_id, name=name).id
            assert room_id is not None
            ids.append(room_id)
        return ids

    def case(self, spec: _CaseSpec, court_id: int) -> int:
        case = self.catalog.case_by_number(spec.number)
        if case is None:
            self.created = True
            case = self.catalog.create_case(
                court_id=court_id,
                case_number=spec.number,
                title=spec.title,
                case_type=spec.case_type,
                cause=spec.cause,
                parties=spec.parties,
                judges=spec.judges,
                restriction=spec.restriction,
                restriction_reason=spec.restriction_reason,
            )
        assert case.id is not None
        return case.id

    def hearing(self, spec: _HearingSpec, case_id: int, room_id: int, base: datetime) -> int:
        existing = self.catalog.hearings_for_case(case_id)
        if existing:
            hearing = existing[0]
        else:
            self.created = True
            hearing = self.catalog.create_hearing(
                case_id=case_id,
                courtroom_id=room_id,
                scheduled_start=base + spec.start,
                scheduled_end=base + spec.start + spec.length,
                public=spec.public,
                delay_seconds=spec.delay_seconds,
            )
        assert hearing.id is not None
        if spec.role != "restricted" and hearing.approved_at is None:
            # The demo court approved its broadcasts; a restricted case is never approved.
            self.catalog.approve_hearing(hearing.id, account_id=self.approver())
        return hearing.id

    def approver(self) -> int:
        account_id = self.catalog.builtin_admin().id
        assert account_id is not None
        return account_id
