"""Who and what exists on the fake Discord: users, roles, channels, guilds, and their JSON shapes.

The payloads carry every key discord.py 2.7 reads without a default, so an unmodified client parses
them; permissions are computed the way Discord does (roles, then channel overwrites) so the bot
meets real 403s.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1420070400000
_counter = itertools.count()

# Permission bits the fake checks or hands out (discord.Permissions names).
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_APPLICATION_COMMANDS = 1 << 31
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
KICK_MEMBERS = 1 << 1
ALL_PERMISSIONS = (1 << 53) - 1

EVERYONE_PERMISSIONS = (
    ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS
)
MOD_PERMISSIONS = MANAGE_MESSAGES | MANAGE_GUILD | KICK_MEMBERS

# Channel types (discord.ChannelType values).
TEXT_CHANNEL = 0
DM_CHANNEL = 1


def snowflake() -> int:
    """A fresh id that sorts by time, like Discord's, so `created_at` is now."""
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return (ms << 22) | (next(_counter) % (1 << 22))


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(eq=False)
class User:
    id: int
    name: str
    bot: bool = False
    accepts_dms: bool = True  # False: the bot's DMs fail with 50007, as with closed DMs

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": None if self.bot else self.name.capitalize(),
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass(eq=False)
class Role:
    id: int
    name: str
    permissions: int = 0
    position: int = 1
    managed: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": True,
            "flags": 0,
        }


