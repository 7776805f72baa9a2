"""The `courtcast` command: serve, demo, token create, account create."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from courtcast import config as configuration

if TYPE_CHECKING:
    from courtcast.catalog.service import Catalog


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="DIR", help="data directory [COURTCAST_DATA]")
    parser.add_argument("--database", metavar="URL",
                        help="SQLAlchemy URL of the catalog [COURTCAST_DATABASE_URL]")


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    add_store_options(parser)
    parser.add_argument("--http", metavar="HOST:PORT",
                        help="portal, API, WHIP and media [COURTCAST_HTTP]")
    parser.add_argument("--rtmp", metavar="HOST:PORT", help="RTMP ingest [COURTCAST_RTMP]")
    parser.add_argument("--storage", metavar="URL",
                        help="file://PATH or s3://BUCKET/PREFIX [COURTCAST_STORAGE_URL]")
    parser.add_argument("--s3-endpoint", metavar="URL",
                        help="S3-compatible endpoint [COURTCAST_S3_ENDPOINT]")
    parser.add_argument("--public-media-url", metavar="URL",
                        help="base URL viewers fetch media from [COURTCAST_PUBLIC_MEDIA_URL]")
    parser.add_argument("--s3-addressing-style", choices=["auto", "path", "virtual"],
                        help="S3 bucket addressing; path for MinIO/Ceph "
                             "[COURTCAST_S3_ADDRESSING_STYLE]")
    parser.add_argument("--s3-signed-urls", metavar="SECONDS",
                        help="private bucket: viewers get presigned URLs valid this long "
                             "[COURTCAST_S3_SIGNED_URLS]")
    parser.add_argument("--s3-concurrency", metavar="N",
                        help="S3 uploads in flight at once (default 8) [COURTCAST_S3_CONCURRENCY]")
    parser.add_argument("--spool-limit", metavar="SIZE",
                        help="local spool size that raises the storage alarm, e.g. 10G "
                             "[COURTCAST_SPOOL_LIMIT]")
    parser.add_argument("--trusted-proxies", metavar="ADDR|CIDR[,...]",
                        help="reverse proxies whose X-Forwarded-For/-Proto/-Host are believed "
                             "(default none) [COURTCAST_TRUSTED_PROXIES]")
    add_webrtc_options(parser)


WEBRTC_OPTIONS = ("webrtc_hosts", "webrtc_public_ip", "webrtc_ports", "stun_server",
                  "turn_server", "turn_username", "monitor_viewers")


def add_webrtc_options(parser: argparse.ArgumentParser) -> None:
    """WHIP ingest and WHEP monitor networking (the TURN password only from the environment,
    where `ps` cannot show it)."""
    group = parser.add_argument_group("WebRTC (WHIP ingest, WHEP monitor)")
    group.add_argument("--webrtc-hosts", metavar="IP[,IP]",
                       help="addresses offered as ICE host candidates (default: the --http "
                            "address, or every interface for 0.0.0.0) [COURTCAST_WEBRTC_HOSTS]")
    group.add_argument("--webrtc-public-ip", metavar="IP",
                       help="public address of a 1:1 NAT in front of this host "
                            "[COURTCAST_WEBRTC_PUBLIC_IP]")
    group.add_argument("--webrtc-ports", metavar="MIN-MAX",
                       help="UDP port range for WebRTC media [COURTCAST_WEBRTC_PORTS]")
    group.add_argument("--stun-server", metavar="URL",
                       help="stun:HOST[:PORT] (default none) [COURTCAST_STUN_SERVER]")
    group.add_argument("--turn-server", metavar="URL",
                       help="turn:HOST[:PORT] or turns:HOST[:PORT] [COURTCAST_TURN_SERVER]; "
                            "password in COURTCAST_TURN_PASSWORD")
    group.add_argument("--turn-username", metavar="NAME", help="[COURTCAST_TURN_USERNAME]")
    group.add_argument("--monitor-viewers", metavar="N",
                       help="WHEP monitors per hearing, 0 = off (default 4) "
                            "[COURTCAST_MONITOR_VIEWERS]")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="courtcast", description="Live broadcasting and replay of court hearings."
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    commands = parser.add_subparsers(dest="command", required=True)
    add_serve_options(commands.add_parser("serve", help="run portal, API, ingest and storage"))
    add_serve_options(commands.add_parser(
        "demo", help="serve with a seeded demo catalog and a simulated live courtroom"))
    token = commands.add_parser("token", help="manage API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="print a new bearer token")
    create.add_argument("--role", default="admin", choices=["admin"])
    create.add_argument("--label", default="", help="what the token is for")
    create.add_argument("--account", metavar="USERNAME",
                        help="the account whose rights the token carries (default: the built-in "
                             "administrator)")
    add_store_options(create)
    add_account_parser(commands)
    return parser


def add_account_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    account = commands.add_parser("account", help="manage portal accounts")
    account_commands = account.add_subparsers(dest="account_command", required=True)
    create = account_commands.add_parser(
        "create", help="create an account; the password is read from stdin or --password-file")
    create.add_argument("--role", required=True, choices=["admin", "clerk"])
    create.add_argument("--username", required=True)
    create.add_argument("--display-name", default="")
    create.add_argument("--password-file", metavar="FILE",
                        help="read the password from the first line of FILE instead of stdin")
    create.add_argument("--court", type=int, action="append", default=[], metavar="COURT_ID",
                        help="a court the clerk acts for (repeat for several)")
    create.add_argument("--can-approve", action="store_true",
                        help="the clerk may approve broadcasts (administrators always may)")
    add_store_options(create)


def load_config(args: argparse.Namespace) -> configuration.Config:
    return configuration.load(
        data=args.data,
        database=args.database,
        http=getattr(args, "http", None),
        rtmp=getattr(args, "rtmp", None),
        storage=getattr(args, "storage", None),
        s3_endpoint=getattr(args, "s3_endpoint", None),
        public_media_url=getattr(args, "public_media_url", None),
        s3_addressing_style=getattr(args, "s3_addressing_style", None),
        s3_signed_urls=getattr(args, "s3_signed_urls", None),
        s3_concurrency=getattr(args, "s3_concurrency", None),
        spool_limit=getattr(args, "spool_limit", None),
        webrtc={name: getattr(args, name, None) for name in WEBRTC_OPTIONS},
        trusted_proxies=getattr(args, "trusted_proxies", None),
    )


def open_catalog(config: configuration.Config) -> Catalog:
    from courtcast.catalog.service import Catalog

    config.data_dir.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(config.database_url)
    catalog.migrate()
    return catalog


def create_token(
    config: configuration.Config, role: str, label: str, account: str | None = None
) -> str:
    from courtcast.catalog.service import NotFound

    catalog = open_catalog(config)
    try:
        if account is None:
            return catalog.create_token(role=role, label=label)
        found = catalog.account_by_username(account)
        if found is None or found.id is None:
            raise NotFound(f"no account {account!r}")
        return catalog.create_token(label=label, account_id=found.id)
    finally:
        catalog.close()


def read_password(password_file: str | None) -> str:
    """The first line of the file, or of stdin: never an argument, which `ps` would show."""
    if password_file is not None:
        with open(password_file, encoding="utf-8") as handle:
            return handle.readline().rstrip("\r\n")
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\r\n")


def create_account(config: configuration.Config, args: argparse.Namespace) -> str:
    password = read_password(args.password_file)
    catalog = open_catalog(config)
    try:
        account = catalog.create_account(
            username=args.username, role=args.role, password=password,
            display_name=args.display_name, court_ids=args.court, can_approve=args.can_approve)
        catalog.record_audit("account.create", None, details={
            "account_id": account.id, "username": account.username, "role": account.role,
            "court_ids": args.court, "via": "command line"})
    finally:
        catalog.close()
    return f"created {account.role} account {account.username} (id {account.id})"


def run_admin_command(config: configuration.Config, args: argparse.Namespace) -> int:
    from courtcast.catalog.service import CatalogError

    try:
        if args.command == "token":
            print(create_token(config, args.role, args.label, args.account))
        else:
            print(create_account(config, args))
    except (CatalogError, OSError) as exc:
        print(f"courtcast: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per plugin otherwise
    try:
        config = load_config(args)
    except configuration.ConfigError as exc:
        print(f"courtcast: {exc}", file=sys.stderr)
        return 2
    if args.command in ("token", "account"):
        return run_admin_command(config, args)
    if args.command == "demo":
        from courtcast.demo import run_demo

        asyncio.run(run_demo(config))
        return 0
    from courtcast.server import CourtCast

    asyncio.run(CourtCast(config).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
