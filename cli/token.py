"""`reelbot token create|list|revoke`: an operator's hand on REST API tokens.

The same store as the bot's `/api` commands (`gallery.api_tokens`), so a token made here is
listed and revoked there too, and each creation and revocation is an audit row; the operator
is recorded as `cli:<their login name>`. A token and its webhook secret are printed once, at
creation; lists never show either.
"""

from __future__ import annotations

import argparse
import getpass
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.errors import FlagError, UserFacingError

if TYPE_CHECKING:
    from gallery.api_tokens import TokenStore

_MEMBER = re.compile(r"(?:discord:)?(\d{1,20})")
COLUMNS = ("ID", "MEMBER", "GUILD", "NAME", "SCOPES", "CREATED", "LAST USED", "REVOKED")


def add_token_commands(sub: Any) -> None:
    """`reelbot token …` on the command's subparsers."""
    parser = sub.add_parser("token", help="make, list and revoke REST API tokens")
    actions = parser.add_subparsers(dest="token_command", required=True, metavar="ACTION")

    p = actions.add_parser("create", help="make a token for a member (shown once)")
    p.add_argument("--member", required=True, help='a Discord id: "123…" or "discord:123…"')
    p.add_argument("--guild", type=int, default=None, help="the guild it acts in (default none)")
    p.add_argument("--name", required=True, help="what it is for, e.g. my-site")
    p.add_argument(
        "--scopes", default="clips:read clips:write", help='e.g. "clips:write clips:read"'
    )
    p.set_defaults(run=cmd_create)

    p = actions.add_parser("list", help="list tokens (never their secrets)")
    p.add_argument("--member", default=None, help="only this member's")
    p.set_defaults(run=cmd_list)

    p = actions.add_parser("revoke", help="revoke a token: it stops working at once")
    p.add_argument("id", help="the token's id, as `reelbot token list` shows it")
    p.set_defaults(run=cmd_revoke)


def member_id(text: str) -> str:
    """ "discord:123" or a bare Discord id "123", as the gallery stores it ("discord:123")."""
    found = _MEMBER.fullmatch(text.strip())
    if found is None:
        raise FlagError(
            f"`{text}` isn't a member id.",
            token=text,
            allowed="a Discord user id such as `1234567890` or `discord:1234567890`",
        )
    return f"discord:{found.group(1)}"


def operator() -> str:
    """Who the audit log names for what is done here."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        name = ""
    return f"cli:{name[:40] or 'operator'}"


@contextmanager
def opened_store() -> Iterator[TokenStore]:
    """The token store on this install's database (migrated), closed afterwards."""
    from gallery.api_tokens import TokenStore
    from gallery.db import make_engine, migrate
    from gallery.dburl import database_checked
    from gallery.settings import GallerySettings
    from jobs.settings import load_settings

    url = load_settings(GallerySettings).resolved_database_url()
    with database_checked(url):
        engine = make_engine(url)
        try:
            migrate(engine)
            yield TokenStore(engine)
        finally:
            engine.dispose()


def cmd_create(args: argparse.Namespace) -> int:
    from gallery.api_tokens import parse_scopes

    member = member_id(args.member)
    scopes = parse_scopes(args.scopes)  # refused before anything is opened
    with opened_store() as store:
        issued = store.create(member, args.guild, args.name, scopes, created_by=operator())
    token = issued.token
    print(f"Token {token.id} for {member} ({token.name}; scopes: {token.scopes}):")
    print(f"  {issued.plaintext}")
    print("Webhook signing secret (verifies the calls to this token's webhook_url):")
    print(f"  {token.webhook_secret}")
    print("Copy them now: they won't be shown again.")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    member = member_id(args.member) if args.member is not None else None
    with opened_store() as store:
        rows = store.list_for(member) if member is not None else store.list_all()
    if not rows:
        print("No tokens." if member is None else f"No tokens for {member}.")
        return 0
    table = [COLUMNS] + [
        (
            t.id,
            t.member_id,
            str(t.guild_id) if t.guild_id is not None else "-",
            t.name,
            t.scopes,
            _when(t.created_at),
            _when(t.last_used_at, "never"),
            _when(t.revoked_at, "-"),
        )
        for t in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    with opened_store() as store:
        token = store.revoke(args.id, by=operator())
    if token is None:
        raise UserFacingError(
            f"No token with id `{args.id}`; `reelbot token list` shows every token's id."
        )
    print(
        f"Token {token.id} ({token.name}, {token.member_id}) is revoked "
        f"(since {_when(token.revoked_at)}, by {token.revoked_by}); it no longer works."
    )
    return 0


def _when(moment: datetime | None, missing: str = "-") -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else missing
