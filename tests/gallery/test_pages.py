"""The gallery's pages, API, files and metrics through a real HTTP client."""

from __future__ import annotations

import json
import re

from aiohttp.test_utils import TestClient, TestServer

from gallery.metrics import METRICS, metrics_app
from gallery.webkit import BROWSE
from tests.gallery.factories import new_id
from tests.gallery.sites import VIDEO, XSS, Site


async def test_home_sorts(site: Site) -> None:
    liked, fresh = site.add(prompt="liked one"), site.add(prompt="fresh one")
    site.community.like(liked, "discord:1")
    assert (await site.text("/")).index("fresh one") < (await site.text("/")).index("liked one")
    for path in ("/?sort=top", "/?sort=top&period=day", "/?sort=trending"):
        html = await site.text(path)
        assert html.index("liked one") < html.index("fresh one"), path
    body = await site.json("/api/clips?sort=top&period=week")
    assert [c["id"] for c in body["clips"]] == [liked, fresh] and body["sort"] == "top"
    assert body["clips"][0]["like_count"] == 1
    assert (await site.client.get("/?sort=best")).status == 400
    assert (await site.client.get("/api/clips?period=year")).status == 400
    for sort in ("top", "trending"):
        first = await site.json(f"/api/clips?sort={sort}&limit=1")
        second = await site.json(f"/api/clips?sort={sort}&limit=1&cursor={first['next']}")
        assert [c["id"] for c in first["clips"] + second["clips"]] == [liked, fresh]
        assert second["next"] is None
        wrong = await site.client.get(f"/api/clips?sort=new&cursor={first['next']}")
        assert wrong.status == 400


async def test_clip_page_shows_everything(site: Site) -> None:
    parent = site.add(prompt="the original", owner_id="discord:5", owner_name="Five")
    gid = site.add(
        prompt="a fox remix",
        negative_prompt="blurry",
        parent_id=parent,
        seed=777,
        camera="pan left",
        backend="ltx",
        owner_id="discord:6",
        owner_name="Six <b>",
        spec={
            "prompt": "a fox remix",
            "negative_prompt": "blurry",
            "seed": 777,
            "camera": "pan left",
            "guidance_scale": 9.5,
            "steps": 30,
            "fps": 8,
            "num_frames": 16,
            "aspect_ratio": "1:1",
            "motion": 2,
            "style": {"name": "anime", "prompt_suffix": "", "negative": ""},
        },
    )
    child = site.add(prompt="a child remix", parent_id=gid)
    site.community.like(gid, "discord:9")
    html = await site.text(f"/clips/{gid}")
    assert "a fox remix" in html and "Avoiding: blurry" in html
    assert 'href="/members/discord:6">Six &lt;b&gt;</a>' in html
    assert "1 ♥" in html and "ltx" in html and "anime" in html and "9.5" in html
    assert "0.5 s" in html  # render time from the timings
    command = (
        "/create prompt: a fox remix -neg blurry -style anime -motion 2 -camera pan left "
        "-ar 1:1 -gs 9.5 -fps 8 -len 2 -seed 777"
    )
    assert f'<code class="command">{command}</code>' in html
    assert f'href="/clips/{parent}">the original</a>' in html
    assert f'href="/clips/{child}">a child remix</a>' in html
    assert f'href="/media/{gid}.mp4?download=1" download="reelbot-{gid}.mp4"' in html
    base = "https://clips.example"
    assert f'<meta property="og:image" content="{base}/media/{gid}.jpg">' in html
    assert f'<meta property="og:video" content="{base}/media/{gid}.mp4">' in html
    assert '<meta property="og:title" content="a fox remix">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html

    api = await site.json(f"/api/clips/{gid}")
    assert api["create_command"] == command and api["owner_name"] == "Six <b>"
    assert api["flags"]["guidance_scale"] == 9.5 and api["flags"]["style"] == "anime"
    assert api["member_url"] == f"{base}/members/discord:6" and api["render_seconds"] == 0.5
    assert "spec" not in api and "worker" not in api
    lineage = await site.json(f"/api/clips/{gid}/lineage")
    assert [c["id"] for c in lineage["ancestors"]] == [parent]
    assert [n["clip"]["id"] for n in lineage["children"]] == [child]


async def test_og_tags_escape_the_prompt(site: Site) -> None:
    gid = site.add(prompt=XSS)
    html = await site.text(f"/clips/{gid}")
    assert "<script>alert" not in html and "<img src=x" not in html
    assert 'og:title" content="a cat &lt;script&gt;alert(1)&lt;/script&gt; and &#34;&gt;' in html
    assert "<script" not in html


async def test_member_page(site: Site) -> None:
    mine = [site.add(owner_id="discord:42", owner_name="Forty-two") for _ in range(2)]
    site.add(owner_id="discord:42", owner_name="Forty-two", hidden=True, prompt="secret")
    site.community.like(mine[0], "discord:1")
    html = await site.text("/members/discord:42")
    assert "Forty-two" in html and '<dd class="clips">2</dd>' in html
    assert '<dd class="likes">1</dd>' in html and "secret" not in html
    body = await site.json("/api/members/discord:42?limit=1")
    assert body["member"]["clips"] == 2 and body["member"]["likes"] == 1
    assert [c["id"] for c in body["clips"]] == [mine[1]] and body["next"]
    await site.text("/members/discord:404", status=404)
    await site.text("/members/..%2F..%2Fetc", status=404)
    assert (await site.client.get("/api/members/discord:404")).status == 404


