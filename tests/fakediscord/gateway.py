"""The gateway websocket: HELLO → IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME, dispatches.

discord.py 2.7 connects with `?v=10&encoding=json&compress=zlib-stream` (or `zstd-stream` when a
zstd module is installed). For zlib-stream the fake answers like Discord: binary frames from one
zlib stream per connection, each ending in a Z_SYNC_FLUSH; otherwise (or with `compress=False`) text
frames, which discord.py also accepts.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from tests.fakediscord.server import FakeDiscord

# Gateway intents (discord.Intents bit values).
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
MESSAGE_CONTENT = 1 << 15
PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

CLEAN_CLOSES = (1000, 1001)  # Discord ends the session on these; anything else may RESUME


class Connection:
    """One websocket; sends are serialised because the zlib stream must stay in order."""

    def __init__(self, ws: web.WebSocketResponse, *, zlib_stream: bool) -> None:
        self.ws = ws
        self.zlib = zlib.compressobj() if zlib_stream else None
        self.lock = asyncio.Lock()
        self.closed_by_server = False

    async def close(self, code: int, message: bytes = b"") -> None:
        self.closed_by_server = True
        await self.ws.close(code=code, message=message)

    async def send(self, frame: dict[str, Any]) -> None:
        text = json.dumps(frame)
        async with self.lock:
            if self.ws.closed:
                return
            try:
                if self.zlib is None:
                    await self.ws.send_str(text)
                else:
                    data = self.zlib.compress(text.encode()) + self.zlib.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
            except (ConnectionError, RuntimeError):
                pass  # the frame stays in the session buffer for a RESUME


class Session:
    """A gateway session: outlives its connection until closed cleanly, so RESUME can replay."""

    def __init__(self, intents: int) -> None:
        self.id = secrets.token_hex(16)
        self.intents = intents
        self.seq = 0
        self.conn: Connection | None = None
        self.buffer: list[dict[str, Any]] = []
        self.ended = False
        self.lock = asyncio.Lock()

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        async with self.lock:
            self.seq += 1
            frame = {"op": 0, "t": event, "s": self.seq, "d": data}
            self.buffer.append(frame)
            del self.buffer[:-1000]
            if self.conn is not None:
                await self.conn.send(frame)


class Gateway:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.sessions: list[Session] = []
        self.connections: set[Connection] = set()

    @property
    def live(self) -> list[Session]:
        return [s for s in self.sessions if not s.ended]

    async def dispatch(
        self,
        event: str,
        data: dict[str, Any] | Callable[[Session], dict[str, Any] | None],
        *,
        intent: int | None = None,
        newest_only: bool = False,
    ) -> int:
        """Send an event to every live session that asked for it (by intent); returns how many.

        `data` may be a function of the session (to strip content without MESSAGE_CONTENT), and
        returning None skips that session."""
        targets = self.live[-1:] if newest_only else self.live
        sent = 0
        for session in targets:
            if intent is not None and not session.intents & intent:
                continue
            payload = data(session) if callable(data) else data
            if payload is None:
                continue
            await session.dispatch(event, payload)
            sent += 1
        if sent:
            self.fake.recorder.record("dispatch", data={"t": event, "sessions": sent})
        return sent

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoclose=False, max_msg_size=0)
        await ws.prepare(request)
        zlib_stream = self.fake.compress and request.query.get("compress") == "zlib-stream"
        conn = Connection(ws, zlib_stream=zlib_stream)
        self.connections.add(conn)
        self.fake.recorder.record("connect", data=dict(request.query))
        hello = {"heartbeat_interval": self.fake.heartbeat_interval_ms, "_trace": ["fakediscord"]}
        await conn.send({"op": 10, "d": hello, "s": None, "t": None})
        session: Session | None = None
        try:
            while True:
                msg = await ws.receive()
                if msg.type in (
                    WSMsgType.CLOSE,
                    WSMsgType.CLOSING,
                    WSMsgType.CLOSED,
                    WSMsgType.ERROR,
                ):
                    break
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                frame = json.loads(msg.data)
                session = await self._on_frame(conn, session, frame)
        finally:
            code = ws.close_code
            if session is not None and session.conn is conn:
                session.conn = None
                if code in CLEAN_CLOSES and not conn.closed_by_server:
                    session.ended = True
            self.connections.discard(conn)
            self.fake.recorder.record(
                "disconnect", data={"code": None if code is None else int(code)}
            )
            await ws.close()
        return ws

    async def _on_frame(
        self, conn: Connection, session: Session | None, frame: dict[str, Any]
    ) -> Session | None:
        op = frame.get("op")
        raw = frame.get("d")
        d: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if op == 1:
            await conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            if session is not None:
                await conn.close(4005, b"Already authenticated")
                return session
            return await self._identify(conn, d)
        elif op == 6:
            return await self._resume(conn, d)
        elif session is None:
            await conn.close(4003, b"Not authenticated")
        elif op == 8:
            await self._chunk(session, d)
        return session

    async def _identify(self, conn: Connection, d: dict[str, Any]) -> Session | None:
        fake = self.fake
        if d.get("token") != fake.token:
            await conn.close(4004, b"Authentication failed")
            return None
        intents = int(d.get("intents", 0))
        if intents & PRIVILEGED & ~fake.allowed_intents:
            await conn.close(4014, b"Disallowed intent(s)")
            return None
        session = Session(intents)
        session.conn = conn
        self.sessions.append(session)
        fake.recorder.record("identify", data={"intents": intents, "session_id": session.id})
        world = fake.world
        ready = {
            "v": 10,
            "user": {**world.bot.payload(), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in world.guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": fake.gateway_url,
            "application": {"id": str(world.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fakediscord"],
        }
        await session.dispatch("READY", ready)
        if intents & GUILDS:
            for guild in world.guilds:
                payload = world.guild_payload(guild, all_members=bool(intents & GUILD_MEMBERS))
                await session.dispatch("GUILD_CREATE", payload)
        fake.recorder.record("ready", data={"session_id": session.id})
        return session

    async def _resume(self, conn: Connection, d: dict[str, Any]) -> Session | None:
        session = next((s for s in self.live if s.id == d.get("session_id")), None)
        if session is None or d.get("token") != self.fake.token:
            await conn.send({"op": 9, "d": False, "s": None, "t": None})
            return None
        async with session.lock:
            old, session.conn = session.conn, conn
            seq = d.get("seq") or 0
            for frame in session.buffer:
                if frame["s"] > seq:
                    await conn.send(frame)
        if old is not None and old is not conn:
            await old.close(4000)
        await session.dispatch("RESUMED", {"_trace": ["fakediscord"]})
        self.fake.recorder.record("resume", data={"session_id": session.id, "seq": seq})
        return session

    async def _chunk(self, session: Session, d: dict[str, Any]) -> None:
        """GUILD_MEMBERS_CHUNK for discord.py's startup chunking and `query_members`."""
        world = self.fake.world
        guild = next((g for g in world.guilds if g.id == int(d["guild_id"])), None)
        if guild is None:
            return
        users = [world.user(uid) for uid in guild.members]
        if d.get("user_ids"):
            wanted = {int(u) for u in d["user_ids"]}
            users = [u for u in users if u.id in wanted]
        elif d.get("query"):
            users = [u for u in users if u.name.lower().startswith(str(d["query"]).lower())]
        if d.get("limit"):
            users = users[: int(d["limit"])]
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [guild.member_payload(u) for u in users],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if d.get("nonce"):
            chunk["nonce"] = d["nonce"]
        await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def send_op(self, op: int, d: Any) -> None:
        """A raw opcode to every live session (7 RECONNECT, 9 INVALID_SESSION)."""
        for session in self.live:
            if session.conn is not None:
                await session.conn.send({"op": op, "d": d, "s": None, "t": None})

    async def close(self, code: int, *, end_sessions: bool) -> None:
        if end_sessions:
            for session in self.sessions:
                session.ended = True
        for conn in list(self.connections):
            await conn.close(code)
