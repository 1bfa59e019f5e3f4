"""The gallery in a real headless Chromium: the page renders safely and the clip really plays."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import av
import numpy as np
import pytest
from aiohttp import web
from playwright.async_api import ConsoleMessage, Dialog, async_playwright

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


@pytest.fixture
async def base_url(sqlite_store: GalleryStore, media: LocalMediaStore) -> AsyncIterator[str]:
    gid = new_id()
    path = media.path_for(gid)
    write_mp4(path)
    add_done(
        sqlite_store,
        id=gid,
        prompt=PROMPT,
        media_path=media.relative_path(gid),
        size_bytes=path.stat().st_size,
    )
    runner = web.AppRunner(create_app(sqlite_store, media, public_url="http://127.0.0.1"))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def test_gallery_page_plays_the_clip_in_chromium(base_url: str) -> None:
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

            # The prompt shows as the text people typed, not as markup.
            prompt = page.locator(".clip .prompt").first
            await prompt.wait_for(state="visible", timeout=10_000)
            assert await prompt.inner_text() == PROMPT
            assert await page.locator("img").count() == 0
            assert await page.locator("main script").count() == 0

            video = page.locator("video").first
            assert await video.get_attribute("muted") is not None
            await page.eval_on_selector("video", "v => v.play()")
            await page.wait_for_function(
                "() => document.querySelector('video').readyState >= 2", timeout=15_000
            )
            first = await page.eval_on_selector("video", "v => v.currentTime")
            await page.wait_for_function(
                f"() => document.querySelector('video').currentTime > {first} + 0.2",
                timeout=15_000,
            )
            state = await page.eval_on_selector(
                "video", "v => ({paused: v.paused, error: v.error && v.error.code})"
            )
            assert state == {"paused": False, "error": None}

            # The stylesheet loads under the CSP, and nothing was blocked or executed.
            color = await page.eval_on_selector("body", "b => getComputedStyle(b).backgroundColor")
            assert color == "rgb(16, 17, 20)"
        finally:
            await browser.close()
    assert dialogs == []
    assert not [line for line in console if "Content Security Policy" in line], console
