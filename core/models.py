"""The model registry: which repositories each family renders with, and what they cost. Pure data.

`reelbot models` lists it, `reelbot models pull` downloads exactly `Repo.allow_patterns` (less
`Repo.ignore_patterns`) of each repository into `REELBOT_MODELS_DIR/<Repo.folder>`, and the worker
finds a repository there before it asks the hub. Every repository has a worker setting
(`Repo.setting`, a `WorkerConfig` field; the environment variable is `REELBOT_` + its upper case)
whose default is the hub id.

Where the facts come from: each `Repo` says what was checked and against what (`checked`: the
hub pages and file lists, diffusers' pipeline docs, the model's own repository, all read from
stored public copies, since the hub is not reachable from here) and what was not (`unverified`).
`download_gb` is the hub's file sizes where `source` says so, else parameters x stored bytes.
VRAM in bf16 is `core.capabilities` (weights + activations at the family's native clip, an
estimate never measured on a GPU); FP8 counts the transformer's weights at one byte each
(torchao float8 weight-only), everything else unchanged.

AnimateDiff's base is any Stable Diffusion 1.5 pipeline folder; the default is epiCRealism. The
original SD 1.5 repository, runwayml/stable-diffusion-v1-5, was removed from the hub (Sept 2024;
many projects' issue threads): its community mirror is stable-diffusion-v1-5/stable-diffusion-v1-5.
The fast tier's distillation LoRAs are named in `core.capabilities`, not pulled here: LTX's
`Lightricks/LTX-Video::ltxv-13b-0.9.7-distilled-lora128.safetensors` (the LTX-Video README's
0.9.7 release notes; ~1.3 GB) serves only a non-distilled 13B checkpoint, and the default is
already distilled. lightx2v's 4-step LoRAs (lightx2v/Wan2.1-Distill-Loras, Wan2.2-Distill-Loras,
hub file lists) are all for the 14B / A14B Wan models; none for TI2V-5B was found. LTX-2's own
stage-2 `Lightricks/LTX-2::ltx-2-19b-distilled-lora-384.safetensors` (diffusers' LTX-2 docs) is
not wired.
"""

from __future__ import annotations

from core.capabilities import FAMILIES

# A CPU-only first clip's cost lives in core.cpu_plans; cli.up_model imports it from here.
from core.cpu_plans import CPU_PLANS as CPU_PLANS
from core.cpu_plans import CpuPlan as CpuPlan

# What a registry entry is lives in core.model_repos; imported from here by its users.
from core.model_repos import CAMERA_LORA as CAMERA_LORA
from core.model_repos import CLIP_SCAN as CLIP_SCAN
from core.model_repos import DUPLICATES as DUPLICATES
from core.model_repos import MAIN as MAIN
from core.model_repos import MOTION_ADAPTER as MOTION_ADAPTER
from core.model_repos import REGION_FINDER as REGION_FINDER
from core.model_repos import TTS as TTS
from core.model_repos import TTS_CODEC as TTS_CODEC
from core.model_repos import UPSAMPLER as UPSAMPLER
from core.model_repos import FamilyModels as FamilyModels
from core.model_repos import Repo as Repo
from core.model_repos import pipeline_files as pipeline_files

ESTIMATE = "estimate: parameters x stored bytes ({})"
HUB_SIZES = "the hub's file sizes ({})"

