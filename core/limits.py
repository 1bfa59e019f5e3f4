"""Each member's limits: the server-wide caps, raised by the roles an operator names.

Pure: the settings give the numbers, the caller gives the member's role ids. A role override
only ever raises a cap (a member with several roles gets the most generous of each), so giving a
role to someone can never make them worse off than everyone else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from core.fairshare import Caps, Tier


class RoleLimits(BaseModel):
    """A role's own caps; an unset one keeps the server-wide value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    in_flight: int | None = Field(default=None, ge=1)
    per_day: int | None = Field(default=None, ge=1)


def member_caps(base: Caps, overrides: Mapping[int, RoleLimits], role_ids: Iterable[int]) -> Caps:
    """`base` raised by every override of a role the member has."""
    in_flight, per_day = base.in_flight, base.per_day
    for role_id in role_ids:
        limits = overrides.get(role_id)
        if limits is None:
            continue
        in_flight = max(in_flight, limits.in_flight or 0)
        per_day = max(per_day, limits.per_day or 0)
    return Caps(in_flight=in_flight, per_day=per_day)


def tier_for(made_today: int, fast_per_day: int | None) -> Tier:
    """Fast until the member has made `fast_per_day` clips today, relax after (as Midjourney's
    fast hours): heavy users keep creating, behind everyone's fast clips but never starved."""
    if fast_per_day is not None and made_today >= fast_per_day:
        return "relax"
    return "fast"


@dataclass(frozen=True)
class Limits:
    """The caps and tier rule one bot applies (from `BotSettings.limits()`)."""

    base: Caps = field(default_factory=Caps)
    roles: Mapping[int, RoleLimits] = field(default_factory=dict)
    fast_per_day: int | None = None

    def caps_for(self, role_ids: Iterable[int]) -> Caps:
        return member_caps(self.base, self.roles, role_ids)

    def tier_for(self, made_today: int) -> Tier:
        return tier_for(made_today, self.fast_per_day)
