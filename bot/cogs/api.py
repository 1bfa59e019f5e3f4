"""`/api`: a member's tokens for the REST API — make one, list theirs, revoke one.

Every answer is private. A token is shown once, when it is made, with its webhook signing
secret; lists show ids and names, never secrets. A token acts for its member in the guild the
command ran in (None from DMs: then any of the member's bans stops it). A banned member makes
none. A member revokes their own tokens; a moderator (as `/mod` decides: Manage Messages or a
moderator role) revokes anyone's made in their server or in DMs. Creations and revocations are
audit rows (`/mod log`), written by `gallery.api_tokens`.

discord.py logs each request's body at DEBUG, which would carry a new token; a filter on its
HTTP logger blanks tokens and webhook secrets out of those lines.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.moderation.buttons import REFUSED
from bot.moderation.decisions import member_key, user_id_of
from core.errors import UserFacingError
from core.text import without_bidi
from gallery.api_tokens import MAX_NAME, SCOPES, TokenStore, parse_scopes
from gallery.apitables import ApiToken
from intake.screening import when

if TYPE_CHECKING:
    from bot.app import ReelBot

DEFAULT_SCOPES = "clips:read clips:write"
MAX_LISTED = 20
_SECRETS = re.compile(r"rb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}|whsec_[A-Za-z0-9+/=]{8,}")
_HTTP_LOGGER = "discord.http"


class SecretsOut(logging.Filter):
    """Blanks API tokens and webhook secrets out of a log line (discord.py's DEBUG lines
    quote the bodies it sends)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _SECRETS.search(message):
            record.msg, record.args = _SECRETS.sub("[secret]", message), None
        return True


def _shown(text: str) -> str:
    """Member-written text (a token's name) as plain text inside a message."""
    return discord.utils.escape_markdown(without_bidi(text))


def _ago(moment: datetime | None, missing: str) -> str:
    return f"<t:{int(moment.timestamp())}:R>" if moment is not None else missing


def _owner(token: ApiToken) -> str:
    user_id = user_id_of(token.member_id)
    return f"<@{user_id}>" if user_id is not None else f"`{token.member_id}`"


def token_line(token: ApiToken, *, owner: bool = False) -> str:
    """One token in a list: id, name, scopes, when made and last used, revoked or not."""
    whose = f" of {_owner(token)}" if owner else ""
    line = (
        f"`{token.id}` **{_shown(token.name)}**{whose} — `{token.scopes}`; "
        f"made {_ago(token.created_at, '?')}, last used {_ago(token.last_used_at, 'never')}"
    )
    if token.revoked_at is not None:
        line = f"~~{line}~~ revoked {_ago(token.revoked_at, '')}"
    return line


