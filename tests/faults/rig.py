"""One whole reelbot install to break on purpose, and the counting of what its members saw.

Real parts, as `reelbot up` runs them: a private Redis server this rig may SIGKILL and restart
(with or without its AOF), `python -m worker` processes running the tiny model with injectable
faults (`tests.faults.backends`), SQLite and a media folder, and the unmodified discord.py bot
in this process against the fake Discord (tests/fakediscord). Outcomes are counted from the
channel, per request, as a member would: a clip posted, a failure explained, a refusal, or
nothing (lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis
from sqlmodel import Session, col, select

from bot.app import ReelBot
from cli.local_redis import LocalRedis
from core.rendercaps import Capabilities
from gallery.models import Generation
from tests.fakediscord import FakeDiscord, Message
from tests.harness.stack import READY, Stack
from tests.harness.waiting import eventually
from tests.harness.workers import WorkerProcess, WorkerProcesses, reelbot_env

FAULTY_BACKEND = "tests.faults.backends"
FAILED = "sorry, this clip failed"
SMALL = "-len 1 -fps 8"  # the cheapest clip the tiny model makes: 9 frames


# Hex digits in the token read as leetspeak now and then ("t175…" as "tits"), and the prompt
# policy refused the request (about 1 ask in 10,000): consonants and no digits read as nothing.
_CONSONANTS = str.maketrans("0123456789abcdef", "bcdfghjklmnpqrvw")


def unique_word() -> str:
    """A token no prompt check reads as a word: found in the messages, refused by nothing."""
    return "zq" + uuid.uuid4().hex[:10].translate(_CONSONANTS)


@dataclass
class Request:
    """One /create as a member sent it; `token` (in the prompt) finds its messages."""

    token: str
    user: str
    asked_at: float
    accepted: bool = False  # answered with the public "queued" message
    refusal: str = ""  # answered privately instead: what the member was told


@dataclass
class Trial:
    """One trial's outcome, counted per request from what the channel shows."""

    asked: int = 0
    delivered: int = 0  # requests whose clip was posted
    duplicates: int = 0  # posts beyond one per request (clips or failure notices)
    lost: int = 0  # accepted, then neither a clip nor a failure notice: the member waits forever
    told: int = 0  # members told plainly why there is no clip (a failure notice or a refusal)
    recovery_s: float | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # expectations the trial missed


