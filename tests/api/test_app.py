"""The API's frame: tokens, problems, the document, health."""

from __future__ import annotations

from api.app import build_context, close_context
from api.settings import ApiSettings
from tests.api.conftest import Api


async def test_health_needs_no_token(api: Api) -> None:
    answer = await api.call("GET", "/healthz", token=None)
    assert answer.status == 200
    assert answer.body == {"ok": True}


async def test_a_route_without_a_token_is_a_401_problem_that_says_how_to_get_one(api: Api) -> None:
    answer = await api.call("GET", "/v1/clips", token=None)
    assert answer.status == 401
    assert answer.content_type == "application/problem+json"
    assert answer.body["type"] == "urn:reelbot:problem:unauthorized"
    assert "Authorization: Bearer" in answer.detail
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_wrong_or_revoked_token_is_a_401(api: Api) -> None:
    answer = await api.call("GET", "/v1/clips", token="rb_nope")
    assert answer.status == 401
    assert "not valid" in answer.detail
    plaintext = api.issue()
    token_id = plaintext.split("_")[1]
    api.ctx.tokens.revoke(token_id, by="discord:1")
    answer = await api.call("GET", "/v1/clips", token=plaintext)
    assert answer.status == 401
    assert "revoked" in answer.detail


async def test_an_unknown_route_is_a_404_problem(api: Api) -> None:
    answer = await api.call("GET", "/v1/nothing")
    assert answer.status == 404
    assert answer.content_type == "application/problem+json"
    assert "openapi.json" in answer.detail


async def test_the_api_offers_the_styles_file_as_the_bot_does(
    redis_server, redis, tmp_path
) -> None:
    styles = tmp_path / "styles.toml"
    styles.write_text('[styles.inky]\nprompt = "ink wash painting"\n', encoding="utf-8")
    data = tmp_path / "data"
    settings = ApiSettings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data,
        styles_file=styles,
        toxicity_threshold=0,
        public_url="http://gallery.test",
    )
    ctx = await build_context(settings, redis_url=redis_server.url)
    try:
        assert ctx.style_presets["inky"].prompt_suffix.endswith("ink wash painting")
    finally:
        await close_context(ctx)
