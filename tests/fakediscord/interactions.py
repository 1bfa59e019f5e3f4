"""INTERACTION_CREATE payloads as Discord builds them, from what a scripted user does.

Slash command options are typed from the schema the bot synced (PUT …/commands), the way the Discord
client would: a user cannot invoke a command that was never synced, leave out a required option, or
pick a value outside its choices or bounds, so neither can a test.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from tests.fakediscord.records import Attachment, Interaction, Message
from tests.fakediscord.world import DM_CHANNEL, Channel, Role, User

if TYPE_CHECKING:
    from tests.fakediscord.server import FakeDiscord

# Application command option types.
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = (
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
)


def build_interaction(
    fake: FakeDiscord,
    *,
    type: int,
    user: User,
    channel: Channel,
    data: dict[str, Any],
    message: Message | None = None,
    locale: str = "en-US",
) -> Interaction:
    """The full INTERACTION_CREATE `d` that discord.py 2.7's Interaction._from_data reads."""
    world = fake.world
    guild = world.guild_of(channel)
    interaction_id = fake.state.new_id()
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(world.application_id),
        "type": type,
        "token": secrets.token_urlsafe(48),
        "version": 1,
        "data": data,
        "channel_id": str(channel.id),
        "channel": channel.payload(),
        "locale": locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": fake.attachment_size_limit,
    }
    if guild is not None:
        if user.id not in guild.members:
            raise ValueError(f"{user.name} is not a member of {guild.name}")
        member = guild.member_payload(user)
        member["permissions"] = str(guild.permissions(user, channel))
        payload |= {
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "guild_locale": "en-US",
            "member": member,
            "app_permissions": str(guild.permissions(world.bot, channel)),
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
        }
    else:
        payload |= {
            "user": user.payload(),
            "app_permissions": "0",
            "authorizing_integration_owners": {"0": "0"},
            "context": 1 if channel.type == DM_CHANNEL else 2,
        }
    if message is not None:
        payload["message"] = message.payload(world.bot.id)
    return Interaction(
        id=interaction_id,
        token=payload["token"],
        type=type,
        user=user,
        channel=channel,
        guild=guild,
        payload=payload,
        created=fake.clock(),
        recorder=fake.recorder,
        message=message,
    )


def find_command(fake: FakeDiscord, name: str, guild_id: int | None) -> dict[str, Any] | None:
    """A synced chat-input command by its first word: the guild's commands first, then global."""
    for scope in (guild_id, None):
        for cmd in fake.commands.get(scope, []):
            if cmd["name"] == name and cmd.get("type", 1) == 1:
                return cmd
    return None


def command_data(
    fake: FakeDiscord,
    name: str,
    options: dict[str, Any],
    *,
    guild_id: int | None,
    focused: str | None = None,
) -> dict[str, Any]:
    """`data` of a type-2 (or type-4 autocomplete) interaction for `/name` (or `/group sub`)."""
    words = name.split()
    cmd = find_command(fake, words[0], guild_id)
    if cmd is None:
        if fake.strict_commands:
            synced = {str(k): [c["name"] for c in v] for k, v in fake.commands.items()}
            raise LookupError(
                f"/{words[0]} was never synced, so no user can run it; synced: {synced}"
            )
        cmd = {"id": str(fake.state.new_id()), "name": words[0], "type": 1, "options": []}
    resolved: dict[str, dict[str, Any]] = {}
    schema: dict[str, Any] = cmd
    top: list[dict[str, Any]] = []
    holder = top
    for word in words[1:]:
        sub = next((o for o in schema.get("options", []) if o["name"] == word), None)
        if sub is None or sub["type"] not in (SUB_COMMAND, SUB_COMMAND_GROUP):
            raise LookupError(f"/{name}: {word!r} is not a subcommand of {schema['name']!r}")
        entry: dict[str, Any] = {"name": word, "type": sub["type"], "options": []}
        holder.append(entry)
        holder, schema = entry["options"], sub
    holder.extend(build_options(fake, schema, options, resolved, focused=focused))
    data: dict[str, Any] = {"id": str(cmd["id"]), "name": cmd["name"], "type": 1, "options": top}
    if cmd.get("guild_id"):
        data["guild_id"] = str(cmd["guild_id"])
    if resolved:
        data["resolved"] = resolved
    return data


def build_options(
    fake: FakeDiscord,
    schema: dict[str, Any],
    values: dict[str, Any],
    resolved: dict[str, dict[str, Any]],
    *,
    focused: str | None,
) -> list[dict[str, Any]]:
    declared = {o["name"]: o for o in schema.get("options", [])}
    where = f"/{schema['name']}"
    for name, opt in declared.items():
        if opt.get("required") and name not in values and focused is None:
            raise ValueError(f"{where}: required option {name!r} is missing")
    out = []
    for name, value in values.items():
        opt = declared.get(name)
        if opt is None and declared:
            raise ValueError(f"{where} has no option {name!r}; it has {sorted(declared)}")
        opt_type = opt["type"] if opt else infer_type(value)
        entry: dict[str, Any] = {"name": name, "type": opt_type}
        if name == focused:
            entry |= {"value": str(value), "focused": True}
        else:
            entry["value"] = option_value(fake, opt or {"name": name}, opt_type, value, resolved)
        out.append(entry)
    return out