class Rig:
    """Start with `async with Rig(tmp_path) as rig:`; the bot runs from the start, workers when
    asked (`start_worker`), so a test decides when work can be taken."""

    def __init__(
        self,
        root: Path,
        *,
        appendonly: bool = True,
        capabilities: Capabilities | None = None,
        **worker_env: str,
    ) -> None:
        """`capabilities`: what the bot sizes requests with (tiny's by default), for a rig
        whose workers load another backend (`REELBOT_BACKEND` in `worker_env`)."""
        self.root = root
        self.capabilities = capabilities
        self.data_dir = root / "data"
        self.redis_server = LocalRedis(root / "redis", appendonly=appendonly)
        self.worker_env = {
            "REELBOT_BACKEND": FAULTY_BACKEND,
            "REELBOT_MAX_TRIES": "3",
            **worker_env,
        }
        self.fake = FakeDiscord()
        self.workers: WorkerProcesses | None = None
        self.stack: Stack | None = None
        self.bot: ReelBot | None = None
        self._bot_context: contextlib.AsyncExitStack | None = None
        self._users = 0

    async def __aenter__(self) -> Rig:
        self.redis_server.start()
        env = reelbot_env(self.redis_server.url, self.data_dir, **self.worker_env)
        self.workers = WorkerProcesses(env, self.root / "logs")
        self.stack = Stack(self.redis_server.url, self.data_dir, capabilities=self.capabilities)
        try:
            await self.fake.start()
            await self.start_bot()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.stop_bot()
            await self.fake.stop()
            if self.stack is not None:
                await self.stack.close()
        finally:
            if self.workers is not None:
                self.workers.stop_all()
            self.redis_server.stop()

    # -- the parts -------------------------------------------------------------------------

    async def start_bot(self) -> ReelBot:
        """A fresh bot on the same Redis, database and Discord, as after a process restart."""
        assert self.stack is not None and self._bot_context is None
        context = contextlib.AsyncExitStack()
        self.bot = await context.enter_async_context(self.fake.running(await self.stack.new_bot()))
        self._bot_context = context
        return self.bot

    async def stop_bot(self) -> None:
        if self._bot_context is not None:
            context, self._bot_context, self.bot = self._bot_context, None, None
            await context.aclose()

    def start_worker(self) -> WorkerProcess:
        assert self.workers is not None
        return self.workers.start()

    def live_workers(self) -> list[WorkerProcess]:
        assert self.workers is not None
        return [p for p in self.workers.processes if p.poll() is None]

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[Redis]:
        """A Redis client of the test's own (the bot's and workers' stay theirs)."""
        redis = Redis.from_url(self.redis_server.url)
        try:
            yield redis
        finally:
            await redis.aclose()

    def restart_redis(self) -> None:
        """SIGKILL Redis and start it again on the same port and folder (and AOF, if on)."""
        self.redis_server.kill()
        self.redis_server.start()

    def logs(self) -> str:
        return self.workers.logs() if self.workers is not None else ""

    # -- members ---------------------------------------------------------------------------

    async def ask(self, words: str = "a lighthouse in a storm", *, flags: str = SMALL) -> Request:
        """A new member runs /create (per-member caps never interfere); returns at the answer."""
        return await self._command("create", words, flags, {})

    async def restyle(self, video: bytes, words: str = "a watercolor painting") -> Request:
        """A new member runs /restyle with `video` attached (as `clip.mp4`)."""
        attachment = self.fake.upload("clip.mp4", video, content_type="video/mp4")
        return await self._command("restyle", words, "", {"video": attachment})

    async def _command(
        self, name: str, words: str, flags: str, options: dict[str, object]
    ) -> Request:
        self._users += 1
        user = f"member{self._users}"
        self.fake.world.add_user(user)
        request = Request(token=unique_word(), user=user, asked_at=time.monotonic())
        prompt = f"{words} {request.token} {flags}".strip()
        ix = await self.fake.slash_command(name, {**options, "prompt": prompt}, user=user)
        # The public answer fills the deferred "thinking…" in; an error after the deferral is a
        # private followup instead (a database outage can take 30 s to get there).
        answers = [
            asyncio.ensure_future(ix.wait_reply(timeout=90)),
            asyncio.ensure_future(ix.wait_followup(timeout=90)),
        ]
        done, pending = await asyncio.wait(answers, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        reply = done.pop().result()
        if " queued (" in reply.content and not reply.ephemeral:
            request.accepted = True
        else:
            request.refusal = reply.content
        return request

    def posts(self, request: Request, kind: str = READY) -> list[Message]:
        """The bot's public messages for this request of one kind (READY or FAILED)."""
        shown = [m for m in self.fake.messages if not m.ephemeral and not m.deleted]
        return [m for m in shown if kind in m.content and request.token in m.content]

    def answered(self, request: Request) -> bool:
        """The member has their clip, a failure notice, or was refused up front."""
        return bool(request.refusal or self.posts(request) or self.posts(request, FAILED))

    async def settle(self, requests: list[Request], timeout: float = 120) -> float:
        """Wait until every request is answered (or `timeout`); the monotonic time the last
        one was (a little late: polled every 0.05 s)."""
        with contextlib.suppress(AssertionError):  # the count says which were not answered
            await eventually(lambda: all(self.answered(r) for r in requests), timeout=timeout)
        ended = time.monotonic()
        # Nothing to wait for: a duplicate would come right behind the first post, so a window
        # in which none comes is what says there is none.
        await asyncio.sleep(0.5)
        return ended

    def row(self, request: Request) -> Generation | None:
        """The request's gallery row, found by its token (None: never recorded)."""
        assert self.stack is not None
        with Session(self.stack.engine) as session:
            return session.exec(
                select(Generation).where(col(Generation.prompt).contains(request.token))
            ).first()

    async def generation_id(self, request: Request, timeout: float = 30) -> str:
        row = await eventually(lambda: asyncio.to_thread(self.row, request), timeout=timeout)
        return row.id

    def count(self, requests: list[Request], trial: Trial | None = None) -> Trial:
        """Add what members saw for `requests` to `trial`."""
        trial = trial or Trial()
        for request in requests:
            clips, failures = len(self.posts(request)), len(self.posts(request, FAILED))
            trial.asked += 1
            trial.delivered += clips > 0
            trial.duplicates += max(0, clips + failures - 1)
            trial.lost += request.accepted and clips + failures == 0
            trial.told += bool(request.refusal) or failures > 0
        return trial