class ApiCog(commands.GroupCog, group_name="api", group_description="Tokens for the REST API"):
    def __init__(self, bot: ReelBot, tokens: TokenStore) -> None:
        self.bot = bot
        self.tokens = tokens
        self.redaction = SecretsOut()
        super().__init__()

    async def cog_load(self) -> None:
        logging.getLogger(_HTTP_LOGGER).addFilter(self.redaction)

    async def cog_unload(self) -> None:
        logging.getLogger(_HTTP_LOGGER).removeFilter(self.redaction)

    @app_commands.command(name="token")
    @app_commands.describe(
        name="What it is for, so you can tell your tokens apart (e.g. my-site)",
        scopes=f"Space-separated: {' '.join(SCOPES)} (default: {DEFAULT_SCOPES})",
    )
    async def token(
        self,
        interaction: discord.Interaction[ReelBot],
        name: app_commands.Range[str, 1, MAX_NAME],
        scopes: app_commands.Range[str, 1, 200] = DEFAULT_SCOPES,
    ) -> None:
        """Make a token for the REST API, shown to you once."""
        chosen = parse_scopes(scopes)  # an unknown scope is named with the allowed ones
        who = member_key(interaction.user.id)
        guild_id = interaction.guild_id
        # Read fresh, not through the bans cache: a token outlives any cache's few seconds.
        ban = await asyncio.to_thread(self.bot.moderation_store.active_ban, who, guild_id)
        if ban is not None:
            why = f" ({ban.reason})" if ban.reason else ""
            raise UserFacingError(
                f"A moderator has stopped you making clips here {when(ban.until)}{why}, "
                "so you can't make API tokens either."
            )
        issued = await asyncio.to_thread(
            self.tokens.create, who, guild_id, name, chosen, created_by=who
        )
        made = issued.token
        where = "in this server" if guild_id is not None else "from DMs (in any server)"
        await interaction.response.send_message(
            f"Your REST API token **{_shown(made.name)}** (`{made.id}`), scopes "
            f"`{made.scopes}`, acting for you {where}:\n```\n{issued.plaintext}\n```\n"
            "Its webhook signing secret (checks the calls your `webhook_url`s receive):\n"
            f"```\n{made.webhook_secret}\n```\n"
            "**Copy them now: they won't be shown again.** Send the token as "
            f"`Authorization: Bearer …`; stop it with `/api revoke id:{made.id}`.",
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @app_commands.command(name="tokens")
    @app_commands.describe(member="Moderators: list this member's tokens instead of yours")
    async def tokens_list(
        self, interaction: discord.Interaction[ReelBot], member: discord.User | None = None
    ) -> None:
        """List your REST API tokens (never their secrets)."""
        other = member is not None and member.id != interaction.user.id
        if other and not self.bot.review_config.is_moderator(interaction):
            raise UserFacingError(REFUSED)
        target = member if member is not None else interaction.user
        rows = await asyncio.to_thread(self.tokens.list_for, member_key(target.id))
        if other:  # a moderator sees what was made in their server or in DMs
            rows = [t for t in rows if t.guild_id in (None, interaction.guild_id)]
        if not rows:
            text = (
                f"{target.mention} has no API tokens here."
                if other
                else "You have no API tokens. Make one with `/api token name:my-site`."
            )
        else:
            lines = [token_line(t) for t in rows[:MAX_LISTED]]
            if len(rows) > MAX_LISTED:
                lines.append(f"…and {len(rows) - MAX_LISTED} older ones.")
            head = f"{target.mention}'s API tokens:" if other else "Your API tokens:"
            text = "\n".join([head, *lines])
        await interaction.response.send_message(
            text[:2000], ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )

    @app_commands.command(name="revoke")
    @app_commands.rename(given="id")
    @app_commands.describe(given="The token's id, as /api tokens shows it")
    async def revoke(
        self, interaction: discord.Interaction[ReelBot], given: app_commands.Range[str, 1, 40]
    ) -> None:
        """Revoke a REST API token: it stops working at once."""
        who = member_key(interaction.user.id)
        token_id = given.strip().strip("`").lower()
        token = await asyncio.to_thread(self.tokens.get, token_id)
        own = token is not None and token.member_id == who
        moderates = (
            token is not None
            and not own
            and token.guild_id in (None, interaction.guild_id)
            and self.bot.review_config.is_moderator(interaction)
        )
        if token is None or not (own or moderates):
            raise UserFacingError(
                f"You have no API token `{_shown(token_id[:40])}`; `/api tokens` lists yours."
            )
        if token.revoked_at is not None:
            raise UserFacingError(
                f"Token `{token.id}` was already revoked {_ago(token.revoked_at, '')}."
            )
        done = await asyncio.to_thread(
            self.tokens.revoke, token.id, by=who, only_member=None if moderates else who
        )
        if done is None:  # tokens are never deleted; only a race with an odd state gets here
            raise UserFacingError(f"Token `{token.id}` could not be revoked; try again.")
        whose = f"{_owner(done)}'s token" if moderates else "Your token"
        await interaction.response.send_message(
            f"Revoked. {whose} `{done.id}` (**{_shown(done.name)}**) no longer works.",
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(ApiCog(bot, TokenStore(bot.store.engine)))