LTX_LICENCE = "LTX-Video Open Weights License 0.X"
LIGHTRICKS_COMMERCIAL = (
    "Commercial use needs a paid licence from Lightricks once the organisation's annual revenue "
    "reaches US$10M"
)
LTX_UPSAMPLER_ID = "Lightricks/ltxv-spatial-upscaler-0.9.7"
MOTION_ADAPTER_ID = "guoyww/animatediff-motion-adapter-v1-5-2"
# wan_vace: the 1.3B (core.capabilities says why), and SAM 3 for an edit's words (worker.regions)
WAN_VACE_ID = "Wan-AI/Wan2.1-VACE-1.3B-diffusers"
REGIONS_ID = "facebook/sam3"
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
ANIMATEDIFF_LICENCE = "Apache-2.0"
ANIMATEDIFF_LICENCE_NOTE = (
    "licence: the hub repo carries no licence tag; Apache-2.0 is the AnimateDiff code "
    "repository's (guoyww/AnimateDiff LICENSE.txt)"
)


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
    commercial="OpenAI's model card puts any deployed use out of scope (not a licence term)",
    source=HUB_SIZES.format("model.safetensors 1.71 GB, in a copy made from openai's repo"),
    checked=(
        "id and files (config, tokenizer json/txt, model.safetensors; .bin/.h5/.msgpack skipped): "
        "hub pages of copies; MIT: openai/CLIP's LICENSE (the hub card has no licence tag); "
        "out-of-scope note: openai/CLIP model-card.md"
    ),
    unverified="the size on openai's own repo page (read from a copy)",
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
                download_gb=47.7,
                licence=LTX_LICENCE,
                commercial=LIGHTRICKS_COMMERCIAL,
                source=HUB_SIZES.format(
                    "transformer 6 shards 26.1 GB bf16, T5 text encoder 4 shards 19.05 GB fp32, "
                    "VAE 2.49 GB; listed for -dev, the distilled shards match"
                ),
                checked=(
                    "id: diffusers' LTX-Video docs; layout and sizes: the hub file list of "
                    "LTX-Video-0.9.7-dev (same folders; the distilled transformer shard 2/6 is "
                    "the same 4.97 GB); licence name: the -dev repo's "
                    "LTX-Video-Open-Weights-License-0.X.txt and the distilled checkpoint's "
                    "licence file ('LTXV Open Weights License', 2025-05-14)"
                ),
                unverified=(
                    "the distilled repo's full file list; the US$10M threshold is from several "
                    "public summaries of the licence, whose text was not read here"
                ),
            ),
            Repo(
                role=UPSAMPLER,
                repo_id=LTX_UPSAMPLER_ID,
                setting="ltx_upsampler_model",
                allow_patterns=pipeline_files("latent_upsampler"),
                download_gb=0.51,
                licence="its own LICENSE file (hub tag 'other'), presumably the same",
                commercial=LIGHTRICKS_COMMERCIAL,
                source=HUB_SIZES.format("the same upsampler as one file is 505 MB"),
                checked=(
                    "id: diffusers' LTX-Video docs (LTXLatentUpsamplePipeline, vae passed in, "
                    "so only latent_upsampler/ is needed: diffusers' pipeline signature); "
                    "hub card: LTXLatentUpsamplePipeline, license other, LICENSE; 505 MB: "
                    "Lightricks/LTX-Video's ltxv-spatial-upscaler-0.9.x.safetensors"
                ),
                unverified="its file list and its LICENSE text",
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
                    "5B transformer fp32 20 GB, VAE ~2.8 GB; UMT5-XXL encoder 11.4 GB per the hub"
                ),
                checked=(
                    "id: Wan2.2 README (Diffusers link); Apache-2.0: its 'License Agreement'; "
                    "text_encoder/ 3 shards 11.4 GB: the hub file list"
                ),
                unverified="the transformer's stored dtype and size, and the VAE's size",
            ),
        ),
        vram_bf16_gb=FAMILIES["wan"].vram_gb,
        vram_fp8_gb=27.0,  # transformer 10 -> 5 GB
    ),
    "wan_vace": FamilyModels(
        family="wan_vace",
        repos=(
            Repo(
                role=MAIN,
                repo_id=WAN_VACE_ID,
                setting="model",
                allow_patterns=pipeline_files(
                    "scheduler", "text_encoder", "tokenizer", "transformer", "vae"
                ),
                download_gb=19.0,
                licence="Apache-2.0",
                source=HUB_SIZES.format(
                    "transformer 2 shards 7.15 GB fp32 (its hub file pages); UMT5-XXL 3 shards "
                    "11.36 GB and VAE 508 MB (a-r-r-o-w/Wan-VACE-1.3B-diffusers, same layout)"
                ),
                checked=(
                    "WanVACEPipeline's folders (UniPC, UMT5, tokenizer, WanVACETransformer3DModel, "
                    "AutoencoderKLWan): the 14B mirror's model_index.json; 832x480 for the 1.3B: "
                    "Wan2.1's configs; Apache-2.0: Wan2.1's listings"
                ),
                unverified="this repository's text encoder and VAE sizes; its hub card's licence",
            ),
            Repo(
                role=REGION_FINDER,
                repo_id=REGIONS_ID,
                setting="regions_model",
                allow_patterns=("*.json", "*.txt", "*.safetensors"),
                download_gb=3.4,
                licence="SAM License (Meta's own; gated: accept it on the hub, pull with a token)",
                source=ESTIMATE.format("0.9B parameters (the hub's listing) in fp32"),
                checked="0.9B, gated: hub listings; the licence: worker/regions.py (its LICENSE)",
                unverified="the file list and sizes (the repository is gated)",
                optional=True,
            ),
        ),
        vram_bf16_gb=FAMILIES["wan_vace"].vram_gb,
        vram_fp8_gb=20.0,  # transformer 3.6 -> 1.8 GB
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
                checked=(
                    "id, licence tag creativeml-openrail-m and folders (feature_extractor, "
                    "safety_checker, scheduler, text_encoder, tokenizer, unet, vae; safetensors "
                    "added beside the .bin): its hub card and file list"
                ),
                unverified=(
                    "the stored dtype: a copy (kamillaova/epiCRealism) keeps the UNet in fp16 "
                    "(1.72 GB), so the download may be nearer 2.2 GB"
                ),
            ),
            Repo(
                role=MOTION_ADAPTER,
                repo_id=MOTION_ADAPTER_ID,
                setting="animatediff_motion_adapter",
                allow_patterns=("config.json", "diffusion_pytorch_model.safetensors"),
                download_gb=1.82,
                licence=ANIMATEDIFF_LICENCE,
                source=HUB_SIZES.format("diffusion_pytorch_model.safetensors 1.82 GB"),
                checked=(
                    "id: diffusers' AnimateDiff docs; files (config.json, the safetensors, a "
                    "same-size .fp16 copy skipped): hub file list; 453M params: AnimateDiff "
                    f"README; {ANIMATEDIFF_LICENCE_NOTE}"
                ),
                unverified="that the code repository's licence covers the hub weights",
            ),
            *(
                Repo(
                    role=f"{CAMERA_LORA} {name}",
                    repo_id=camera_lora_repo(name),
                    setting="animatediff_motion_loras",
                    allow_patterns=("*.safetensors",),
                    download_gb=0.08,
                    licence=ANIMATEDIFF_LICENCE,
                    source=HUB_SIZES.format("diffusion_pytorch_model.safetensors 77.4 MB"),
                    checked=(
                        "ids: diffusers' AnimateDiff docs (zoom-out) and public code naming all "
                        "eight; 77.4 MB: the zoom-in and zoom-out file lists; 19M params: "
                        f"AnimateDiff README; {ANIMATEDIFF_LICENCE_NOTE}"
                    ),
                    unverified=(
                        "the other six repos' file lists; that the code licence covers the weights"
                    ),
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
                licence="stable-video-diffusion-community (the hub's licence tag)",
                commercial=(
                    "Commercial use is restricted: read its LICENSE.md first; Stability AI's "
                    "Community License needs a paid licence from US$1M annual revenue"
                ),
                source=(
                    "the hub's file sizes (UNet 6.1 GB fp32, VAE 0.39 GB) and an estimate "
                    "(CLIP image encoder 632M fp32, 2.5 GB)"
                ),
                checked=(
                    "id, folders and sizes (root svd_xt*.safetensors, 9.5 GB each, and .fp16 "
                    "copies skipped): hub file lists; licence tag: hub card (it said "
                    "stable-video-diffusion-nc-community in 2023); LICENSE renamed LICENSE.md "
                    "on 2024-07-10: commit history"
                ),
                unverified=(
                    "the text of LICENSE.md (whether it is the Stability AI Community License); "
                    "whether the repo is gated (its 1.1 successor is)"
                ),
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
                licence="LTX-2 Community License Agreement",
                commercial=LIGHTRICKS_COMMERCIAL,
                source=ESTIMATE.format(
                    "19B transformer bf16 38 GB, Gemma 3 12B bf16 24 GB, VAEs, vocoder, "
                    "connectors ~3 GB"
                ),
                checked=(
                    "id: diffusers' LTX-2 docs; components: its model_index.json (Gemma 3 text "
                    "encoder; latent_upsampler/ and root LoRAs are not pulled); licence: hub tag "
                    "ltx-2-community-license-agreement and Lightricks/LTX-2's LICENSE of "
                    "2026-01-05 (US$10,000,000 annual revenue: 'Commercial Entities')"
                ),
                unverified="every size",
            ),
        ),
        vram_bf16_gb=FAMILIES["ltx2"].vram_gb,
        vram_fp8_gb=53.0,  # transformer 38 -> 19 GB
    ),
}


