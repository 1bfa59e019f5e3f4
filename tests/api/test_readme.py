"""The README's "REST API" section (tokens, clips and webhooks under it) matches what runs: its
Python client runs as written against a real API, every route its curl lines call is one the
API documents, and its problem example is what the API answers."""

from __future__ import annotations

import asyncio
import json
import re

from tests.api.conftest import Api
from tests.harness.paths import ROOT
from tests.harness.waiting import eventually


def section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## REST API\n")
    return text[start : text.index("\n## ", start + 5)]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", section(), flags=re.S)


async def test_the_python_example_makes_a_clip_and_waits_for_it(api: Api) -> None:
    [code] = [block for block in blocks("python") if "def make_clip" in block]
    code = code.replace('"http://127.0.0.1:8081", "rb_…"', f'"{api.url}", "{api.token}"')
    code = code.replace("time.sleep(2)", "time.sleep(0.05)")
    names: dict = {}
    exec(compile(code, "README.md", "exec"), names)  # as a reader pastes it

    waiting = asyncio.ensure_future(
        asyncio.to_thread(names["make_clip"], "a fox in the snow -ar 9:16", motion=3)
    )
    row = await eventually(lambda: (api.ctx.store.list_unfinished() or [None])[0])
    assert (row.aspect_ratio, row.motion) == ("9:16", 3)
    api.ctx.store.mark_rendering(row.id, worker="w", attempt=1)
    api.ctx.store.mark_done(
        row.id, media_path=f"{row.id[:2]}/{row.id}.mp4", size_bytes=1, timings={}
    )
    clip = await asyncio.wait_for(waiting, 30)
    assert clip["status"] == "succeeded"
    assert clip["result"]["video_url"] == f"http://gallery.test/media/{row.id}.mp4"
    # a retry with the same prompt is the same clip (its Idempotency-Key)
    again = await asyncio.to_thread(names["make_clip"], "a fox in the snow -ar 9:16", motion=3)
    assert again["id"] == row.id
    refused = asyncio.to_thread(names["make_clip"], "a fox -motion 9")
    try:
        await refused
    except RuntimeError as exc:
        assert "isn't a valid motion strength" in str(exc)
    else:
        raise AssertionError("a refused clip raised nothing")


async def test_every_route_the_curl_lines_call_is_documented(api: Api) -> None:
    document = (await api.call("GET", "/api/openapi.json", token=None)).body
    documented = {(m.upper(), path) for path, item in document["paths"].items() for m in item}
    shell = "".join(blocks("sh"))  # the clips' lines and the webhooks'
    called = set()
    for line in shell.splitlines():
        match = re.search(r'"\$API(/[^"?]*)', line)
        if not match:
            continue
        method = re.search(r"-X (\w+)", line)
        path = re.sub(r"3f…|we_…", "{id}", match[1])
        called.add((method[1] if method else "GET", path))
    assert called and called <= documented, called - documented
    # and every route of the API is shown (the media route's siblings named beside it)
    served = {(m, path) for m, path in documented if path.startswith("/v1/")}
    siblings = {("GET", "/v1/clips/{id}/preview"), ("GET", "/v1/clips/{id}/poster")}
    assert served - {("GET", "/v1/openapi.json")} - called == siblings
    assert "/preview, /poster" in shell


async def test_the_problem_example_is_what_the_api_answers(api: Api) -> None:
    [example] = blocks("json")
    answer = await api.post_clip({"prompt": "a fox -motion 9"})
    assert answer.body == json.loads(example)