@dataclass
class Overwrite:
    """A channel permission overwrite for a role (`type` 0) or a member (`type` 1)."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass(eq=False)
class Channel:
    id: int
    name: str
    type: int = TEXT_CHANNEL
    guild_id: int | None = None
    position: int = 0
    overwrites: list[Overwrite] = field(default_factory=list)
    recipient: User | None = None  # DM channels only
    nsfw: bool = False  # age-restricted ("NSFW") text channel

    def payload(self) -> dict[str, Any]:
        if self.type == DM_CHANNEL:
            recipients = [self.recipient.payload()] if self.recipient else []
            return {"id": str(self.id), "type": DM_CHANNEL, "recipients": recipients, "flags": 0}
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [o.payload() for o in self.overwrites],
            "nsfw": self.nsfw,
            "topic": None,
            "parent_id": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"


@dataclass(eq=False)
class Guild:
    id: int
    name: str
    owner_id: int
    roles: list[Role] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    members: dict[int, list[int]] = field(default_factory=dict)  # user id -> role ids
    joined_at: str = field(default_factory=iso_now)

    @property
    def everyone(self) -> Role:
        return next(r for r in self.roles if r.id == self.id)

    def role(self, key: int | str) -> Role:
        for role in self.roles:
            if key in (role.id, role.name):
                return role
        raise KeyError(f"no role {key!r} in guild {self.name!r}")

    def channel(self, key: int | str) -> Channel:
        for channel in self.channels:
            if key in (channel.id, channel.name, f"#{channel.name}"):
                return channel
        raise KeyError(f"no channel {key!r} in guild {self.name!r}")

    def member_payload(self, user: User, *, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.members[user.id]],
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "nick": None,
            "avatar": None,
            "banner": None,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = user.payload()
        return data

    def permissions(self, user: User, channel: Channel | None = None) -> int:
        """Discord's order: owner/admin get all; roles OR'd; @everyone, role, member overwrites."""
        if user.id == self.owner_id:
            return ALL_PERMISSIONS
        role_ids = self.members.get(user.id)
        if role_ids is None:
            return 0
        perms = self.everyone.permissions
        for role in self.roles:
            if role.id in role_ids:
                perms |= role.permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        if channel is None:
            return perms
        by_id = {o.id: o for o in channel.overwrites}
        if (o := by_id.get(self.id)) is not None:
            perms = (perms & ~o.deny) | o.allow
        allow = deny = 0
        for role_id in role_ids:
            if (o := by_id.get(role_id)) is not None and o.type == 0:
                allow, deny = allow | o.allow, deny | o.deny
        perms = (perms & ~deny) | allow
        if (o := by_id.get(user.id)) is not None and o.type == 1:
            perms = (perms & ~o.deny) | o.allow
        return perms


@dataclass(eq=False)
class World:
    """Everything that exists. Build with `World.default()` and extend with the add_* helpers."""

    bot: User
    application_id: int
    owner: User
    users: dict[str, User] = field(default_factory=dict)
    guilds: list[Guild] = field(default_factory=list)
    dm_channels: dict[int, Channel] = field(default_factory=dict)  # user id -> channel

    @classmethod
    def default(cls, *, bot_name: str = "reelbot") -> World:
        """One guild "Reel Club" with #clips and #general, a mod role, users alice, bob and mod."""
        bot = User(snowflake(), bot_name, bot=True)
        world = cls(bot=bot, application_id=bot.id, owner=bot)
        guild_id = snowflake()
        guild = Guild(guild_id, "Reel Club", owner_id=0)
        guild.roles.append(Role(guild_id, "@everyone", EVERYONE_PERMISSIONS, position=0))
        world.guilds.append(guild)
        world.add_role("mod", MOD_PERMISSIONS)
        world.add_role(bot_name, EVERYONE_PERMISSIONS | MANAGE_MESSAGES, managed=True)
        guild.members[bot.id] = [guild.role(bot_name).id]
        world.add_channel("clips")
        world.add_channel("general")
        world.add_user("alice")
        world.add_user("bob")
        world.owner = world.add_user("mod", roles=["mod"])
        return world

    @property
    def guild(self) -> Guild:
        return self.guilds[0]

    def add_user(self, name: str, *, roles: Sequence[str] = (), guild: Guild | None = None) -> User:
        user = User(snowflake(), name)
        self.users[name] = user
        target = guild or self.guild
        target.members[user.id] = [target.role(r).id for r in roles]
        return user

    def add_role(self, name: str, permissions: int = 0, *, managed: bool = False) -> Role:
        guild = self.guild
        role = Role(snowflake(), name, permissions, position=len(guild.roles), managed=managed)
        guild.roles.append(role)
        return role

    def add_channel(self, name: str, *, overwrites: list[Overwrite] | None = None) -> Channel:
        guild = self.guild
        channel = Channel(
            snowflake(),
            name,
            guild_id=guild.id,
            position=len(guild.channels),
            overwrites=overwrites or [],
        )
        guild.channels.append(channel)
        return channel

    def user(self, key: User | int | str) -> User:
        if isinstance(key, User):
            return key
        if key in (self.bot.id, self.bot.name):
            return self.bot
        for user in self.users.values():
            if key in (user.id, user.name):
                return user
        raise KeyError(f"no user {key!r}; known: {sorted(self.users)}")

    def find_channel(self, channel_id: int) -> Channel | None:
        for guild in self.guilds:
            for channel in guild.channels:
                if channel.id == channel_id:
                    return channel
        for channel in self.dm_channels.values():
            if channel.id == channel_id:
                return channel
        return None

    def guild_of(self, channel: Channel) -> Guild | None:
        return next((g for g in self.guilds if g.id == channel.guild_id), None)

    def dm_channel(self, user: User) -> Channel:
        if user.id not in self.dm_channels:
            channel = Channel(snowflake(), user.name, type=DM_CHANNEL, recipient=user)
            self.dm_channels[user.id] = channel
        return self.dm_channels[user.id]

    def application_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": self.bot.name,
            "icon": None,
            "description": "",
            "summary": "",
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.owner.payload(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "bot": self.bot.payload(),
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "approximate_guild_count": len(self.guilds),
        }

    def guild_payload(self, guild: Guild, *, all_members: bool) -> dict[str, Any]:
        """GUILD_CREATE data; without the members intent Discord sends only the bot's own member."""
        member_ids = list(guild.members) if all_members else [self.bot.id]
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "owner_id": str(guild.owner_id),
            "unavailable": False,
            "large": False,
            "member_count": len(guild.members),
            "joined_at": guild.joined_at,
            "roles": [r.payload() for r in guild.roles],
            "channels": [c.payload() for c in guild.channels],
            "members": [guild.member_payload(self.user(uid)) for uid in member_ids],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "emojis": [],
            "stickers": [],
            "features": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
        }
