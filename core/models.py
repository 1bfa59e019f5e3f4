"""The model registry: which repositories each family renders with, and what they cost. Pure data.

`reelbot models` lists it, `reelbot models pull` downloads exactly `Repo.allow_patterns` (less
`Repo.ignore_patterns`) of each repository into `REELBOT_MODELS_DIR/<Repo.folder>`, and the worker
finds a repository there before it asks the hub. Every repository has a worker setting
(`Repo.setting`, a `WorkerConfig` field; the environment variable is `REELBOT_` + its upper case)
whose default is the hub id.

Where the figures come from: download sizes are estimates, parameter count x bytes of the dtype the
repository stores (from the model cards and the configs' sizes; the hub's own file list was not
reachable from here), rounded up; `source` says which. VRAM in bf16 is `core.capabilities` (weights
+ activations at the family's native clip); FP8 counts the transformer's weights at one byte each
(torchao float8 weight-only), everything else unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from core.capabilities import FAMILIES

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


@dataclass(frozen=True)
class Repo:
    """One repository a family loads, and the worker setting that names it."""

    role: str
    repo_id: str
    setting: str  # WorkerConfig field; REELBOT_<SETTING> names it
    allow_patterns: tuple[str, ...]
    download_gb: float
    licence: str
    source: str  # where download_gb comes from
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
        return self.main.licence


def pipeline_files(*components: str) -> tuple[str, ...]:
    """A diffusers pipeline folder: `model_index.json` and only the named components' folders
    (a repository's root single-file checkpoints and unused components stay behind)."""
    return ("model_index.json", *(f"{name}/*" for name in components))


ESTIMATE = "estimate: parameters x stored bytes ({})"

LTX_LICENCE = "LTX-Video Open Weights License (ltxv-open-weights-license-0.X)"
LTX_UPSAMPLER_ID = "Lightricks/ltxv-spatial-upscaler-0.9.7"
MOTION_ADAPTER_ID = "guoyww/animatediff-motion-adapter-v1-5-2"
CAMERA_LORA_NAMES: tuple[str, ...] = (
    "zoom-in",
    "zoom-out",
    "pan-left",
    "pan-right",
    "tilt-up",
    "tilt-down",
    "rolling-clockwise",
    "rolling-anticlockwise",
)
# {name} is one of CAMERA_LORA_NAMES; REELBOT_ANIMATEDIFF_MOTION_LORAS may be a folder template too
CAMERA_LORA_TEMPLATE = "guoyww/animatediff-motion-lora-{name}"


def camera_lora_repo(name: str, template: str = CAMERA_LORA_TEMPLATE) -> str:
    """The repository (or folder) of one AnimateDiff camera MotionLoRA."""
    return template.format(name=name)


CLIP_SCAN_REPO = Repo(
    role=CLIP_SCAN,
    repo_id="openai/clip-vit-large-patch14",
    setting="scan_clip_model",
    allow_patterns=("*.json", "*.txt", "model.safetensors"),
    download_gb=1.71,
    licence="MIT",
    source=ESTIMATE.format("428M fp32"),
    optional=True,
)

MODELS: dict[str, FamilyModels] = {
    "tiny": FamilyModels(
        family="tiny",
        repos=(),
        vram_bf16_gb=None,
        vram_source="built in code (builtin:tiny): no download, runs on a CPU",
    ),
    "ltx": FamilyModels(
        family="ltx",
        repos=(
            Repo(
                role=MAIN,
                repo_id="Lightricks/LTX-Video-0.9.7-distilled",
                setting="model",
                allow_patterns=pipeline_files(
                    "scheduler", "text_encoder", "tokenizer", "transformer", "vae"
                ),
                download_gb=46.0,
                licence=LTX_LICENCE,
                source=ESTIMATE.format(
                    "13.1B transformer bf16 26 GB, T5-XXL encoder 4.8B fp32 19 GB, VAE 0.5 GB"
                ),
            ),
            Repo(
                role=UPSAMPLER,
                repo_id=LTX_UPSAMPLER_ID,
                setting="ltx_upsampler_model",
                allow_patterns=pipeline_files("latent_upsampler"),
                download_gb=0.51,
                licence=LTX_LICENCE,
                source=ESTIMATE.format("latent upsampler ~126M fp32"),
            ),
        ),
        vram_bf16_gb=FAMILIES["ltx"].vram_gb,
        vram_fp8_gb=27.0,  # transformer 26 -> 13 GB
    ),
    "wan": FamilyModels(
        family="wan",
        repos=(
            Repo(
                role=MAIN,
                repo_id="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
                setting="model",
                allow_patterns=pipeline_files(
                    "scheduler", "text_encoder", "tokenizer", "transformer", "vae"
                ),
                download_gb=34.0,
                licence="Apache-2.0",
                source=ESTIMATE.format(
                    "5B transformer fp32 20 GB, UMT5-XXL encoder 5.7B bf16 11.4 GB, VAE 2.8 GB"
                ),
            ),
        ),
        vram_bf16_gb=FAMILIES["wan"].vram_gb,
        vram_fp8_gb=27.0,  # transformer 10 -> 5 GB
    ),
    "animatediff": FamilyModels(
        family="animatediff",
        repos=(
            Repo(
                role=MAIN,
                repo_id="emilianJR/epiCRealism",
                setting="model",
                allow_patterns=pipeline_files(
                    "scheduler", "text_encoder", "tokenizer", "unet", "vae", "feature_extractor"
                ),
                download_gb=4.3,
                licence="CreativeML OpenRAIL-M",
                source=ESTIMATE.format("SD 1.5: UNet 860M, CLIP text 123M, VAE 84M, fp32"),
            ),
            Repo(
                role=MOTION_ADAPTER,
                repo_id=MOTION_ADAPTER_ID,
                setting="animatediff_motion_adapter",
                allow_patterns=("config.json", "diffusion_pytorch_model.safetensors"),
                download_gb=1.82,
                licence="Apache-2.0",
                source=ESTIMATE.format("motion modules 453M fp32"),
            ),
            *(
                Repo(
                    role=f"{CAMERA_LORA} {name}",
                    repo_id=camera_lora_repo(name),
                    setting="animatediff_motion_loras",
                    allow_patterns=("*.safetensors",),
                    download_gb=0.08,
                    licence="Apache-2.0",
                    source=ESTIMATE.format("rank-128 LoRA on the motion modules, fp32"),
                    optional=True,
                )
                for name in CAMERA_LORA_NAMES
            ),
        ),
        vram_bf16_gb=FAMILIES["animatediff"].vram_gb,
    ),
    "svd": FamilyModels(
        family="svd",
        repos=(
            Repo(
                role=MAIN,
                repo_id="stabilityai/stable-video-diffusion-img2vid-xt",
                setting="model",
                allow_patterns=pipeline_files(
                    "feature_extractor", "image_encoder", "scheduler", "unet", "vae"
                ),
                download_gb=9.0,
                licence="Stability AI Community License (gated: accept it on the hub first)",
                source=ESTIMATE.format("UNet 1.52B, CLIP image encoder 632M, VAE 98M, fp32"),
            ),
        ),
        vram_bf16_gb=FAMILIES["svd"].vram_gb,
    ),
    "ltx2": FamilyModels(
        family="ltx2",
        repos=(
            Repo(
                role=MAIN,
                repo_id="Lightricks/LTX-2",
                setting="model",
                allow_patterns=pipeline_files(
                    "scheduler",
                    "vae",
                    "audio_vae",
                    "text_encoder",
                    "tokenizer",
                    "connectors",
                    "transformer",
                    "vocoder",
                ),
                download_gb=65.0,
                licence="LTX-2 Community License",
                source=ESTIMATE.format(
                    "19B transformer bf16 38 GB, Gemma 3 12B bf16 24 GB, VAEs, vocoder, "
                    "connectors ~3 GB"
                ),
            ),
        ),
        vram_bf16_gb=FAMILIES["ltx2"].vram_gb,
        vram_fp8_gb=53.0,  # transformer 38 -> 19 GB
    ),
}


SCAN = "scan"
# Repositories any family may use besides its own: `reelbot models` lists them after the
# families, `reelbot models pull scan` fetches them; none is a backend.
AUXILIARY: dict[str, FamilyModels] = {
    SCAN: FamilyModels(
        family=SCAN,
        repos=(CLIP_SCAN_REPO,),
        vram_bf16_gb=None,
        vram_source="the output scan's CLIP (REELBOT_SCAN_CLASSIFIERS=clip or auto), any family",
    ),
}


def family_models(family: str) -> FamilyModels:
    """The registry entry of a built-in family (or of `scan`, the output scan's CLIP); a
    ValueError that lists them otherwise."""
    try:
        return MODELS[family] if family in MODELS else AUXILIARY[family]
    except KeyError:
        raise ValueError(
            f"no model family {family!r}; known: {', '.join(sorted([*MODELS, *AUXILIARY]))}"
        ) from None


def family_of_repo(repo_id: str) -> str | None:
    """The family whose main repository is `repo_id` (the registry's default), if any."""
    for family, entry in MODELS.items():
        if entry.repos and entry.main.repo_id == repo_id:
            return family
    return None


@dataclass(frozen=True)
class CpuPlan:
    """A first clip a machine without a GPU makes in minutes: its size, length and steps, and
    what it cost where it was measured (`bench/cpu_models.py`: the real-size architecture with
    random weights, fp32 as the worker runs on a CPU)."""

    width: int
    height: int
    seconds: float
    steps: int
    step_s: float  # one denoising step, classifier-free guidance included
    once_s: float  # text encoder pass and VAE decode
    ram_gb: float  # peak resident memory of the render
    cores: int  # where it was measured
    measured: str

    def estimate_s(self, cores: int) -> float:
        """The whole clip on `cores` cores, scaled from where it was measured (roughly)."""
        return (self.steps * self.step_s + self.once_s) * self.cores / max(1, min(cores, 16))


CPU_PLANS: dict[str, CpuPlan] = {
    # 2 s (16 frames) at 256x256, the fast tier's 10 DDIM steps: 64.0 s a step (UNet and motion
    # modules, prompt and negative together), 63.2 s the VAE decode, 0.2 s the text encoder;
    # 6.1 GB of fp32 weights, 6.9 GB peak. LTX-Video 2B and Wan 2.1 1.3B need their T5-XXL /
    # UMT5-XXL text encoders (19.6 / 26.9 GB in fp32) loaded too: over 16 GB before any frame.
    "animatediff": CpuPlan(
        width=256,
        height=256,
        seconds=2.0,
        steps=10,
        step_s=64.0,
        once_s=63.4,
        ram_gb=7.0,
        cores=2,
        measured="bench/cpu_models.py, 2 shared cores of an AMD EPYC, fp32",
    ),
}


def repo_for(family: str, setting: str) -> Repo:
    """The family's repository named by `setting` (the first, for the camera LoRAs' one)."""
    for repo in family_models(family).repos:
        if repo.setting == setting:
            return repo
    raise ValueError(f"family {family!r} has no repository set by {setting!r}")