async def test_search_page_and_api(site: Site) -> None:
    fox = site.add(prompt="foxes in the snow", camera="zoom in")
    site.add(prompt="a whale")
    site.add(prompt="a hidden fox", hidden=True)
    html = await site.text("/search?q=fox")
    assert "foxes in the snow" in html and "a whale" not in html and "hidden fox" not in html
    assert [c["id"] for c in (await site.json("/api/search?q=fox"))["clips"]] == [fox]
    assert (await site.json("/api/search?q=fox&camera=pan+left"))["clips"] == []
    assert (await site.json("/api/search?q=fox&camera=zoom+in&ar=1:1&model=tiny"))["clips"]
    assert (await site.json("/api/search"))["clips"] == []
    for bad in ("camera=sideways", "ar=wide", "model=../x"):
        assert (await site.client.get(f"/api/search?q=fox&{bad}")).status == 400
    html = await site.text('/search?q="><script>alert(1)</script>')
    assert "<script>alert" not in html


async def test_nothing_non_public_appears_anywhere(site: Site) -> None:
    public = site.add(prompt="public clip", owner_id="discord:1")
    secrets = []
    for state in ("held", "hidden", "removed"):
        gid = site.add(prompt=f"secret {state}", parent_id=public, owner_id="discord:1")
        site.store.set_moderation(gid, state)
        secrets.append(gid)
    deleted = site.add(prompt="secret deleted", parent_id=public, owner_id="discord:1")
    site.community.delete(deleted)
    secrets += [deleted, site.add(prompt="secret member", hidden=True, owner_id="discord:1")]
    pages = [
        "/",
        "/?sort=top",
        "/?sort=trending",
        f"/clips/{public}",
        "/members/discord:1",
        "/search?q=secret",
        "/search?q=clip",
        "/api/clips",
        "/api/clips?sort=trending",
        f"/api/clips/{public}/lineage",
        "/api/members/discord:1",
        "/api/search?q=secret",
    ]
    for path in pages:
        text = await site.text(path)
        assert not re.search(r"secret (held|hidden|removed|deleted|member)", text), path
        assert not any(gid in text for gid in secrets), path
    for gid in secrets:
        for path in (
            f"/clips/{gid}",
            f"/api/clips/{gid}",
            f"/api/clips/{gid}/lineage",
            f"/media/{gid}.mp4",
            f"/media/{gid}.jpg",
            f"/media/{gid}.small.mp4",
        ):
            assert (await site.client.get(path)).status == 404, path
    member = await site.json("/api/members/discord:1")
    assert member["member"]["clips"] == 1


async def test_a_parent_is_named_only_when_it_is_public(site: Site) -> None:
    """A public remix of a held, hidden, removed, member-hidden or deleted clip does not give
    that clip's id away, in the API or on the page; a public parent is named."""
    public_parent = site.add(prompt="public parent", owner_id="discord:1")
    shown = site.add(prompt="remix of public", parent_id=public_parent, owner_id="discord:1")
    remixes = {}
    for state in ("held", "hidden", "removed", "member-hidden", "deleted"):
        parent = site.add(prompt=f"kept {state}", hidden=state == "member-hidden")
        if state == "deleted":
            site.community.delete(parent)
        elif state != "member-hidden":
            site.store.set_moderation(parent, state)
        remixes[parent] = site.add(
            prompt=f"remix of {state}", parent_id=parent, owner_id="discord:1"
        )
    answers = [
        await site.json("/api/clips?limit=100"),
        await site.json("/api/members/discord:1?limit=100"),
        await site.json("/api/search?q=remix&limit=100"),
    ]
    for body in answers:
        parents = {clip["id"]: clip["parent_id"] for clip in body["clips"]}
        assert parents[shown] == public_parent
        assert all(parents[child] is None for child in remixes.values())
    for parent, child in remixes.items():
        assert (await site.json(f"/api/clips/{child}"))["parent_id"] is None
        lineage = await site.text(f"/api/clips/{child}/lineage")
        page = await site.text(f"/clips/{child}")
        assert parent not in lineage and parent not in page
        assert "An original: not a remix of a public clip." in page
    assert (await site.json(f"/api/clips/{shown}"))["parent_id"] == public_parent
    tree = await site.json(f"/api/clips/{public_parent}/lineage")
    assert [n["clip"]["parent_id"] for n in tree["children"]] == [public_parent]
    assert f'href="/clips/{public_parent}">public parent</a>' in await site.text(f"/clips/{shown}")


