"""Bidi controls never reach a reader: removed for display, spelled out for logs."""

from __future__ import annotations

import json

import pytest

from core.text import BIDI_CONTROLS, escape_bidi, without_bidi


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("a fox in snow", "a fox in snow"),
        ("clip\u202e4pm.exe", "clip4pm.exe"),  # right-to-left override
        ("\u202a\u202b\u202c\u202d\u202e", ""),  # embeddings, overrides, pop
        ("\u2066a\u2067b\u2068c\u2069", "abc"),  # isolates
        ("x\u200ey\u200fz\u061c", "xyz"),  # LRM, RLM, ALM
        ("שלום עולם", "שלום עולם"),  # right-to-left text itself stays
        ("café ✨", "café ✨"),
    ],
)
def test_without_bidi_removes_every_control_and_nothing_else(typed: str, shown: str) -> None:
    assert without_bidi(typed) == shown


def test_the_controls_are_the_twelve_named() -> None:
    named = {*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C}
    assert {ord(ch) for ch in BIDI_CONTROLS} == named


def test_escape_bidi_spells_each_control_so_json_reads_it_back() -> None:
    line = escape_bidi(json.dumps({"prompt": "a\u202eb"}, ensure_ascii=False))
    assert "\u202e" not in line and "\\u202e" in line
    assert json.loads(line) == {"prompt": "a\u202eb"}
    assert escape_bidi("plain") == "plain"
