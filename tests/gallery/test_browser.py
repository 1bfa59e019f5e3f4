"""The gallery in a real headless Chromium: browse, watch, follow lineage, search, all safely."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from aiohttp import web
from playwright.async_api import ConsoleMessage, Dialog, Page, async_playwright

from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from gallery.web import create_app
from tests.gallery.factories import add_done, new_id

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PROMPT = 'a paper boat <script>alert(1)</script> "><img src=x onerror=alert(1)>'

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed (apt-get install chromium)"
)


def write_mp4(path: Path, *, frames: int = 16, size: int = 64, fps: int = 8) -> None:
    """A real H.264 clip as the worker writes them: yuv420p, index at the front."""
    with av.open(str(path), mode="w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            image = np.zeros((size, size, 3), dtype=np.uint8)
            image[:, : (index + 1) * size // frames] = (255, 120, 0)  # a bar that grows
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@dataclass
class Clips:
    parent: str
    main: str
    child: str
    hidden: str
    held: str


@pytest.fixture
async def served(
    sqlite_store: GalleryStore, media: LocalMediaStore, tmp_path: Path
) -> AsyncIterator[tuple[str, Clips]]:
    clip = tmp_path / "clip.mp4"
    write_mp4(clip)

    def add(**overrides: object) -> str:
        gid = new_id()
        shutil.copyfile(clip, media.path_for(gid))
        add_done(
            sqlite_store,
            id=gid,
            media_path=media.relative_path(gid),
            size_bytes=clip.stat().st_size,
            **overrides,
        )
        return gid

    parent = add(prompt="a lighthouse at dusk")
    hidden = add(prompt="a secret lighthouse", hidden=True)
    held = add(prompt="a held lighthouse")
    sqlite_store.set_moderation(held, "held")
    main = add(prompt=PROMPT, parent_id=parent)
    child = add(prompt="a lighthouse remix at night", parent_id=main)
    app = create_app(sqlite_store, media, public_url="http://127.0.0.1")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", Clips(parent, main, child, hidden, held)
    finally:
        await runner.cleanup()


async def _plays(page: Page, selector: str) -> None:
    """The video really decodes and time moves: readyState >= 2 and currentTime advances."""
    await page.eval_on_selector(selector, "v => v.play()")
    await page.wait_for_function(
        f"() => document.querySelector({selector!r}).readyState >= 2", timeout=15_000
    )
    first = await page.eval_on_selector(selector, "v => v.currentTime")
    await page.wait_for_function(
        f"() => document.querySelector({selector!r}).currentTime > {first} + 0.2",
        timeout=15_000,
    )
    state = await page.eval_on_selector(
        selector, "v => ({paused: v.paused, error: v.error && v.error.code})"
    )
    assert state == {"paused": False, "error": None}


async def _nothing_injected(page: Page) -> None:
    assert await page.locator("img").count() == 0
    assert await page.locator("script").count() == 0


async def test_browse_watch_remix_and_search_in_chromium(served: tuple[str, Clips]) -> None:
    base_url, clips = served
    dialogs: list[str] = []
    console: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()

            async def on_dialog(dialog: Dialog) -> None:
                dialogs.append(dialog.message)
                await dialog.dismiss()

            def on_console(message: ConsoleMessage) -> None:
                console.append(f"{message.type}: {message.text}")

            page.on("dialog", on_dialog)
            page.on("console", on_console)
            response = await page.goto(base_url + "/")
            assert response is not None and response.status == 200

            # Home: the public clips, the prompt as the text people typed, not as markup.
            prompt = page.locator(f"#clip-{clips.main} .prompt")
            await prompt.wait_for(state="visible", timeout=10_000)
            assert await prompt.inner_text() == PROMPT
            assert await page.locator("article.clip").count() == 3
            text = await page.locator("main").inner_text()
            assert "secret" not in text and "held" not in text
            await _nothing_injected(page)
            preview = f"#clip-{clips.main} video"
            assert await page.get_attribute(preview, "muted") is not None
            assert await page.get_attribute(preview, "loop") is not None

            # The stylesheet loads under the CSP.
            color = await page.eval_on_selector("body", "b => getComputedStyle(b).backgroundColor")
            assert color == "rgb(16, 17, 20)"

            # Click through to the clip page; its player plays.
            await prompt.locator("a").click()
            await page.wait_for_url(f"{base_url}/clips/{clips.main}")
            assert await page.locator("h1.prompt").inner_text() == PROMPT
            await _plays(page, "video.player")
            await _nothing_injected(page)

            # Lineage both ways, and the /create line to paste.
            ancestors = page.locator(".lineage .ancestors a")
            assert await ancestors.all_inner_texts() == ["a lighthouse at dusk"]
            children = page.locator(".lineage .children a")
            assert await children.all_inner_texts() == ["a lighthouse remix at night"]
            command = await page.locator("code.command").inner_text()
            assert command.startswith("/create prompt: a paper boat <script>")

            # Search from the header finds the public lighthouses only.
            await page.fill("form.search input[name=q]", "lighthouse")
            await page.press("form.search input[name=q]", "Enter")
            await page.wait_for_url(f"{base_url}/search?q=lighthouse")
            found = await page.locator("article.clip .prompt").all_inner_texts()
            assert sorted(found) == ["a lighthouse at dusk", "a lighthouse remix at night"]
            await _nothing_injected(page)

            # Through the lineage link, to the parent.
            await page.locator(f"#clip-{clips.parent} .prompt a").click()
            await page.wait_for_url(f"{base_url}/clips/{clips.parent}")
            assert await page.locator(".lineage .children a").first.inner_text() == PROMPT
            await _nothing_injected(page)
        finally:
            await browser.close()
    assert dialogs == []
    assert not [line for line in console if "Content Security Policy" in line], console