async def test_bidi_controls_never_reach_a_reader(site: Site) -> None:
    """A right-to-left override in a prompt or a name is taken out wherever it is shown."""
    spoof = "a cat \u202eexe.4pm\u202c and \u2066dogs\u2069\u200f"
    gid = site.add(
        prompt=spoof, negative_prompt="\u202eblurry", owner_id="discord:8", owner_name="Eve\u202e"
    )
    controls = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
    for path in (
        "/",
        f"/clips/{gid}",
        "/members/discord:8",
        "/search?q=cat",
        "/search?q=%E2%80%AEcat",
    ):
        html = await site.text(path)
        assert not controls.search(html), path
        assert "a cat exe.4pm and dogs" in html, path
    for path in (
        "/api/clips",
        f"/api/clips/{gid}",
        "/api/members/discord:8",
        "/api/search?q=cat",
        f"/api/clips/{gid}/lineage",
    ):
        body = await site.json(path)
        assert not controls.search(json.dumps(body, ensure_ascii=False)), path
    clip = await site.json(f"/api/clips/{gid}")
    assert clip["prompt"] == "a cat exe.4pm and dogs" and clip["negative_prompt"] == "blurry"
    assert clip["create_command"].startswith("/create prompt: a cat exe.4pm and dogs -neg blurry")
    member = await site.json("/api/members/discord:8")
    assert member["member"]["display_name"] == "Eve"
    assert [c["owner_name"] for c in member["clips"]] == ["Eve"]


async def test_media_kinds_ranges_and_caching(site: Site) -> None:
    gid = site.add()
    small = await site.client.get(f"/media/{gid}.small.mp4")  # no small copy: the clip itself
    assert small.status == 200 and await small.read() == VIDEO
    await site.text(f"/media/{gid}.jpg", status=404)  # no poster written
    site.media.path_for(gid, "jpg").write_bytes(b"\xff\xd8jpeg")
    site.media.path_for(gid, "small.mp4").write_bytes(b"small")
    poster = await site.client.get(f"/media/{gid}.jpg")
    assert poster.status == 200 and poster.headers["Content-Type"] == "image/jpeg"
    assert await (await site.client.get(f"/media/{gid}.small.mp4")).read() == b"small"

    whole = await site.client.get(f"/media/{gid}.mp4")
    assert whole.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    etag, modified = whole.headers["ETag"], whole.headers["Last-Modified"]
    again = await site.client.get(f"/media/{gid}.mp4", headers={"If-None-Match": etag})
    assert again.status == 304
    since = await site.client.get(f"/media/{gid}.mp4", headers={"If-Modified-Since": modified})
    assert since.status == 304
    part = await site.client.get(f"/media/{gid}.mp4", headers={"Range": "bytes=-100"})
    assert part.status == 206 and await part.read() == VIDEO[-100:]
    download = await site.client.get(f"/media/{gid}.mp4?download=1")
    assert download.headers["Content-Disposition"] == f'attachment; filename="reelbot-{gid}.mp4"'
    for bad in (f"/media/{gid}.exe", f"/media/{gid}.png", f"/media/{gid}.webp"):
        assert (await site.client.get(bad)).status == 404


async def test_metrics_are_private(site: Site) -> None:
    """Visitors get no /metrics; the operator's scraper reads them from the private app."""
    gid = site.add()
    site.store.set_moderation(site.add(), "held")
    await site.client.get(f"/clips/{gid}")
    await site.client.get(f"/clips/{new_id()}")
    await site.client.get("/no/such/page")
    public = await site.client.get("/metrics")
    assert public.status == 404 and "reelbot_gallery" not in await public.text()
    app = site.client.app
    assert app is not None
    async with TestClient(TestServer(metrics_app(app[METRICS], app[BROWSE]))) as scraper:
        response = await scraper.get("/metrics")
        assert response.status == 200 and response.content_type == "text/plain"
        text = await response.text()
    assert 'requests_total{method="GET",route="/clips/{id}",status="200"} 1.0' in text
    assert 'requests_total{method="GET",route="/clips/{id}",status="404"} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert 'reelbot_gallery_request_seconds_bucket{le="0.05",route="/clips/{id}"}' in text
    assert 'reelbot_gallery_clips{status="done"} 2.0' in text
    assert "reelbot_gallery_public_clips 1.0" in text
    assert gid not in text


async def test_member_page_lists_their_characters_by_name_only(site: Site) -> None:
    from gallery.characters import CharacterStore

    site.add(owner_id="discord:42", owner_name="Forty-two")
    characters = CharacterStore(site.store.engine)
    for n, (name, owner, guild) in enumerate(
        [("Mira", "discord:42", 1), ("zed", "discord:42", 2), ("Knight", None, 1)]
    ):
        cid = f"{n:032x}"
        characters.save(
            character_id=cid,
            name=name,
            picture=f"{cid[:2]}/{cid}.char.png",
            owner_id=owner,
            guild_id=guild,
            created_by="discord:42",
        )
    html = await site.text("/members/discord:42")
    assert 'Characters: <span class="character">Mira</span>, ' in html
    assert '<span class="character">zed</span>' in html
    assert "Knight" not in html and ".char.png" not in html  # the server's; no pictures
