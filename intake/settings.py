"""Settings every front end that takes requests reads: the member's caps, the prompt policy and
the abuse classifier. The bot's (`bot.settings.BotSettings`) and the REST API's
(`api.settings.ApiSettings`) settings subclass this, so one `.env` gives a member the same caps
and the same rules whichever front end they ask through."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from core.fairshare import Caps
from core.limits import Limits, RoleLimits
from gallery.settings import GallerySettings
from jobs.settings import QueueSettings


class IntakeSettings(QueueSettings, GallerySettings):
    max_in_flight: int = Field(
        default=4, ge=1, description="clips one member may have waiting or rendering at once"
    )
    max_per_day: int = Field(default=50, ge=1, description="clips one member may ask for a day")
    role_limits: dict[int, RoleLimits] = Field(
        default_factory=dict,
        description='higher caps per role id, JSON: {"123": {"in_flight": 8, "per_day": 200}}',
    )
    fast_per_day: int | None = Field(
        default=None,
        ge=0,
        description="after this many clips in a day a member's clips go to the relax tier",
    )
    policy_file: Path | None = Field(
        default=None, description="prompt rules (TOML); unset → default"
    )
    toxicity_threshold: float | None = Field(
        default=0.9,
        ge=0,
        le=1,
        description="hold a prompt for review when the abuse classifier scores it this high "
        "(intake/toxicity.py; needs reelbot[toxicity]); 0 → off",
    )

    def limits(self) -> Limits:
        base = Caps(in_flight=self.max_in_flight, per_day=self.max_per_day)
        return Limits(base=base, roles=self.role_limits, fast_per_day=self.fast_per_day)