# /speak's typed lines (worker.speech): Dia, and the DAC codec its processor config names by
# hub id; the worker finds the codec pulled beside it by that id (offline), under REELBOT_TTS_MODEL
DIA_ID = "nari-labs/Dia-1.6B-0626"
DAC_ID = "descript/dac_44khz"
SPEECH_REPOS = (
    Repo(
        role=TTS,
        repo_id=DIA_ID,
        setting="tts_model",
        allow_patterns=("*.json", "*.safetensors"),
        download_gb=6.44,
        licence="Apache-2.0",
        source=ESTIMATE.format("1.61B parameters x 4 bytes, if stored in float32"),
        checked=(
            "id and transformers layout (DiaForConditionalGeneration, DiaProcessor): "
            "transformers' Dia docs and worker/speech.py; Apache-2.0: nari-labs/dia's LICENSE "
            "and README"
        ),
        unverified="the hub's file list and sizes, and the stored dtype (the hub is not reachable)",
        optional=True,
    ),
    Repo(
        role=TTS_CODEC,
        repo_id=DAC_ID,
        setting="tts_model",  # no setting of its own: Dia's processor config names it
        allow_patterns=("*.json", "*.safetensors"),
        download_gb=0.31,
        licence="MIT",
        source=ESTIMATE.format("~76M parameters x 4 bytes"),
        checked="the id: Dia's processor config (audio_tokenizer) in transformers' Dia docs",
        unverified=(
            "the hub's file list and sizes; MIT is descript-audio-codec's code licence, the hub "
            "card's tag was not read"
        ),
        optional=True,
    ),
)

SCAN = "scan"
SPEECH = "speech"
# Repositories any family may use besides its own: `reelbot models` lists them after the
# families, `reelbot models pull scan` (or `speech`) fetches them; none is a backend.
AUXILIARY: dict[str, FamilyModels] = {
    SCAN: FamilyModels(
        family=SCAN,
        repos=(CLIP_SCAN_REPO,),
        vram_bf16_gb=None,
        vram_source="the output scan's CLIP (REELBOT_SCAN_CLASSIFIERS=clip or auto), any family",
    ),
    SPEECH: FamilyModels(
        family=SPEECH,
        repos=SPEECH_REPOS,
        vram_bf16_gb=None,
        vram_source="/speak's typed lines (REELBOT_TTS_MODEL): Dia-1.6B, any speaking family",
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


def repo_for(family: str, setting: str) -> Repo:
    """The family's repository named by `setting` (the first, for the camera LoRAs' one)."""
    for repo in family_models(family).repos:
        if repo.setting == setting:
            return repo
    raise ValueError(f"family {family!r} has no repository set by {setting!r}")
