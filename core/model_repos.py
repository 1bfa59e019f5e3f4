"""What an entry of the model registry (`core.models`) is: a repository a family loads
(`Repo`), a family's repositories together (`FamilyModels`), and the file patterns a pull
takes. Pure data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

# Second copies of the same weights (half precision, PyTorch pickles, other frameworks) and
# training or original single-file checkpoints: never needed by the diffusers pipelines.
DUPLICATES: tuple[str, ...] = (
    "*.fp16.*",
    "*.bin",
    "*.ckpt",
    "*.pt",
    "*.pth",
    "*.msgpack",
    "*.h5",
    "*.onnx",
    "*.onnx_data",
    "*.gguf",
)

MAIN = "main"
UPSAMPLER = "spatial upsampler"
MOTION_ADAPTER = "motion adapter"
CAMERA_LORA = "camera LoRA"
CLIP_SCAN = "CLIP scan"
REGION_FINDER = "region finder"  # wan_vace: SAM 3 finds the thing an edit's words name
TTS = "text to speech"  # /speak's typed lines: Dia (worker.speech)
TTS_CODEC = "speech codec"  # Dia's DAC, named by its processor config


@dataclass(frozen=True)
class Repo:
    """One repository a family loads, and the worker setting that names it."""

    role: str
    repo_id: str
    setting: str  # WorkerConfig field; REELBOT_<SETTING> names it
    allow_patterns: tuple[str, ...]
    download_gb: float
    licence: str  # its name, as the hub card or licence file gives it
    source: str  # where download_gb comes from
    checked: str  # the facts above that were verified, and where
    unverified: str  # the facts above that could not be checked ("" when none)
    commercial: str = ""  # what the licence says of commercial use, plainly; "" = no limit
    ignore_patterns: tuple[str, ...] = DUPLICATES
    optional: bool = False  # the family renders without it (a feature is off)

    @property
    def folder(self) -> PurePosixPath:
        """Where `reelbot models pull` puts it, relative to REELBOT_MODELS_DIR: the hub id."""
        return PurePosixPath(self.repo_id)

    @property
    def variable(self) -> str:
        return f"REELBOT_{self.setting.upper()}"


@dataclass(frozen=True)
class FamilyModels:
    """A family's repositories (the main one first) and what they need to run."""

    family: str
    repos: tuple[Repo, ...]
    vram_bf16_gb: float | None
    vram_fp8_gb: float | None = None
    vram_source: str = "core.capabilities: weights in bf16 plus a native clip's activations"

    @property
    def main(self) -> Repo:
        return self.repos[0]

    @property
    def download_gb(self) -> float:
        return round(sum(repo.download_gb for repo in self.repos), 2)

    @property
    def licence(self) -> str:
        """Every licence the family's repositories carry (the main one's first; which
        repositories each covers when they differ), then what they say of commercial use."""
        covers: dict[str, list[str]] = {}
        notes: list[str] = []
        for repo in self.repos:
            role = f"{CAMERA_LORA}s" if repo.role.startswith(CAMERA_LORA) else repo.role
            roles = covers.setdefault(repo.licence, [])
            if role not in roles:
                roles.append(role)
            if repo.commercial and repo.commercial not in notes:
                notes.append(repo.commercial)
        names = (
            next(iter(covers))
            if len(covers) == 1
            else "; ".join(f"{name} [{', '.join(roles)}]" for name, roles in covers.items())
        )
        return ". ".join([names, *notes])


def pipeline_files(*components: str) -> tuple[str, ...]:
    """A diffusers pipeline folder: `model_index.json` and only the named components' folders
    (a repository's root single-file checkpoints and unused components stay behind)."""
    return ("model_index.json", *(f"{name}/*" for name in components))
