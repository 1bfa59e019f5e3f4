"""What every API handler uses, made once at start-up (`api.app.build_context`) and passed in.

Nothing here is made at import time; a test builds an `ApiContext` on its own Redis and
database. Attribute names say what a thing is (`prompt_policy`, `upload_checks`), as `ReelBot`'s
do, so a handler reads the same as the bot's code for the same step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web
from arq.connections import ArqRedis
from sqlalchemy.engine import Engine

from api.clipwriter import ApiClipWriter
from api.ratelimit import RateLimit
from api.settings import ApiSettings
from api.tokencache import TOKEN_TTL_S, VerifiedTokens
from core.policy import Policy
from core.rendercaps import Capabilities
from core.spec import Quality, StylePreset
from core.styles import DEFAULT_STYLES
from gallery.api_clips import ApiClipStore
from gallery.api_tokens import TokenStore
from gallery.community import CommunityStore
from gallery.media import LocalMediaStore
from gallery.moderation import ModerationStore
from gallery.store import GalleryStore
from intake.caches import Bans, DefaultFlags
from intake.media.checks import UploadChecks
from intake.submit import Submitter
from intake.toxicity import ToxicityCheck
from jobs.admission import Admission
from jobs.render_times import RenderTimes

# A ban is read for every request, through a cache as short-lived as the tokens' (a banned
# member's tokens stop within a second): a burst's reads share one query, and a request's second
# read (screening, after the token's) is answered from memory.
FRESH_S = TOKEN_TTL_S


@dataclass
class ApiContext:
    settings: ApiSettings
    engine: Engine
    store: GalleryStore
    tokens: TokenStore
    verified_tokens: VerifiedTokens  # `tokens.verify`'s answers, kept a second
    api_clips: ApiClipStore
    api_clip_rows: ApiClipWriter  # `api_clips`' writes, a burst in one transaction
    queue: ArqRedis
    admission: Admission
    render_times: RenderTimes  # the ETA of a clip from the place its reservation previewed
    submitter: Submitter
    moderation_store: ModerationStore
    community: CommunityStore
    bans: Bans
    default_flags: DefaultFlags
    prompt_policy: Policy
    toxicity_check: ToxicityCheck | None
    upload_checks: UploadChecks
    media_store: LocalMediaStore
    model_capabilities: Capabilities
    public_url: str  # the gallery's: clip pages and media
    api_url: str  # the API's own links
    rate_limit: RateLimit
    default_quality: Quality = "hq"
    style_presets: Mapping[str, StylePreset] = field(default_factory=lambda: DEFAULT_STYLES)

    @classmethod
    def assemble(
        cls,
        *,
        settings: ApiSettings,
        engine: Engine,
        queue: ArqRedis,
        admission: Admission,
        media_store: LocalMediaStore,
        capabilities: Capabilities,
        policy: Policy,
        toxicity: ToxicityCheck | None = None,
        upload_checks: UploadChecks | None = None,
        styles: Mapping[str, StylePreset] = DEFAULT_STYLES,
    ) -> ApiContext:
        """The context over an engine and a queue made by the caller (`run_api`, a test)."""
        store = GalleryStore(engine)
        moderation = ModerationStore(engine)
        community = CommunityStore(engine)
        api_clips = ApiClipStore(engine)
        tokens = TokenStore(engine)
        return cls(
            settings=settings,
            engine=engine,
            store=store,
            tokens=tokens,
            verified_tokens=VerifiedTokens(tokens),
            api_clips=api_clips,
            api_clip_rows=ApiClipWriter(api_clips),
            queue=queue,
            admission=admission,
            render_times=RenderTimes(queue, admission),
            submitter=Submitter(queue, store, admission, limits=settings.limits()),
            moderation_store=moderation,
            community=community,
            bans=Bans(moderation, ttl=FRESH_S),
            default_flags=DefaultFlags(community),
            prompt_policy=policy,
            toxicity_check=toxicity,
            upload_checks=upload_checks or UploadChecks(),
            media_store=media_store,
            model_capabilities=capabilities,
            public_url=settings.resolved_public_url(),
            api_url=settings.resolved_api_url(),
            rate_limit=RateLimit(admission.pipelined, settings.api_rate_per_min),
            default_quality=settings.default_quality,
            style_presets=styles,
        )


CONTEXT = web.AppKey("context", ApiContext)


def context_of(request: web.Request) -> ApiContext:
    return request.app[CONTEXT]
