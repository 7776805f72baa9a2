"""The `courtcast` command: serve, demo, token create."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from courtcast import config as configuration


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
    add_store_options(create)
    return parser


def load_config(args: argparse.Namespace) -> configuration.Config:
    return configuration.load(
        data=args.data,
        database=args.database,
        http=getattr(args, "http", None),
        rtmp=getattr(args, "rtmp", None),
        storage=getattr(args, "storage", None),
        s3_endpoint=getattr(args, "s3_endpoint", None),
        public_media_url=getattr(args, "public_media_url", None),
    )


def create_token(config: configuration.Config, role: str, label: str) -> str:
    from courtcast.catalog.service import Catalog

    config.data_dir.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(config.database_url)
    try:
        catalog.migrate()
        return catalog.create_token(role=role, label=label)
    finally:
        catalog.close()


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
    if args.command == "token":
        print(create_token(config, args.role, args.label))
        return 0
    if args.command == "demo":
        from courtcast.demo import run_demo

        asyncio.run(run_demo(config))
        return 0
    from courtcast.server import CourtCast

    asyncio.run(CourtCast(config).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
