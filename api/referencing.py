"""`-ref NAME` through the API: a prompt's saved characters (in the text, or the `ref` field
in the flag's own words) resolved against the token's member's characters exactly as /create
resolves them (`intake.characters.take_references`): the family that takes reference pictures,
the names screened, then looked up (the member's own, then the server's)."""

from __future__ import annotations

import dataclasses

from api.askers import ApiAsker, Draft
from api.context import ApiContext
from api.schemas import ClipRequest
from core.characters import read_references
from core.flags import ParsedPrompt
from core.rendercaps import Capabilities
from gallery.apitables import ApiToken
from gallery.characters import CharacterStore
from intake.characters import take_references, with_references
from intake.followups import build_spec


async def with_characters(
    ctx: ApiContext, token: ApiToken, req: ClipRequest, parsed: ParsedPrompt, caps: Capabilities
) -> Draft:
    """`-ref NAME` in the prompt and the `ref` field (the flag's value: names split by commas)
    resolved against the member's characters exactly as /create resolves them
    (`intake.characters.take_references`)."""
    if req.ref is not None:
        names = read_references("ref", req.ref, parsed.references)
        parsed = dataclasses.replace(parsed, references=names)
    parsed, caps, pictures = await take_references(
        parsed,
        main=caps,
        member_id=token.member_id,
        guild_id=token.guild_id,
        store=CharacterStore(ctx.engine),
        policy=ctx.prompt_policy,
        fleet=ctx.submitter.fleet,
    )
    spec = build_spec(parsed, ApiAsker.of(token), caps, default_quality=ctx.default_quality)
    return Draft(with_references(spec, pictures))
