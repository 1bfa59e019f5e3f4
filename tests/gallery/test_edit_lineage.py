"""An edit's page says in its lineage what it was edited from and how: "Edited from <parent>:
what was done — “the instruction”", escaped; a parent that isn't public is not named."""

from __future__ import annotations

from tests.gallery.sites import XSS, Site

EDIT = {"mode": "edit", "input_media": ["ab/parent.mp4"]}


async def test_an_edit_page_says_what_it_was_edited_from_and_how(site: Site) -> None:
    parent = site.add(prompt="a red car on a coast road")
    spec = {**EDIT, "edit": {"kind": "modify", "where": "the sky"}}
    gid = site.add(prompt="make it snow", parent_id=parent, spec=spec)

    page = await site.text(f"/clips/{gid}")
    assert (
        f'Edited from <a href="/clips/{parent}">a red car on a coast road</a>: '
        "modify the sky — “make it snow”"
    ) in page

    spec = {**EDIT, "edit": {"kind": "expand", "expand_to": "9:16"}}
    wider = site.add(prompt="a red car on a coast road", parent_id=parent, spec=spec)
    page = await site.text(f"/clips/{wider}")
    assert f'Edited from <a href="/clips/{parent}">' in page
    assert "</a>: expanded to 9:16</p>" in page  # the borders follow the parent's prompt


async def test_the_instruction_is_escaped_and_a_private_parent_is_not_named(site: Site) -> None:
    parent = site.add(prompt="a secret parent", hidden=True)
    spec = {**EDIT, "edit": {"kind": "swap", "where": "the <b>car</b>"}}
    gid = site.add(prompt=XSS, parent_id=parent, spec=spec)

    page = await site.text(f"/clips/{gid}")
    assert "Edited from a clip that is not public: swap the &lt;b&gt;car&lt;/b&gt;" in page
    assert "<script>alert(1)" not in page and "a secret parent" not in page
    assert parent not in page


async def test_a_clip_that_is_not_an_edit_says_nothing_of_edits(site: Site) -> None:
    parent = site.add(prompt="the original")
    gid = site.add(prompt="a remix", parent_id=parent)
    assert "Edited from" not in await site.text(f"/clips/{gid}")


async def test_an_edit_offers_no_line_that_would_make_another_clip(site: Site) -> None:
    """Pasting `/create prompt: make it snow` would make a new clip of snow, not this edit."""
    parent = site.add(prompt="a red car on a coast road")
    spec = {**EDIT, "edit": {"kind": "modify", "where": "the sky"}}
    gid = site.add(prompt="make it snow", parent_id=parent, spec=spec)

    page = await site.text(f"/clips/{gid}")
    assert "/create prompt:" not in page
    assert "use ✏️ Modify, ↔ Expand, /add or /swap" in page
    assert (await site.json(f"/api/clips/{gid}"))["create_command"] is None


async def test_a_clip_made_from_a_picture_names_the_command_that_takes_one(site: Site) -> None:
    gid = site.add(prompt="the cat waves", spec={"mode": "i2v", "input_media": ["ab/cat.png"]})
    page = await site.text(f"/clips/{gid}")
    assert "/animate prompt: the cat waves" in page and "(with your own picture)" in page
    assert (await site.json(f"/api/clips/{gid}"))["create_command"].startswith("/animate prompt:")