def infer_type(value: Any) -> int:
    for cls, opt_type in ((bool, BOOLEAN), (int, INTEGER), (float, NUMBER), (User, USER)):
        if isinstance(value, cls):
            return opt_type
    if isinstance(value, Channel):
        return CHANNEL
    if isinstance(value, Role):
        return ROLE
    if isinstance(value, Attachment):
        return ATTACHMENT
    return STRING


def option_value(
    fake: FakeDiscord,
    opt: dict[str, Any],
    opt_type: int,
    value: Any,
    resolved: dict[str, dict[str, Any]],
) -> Any:
    """The wire value of one option, adding users/roles/channels/attachments to `resolved`."""
    world = fake.world
    guild = world.guild
    name = opt["name"]
    if opt_type in (STRING, INTEGER, NUMBER, BOOLEAN):
        conv = {STRING: str, INTEGER: int, NUMBER: float, BOOLEAN: bool}[opt_type]
        value = conv(value)
        choices = [c["value"] for c in opt.get("choices", [])]
        if choices and value not in choices:
            raise ValueError(f"option {name!r}: {value!r} is not one of the choices {choices}")
        lo, hi = opt.get("min_value"), opt.get("max_value")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ValueError(f"option {name!r}: {value!r} is outside [{lo}, {hi}]")
        lo, hi = opt.get("min_length"), opt.get("max_length")
        if opt_type == STRING and ((lo and len(value) < lo) or (hi and len(value) > hi)):
            raise ValueError(f"option {name!r}: length {len(value)} is outside [{lo}, {hi}]")
        return value
    if opt_type == ATTACHMENT:
        if not isinstance(value, Attachment):
            raise TypeError(f"option {name!r} takes fake.upload(...), not {type(value).__name__}")
        resolved.setdefault("attachments", {})[str(value.id)] = value.payload()
        return str(value.id)
    if opt_type == ROLE or (opt_type == MENTIONABLE and isinstance(value, Role)):
        role = value if isinstance(value, Role) else guild.role(value)
        resolved.setdefault("roles", {})[str(role.id)] = role.payload()
        return str(role.id)
    if opt_type == CHANNEL:
        channel = value if isinstance(value, Channel) else guild.channel(value)
        info = {
            k: v for k, v in channel.payload().items() if k in ("id", "name", "type", "parent_id")
        }
        info["permissions"] = str(guild.permissions(world.bot, channel))
        resolved.setdefault("channels", {})[str(channel.id)] = info
        return str(channel.id)
    if opt_type in (USER, MENTIONABLE):
        user = world.user(value)
        resolved.setdefault("users", {})[str(user.id)] = user.payload()
        if user.id in guild.members:
            member = guild.member_payload(user, with_user=False)
            member["permissions"] = str(guild.permissions(user))
            resolved.setdefault("members", {})[str(user.id)] = member
        return str(user.id)
    raise ValueError(f"option {name!r}: unsupported option type {opt_type}")


def modal_components(modal: dict[str, Any], values: dict[str, Any]) -> list[dict[str, Any]]:
    """The submitted components, mirroring the modal's own layout (action rows or labels).

    A str answers a text input; a list answers a select. Required inputs must be answered and
    lengths respected, because the Discord client enforces both."""
    known: set[str] = set()

    def answer(comp: dict[str, Any]) -> dict[str, Any] | None:
        custom_id = comp.get("custom_id")
        if custom_id is None:
            return None
        known.add(custom_id)
        value = values.get(custom_id)
        if comp["type"] == 4:
            text = "" if value is None else str(value)
            if comp.get("required", True) and not text:
                raise ValueError(f"modal input {custom_id!r} is required")
            lo, hi = comp.get("min_length"), comp.get("max_length")
            if text and ((lo and len(text) < lo) or (hi and len(text) > hi)):
                raise ValueError(
                    f"modal input {custom_id!r}: length {len(text)} outside [{lo}, {hi}]"
                )
            return {"type": 4, "custom_id": custom_id, "value": text}
        chosen = [] if value is None else [str(v) for v in value]
        return {"type": comp["type"], "custom_id": custom_id, "values": chosen}

    out = []
    for comp in modal.get("components", []):
        if comp["type"] == 1:
            inner = [a for c in comp.get("components", []) if (a := answer(c)) is not None]
            out.append({"type": 1, "components": inner})
        elif comp["type"] == 18 and (a := answer(comp["component"])) is not None:
            out.append({"type": 18, "id": comp.get("id", 0), "component": a})
    if unknown := set(values) - known:
        raise ValueError(f"the modal has no inputs {sorted(unknown)}; it has {sorted(known)}")
    return out
