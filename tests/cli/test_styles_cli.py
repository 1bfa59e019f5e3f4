"""`reelbot styles check FILE` before a worker starts: one line per problem naming the file, the
entry and the family, exit 2; LoRA shapes checked against the tiny model, or a real family's
denoiser built on the meta device from its model folder. `reelbot styles` lists what is offered."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.tiny_models import write_tiny
from tests.harness.cli import reelbot
from tests.harness.loras import save_tiny_lora


@pytest.fixture(scope="module")
def loras(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("loras")
    return {
        "tiny": save_tiny_lora(root / "tiny"),
        "wan": save_tiny_lora(root / "wan", family="wan"),
    }


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "styles.toml"
    path.write_text(text)
    return path


def test_a_good_file_is_fine(tmp_path: Path, loras: dict[str, Path]) -> None:
    styles = write(
        tmp_path,
        f'[styles.anime]\nprompt = "anime"\n[styles.anime.lora.tiny]\nlora = "{loras["tiny"]}"\n'
        f'[effects.squish]\nprompt = "{{subject}} squished"\n'
        f'[effects.squish.lora.tiny]\nlora = "{loras["tiny"].parent}"\n'
        f'weight_name = "{loras["tiny"].name}"\n',
    )
    done = reelbot("styles", "check", str(styles))
    assert done.returncode == 0, done.stderr
    assert f"{styles}: 1 styles, 1 effects, 2 LoRAs: fine" in done.stdout


def test_each_problem_is_a_line_naming_the_entry_and_the_exit_is_2(
    tmp_path: Path, loras: dict[str, Path]
) -> None:
    odd = tmp_path / "lora.weights"
    odd.write_bytes(b"x")
    styles = write(
        tmp_path,
        f'[styles.gone.lora.tiny]\nlora = "{tmp_path}/nowhere.safetensors"\n'
        f'[styles.other.lora.tiny]\nlora = "{loras["wan"]}"\n'  # a Wan LoRA on the LTX tiny
        f'[styles.odd.lora.tiny]\nlora = "{odd}"\n'
        '[styles.bad-id.lora.tiny]\nlora = "not a hub id"\n',
    )
    done = reelbot("styles", "check", str(styles))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 4, done.stderr
    assert (
        f"reelbot: {styles}: [styles.gone] lora.tiny: {tmp_path}/nowhere.safetensors: no such"
        in (done.stderr)
    )
    assert "[styles.other] lora.tiny: does not load into the tiny model" in done.stderr
    assert "[styles.odd] lora.tiny: " in done.stderr and "is not a .safetensors file" in done.stderr
    assert "[styles.bad-id] lora.tiny: 'not a hub id' is neither a file" in done.stderr


def test_a_bad_field_is_refused_before_any_file_is_looked_at(tmp_path: Path) -> None:
    styles = write(tmp_path, '[styles.anime.lora.wan]\nlora = "x/y"\nweight_name = "a.ckpt"\n')
    done = reelbot("styles", "check", str(styles))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"reelbot: {styles}: [styles.anime] lora.wan.weight_name: 'a.ckpt' must be a "
        ".safetensors file (pickle files can run code)"
    )


def test_a_real_family_is_checked_on_the_meta_device_from_its_model_folder(
    tmp_path: Path, loras: dict[str, Path]
) -> None:
    models = tmp_path / "models"
    [(_, wan_folder), *_] = write_tiny("wan", models)  # a model folder in the pulled layout
    styles = write(
        tmp_path,
        f'[styles.ink.lora.wan]\nlora = "{loras["wan"]}"\n'
        f'[styles.pencil.lora.wan]\nlora = "{loras["tiny"]}"\n'
        '[styles.hub.lora.wan]\nlora = "someone/wan-lora"\nweight_name = "w.safetensors"\n',
    )
    env = {"REELBOT_BACKEND": "wan", "REELBOT_MODEL": str(wan_folder), "HF_HUB_OFFLINE": "1"}
    done = reelbot("styles", "check", str(styles), env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"reelbot: {styles}: [styles.pencil] lora.wan: does not load into the wan model: "
        + done.stderr.split("does not load into the wan model: ")[1].strip()
    ]
    assert "[styles.hub] lora.wan: someone/wan-lora::w.safetensors is not on this machine" in (
        done.stdout
    )


def test_the_list_shows_what_the_server_family_offers(
    tmp_path: Path, loras: dict[str, Path]
) -> None:
    styles = write(
        tmp_path,
        '[styles.anime]\ndescription = "Line art and cel shading"\n'
        f'[styles.anime.lora.tiny]\nlora = "{loras["tiny"]}"\n'
        f'[styles.ink.lora.wan]\nlora = "{loras["wan"]}"\n'
        '[effects.melt]\nprompt = "{subject} melting"\n',
    )
    done = reelbot("styles", env={"REELBOT_STYLES_FILE": str(styles), "REELBOT_BACKEND": "tiny"})
    assert done.returncode == 0, done.stderr
    assert "-style anime" in done.stdout and "Line art and cel shading" in done.stdout
    assert "-style noir" in done.stdout  # the built-in presets stay
    assert "effect melt" in done.stdout
    assert "(style ink: only on wan)" in done.stdout


def test_preview_of_a_style_the_family_lacks_says_which_it_has(tmp_path: Path) -> None:
    """`reelbot styles preview` refuses a name before it connects to anything."""
    styles = write(
        tmp_path, '[styles.ink]\nprompt = "ink wash"\n[effects.melt]\nprompt = "{subject} melts"\n'
    )
    env = {"REELBOT_STYLES_FILE": str(styles), "REELBOT_BACKEND": "tiny"}
    done = reelbot("styles", "preview", "ink", "melt", "nosuch", env=env)
    assert done.returncode != 0
    assert "No style named 'melt', 'nosuch' on the tiny model; it offers:" in done.stderr
    assert "ink" in done.stderr and "anime" in done.stderr  # a built-in preset too
