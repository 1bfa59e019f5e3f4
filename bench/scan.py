"""What the output scan (issue 9) adds to a clip: frames/s, wall time per clip, and its share of
the clip's render time on the same machine (target: at most 3 %).

    python bench/scan.py                     # everything: several minutes on a 2-core CPU
    python bench/scan.py --quick             # 3 runs, a 1-frame render estimate (~2 min)
    python bench/scan.py --no-render-estimate --classifiers nudenet --clips ltx

Why: the worker scans every finished clip before it is encoded (`worker.output_check`, in a
thread the render task awaits), so the scan's wall time is added to every clip, and a held clip
also pays for its contact sheet. How to read the output, table by table:

1. Scan per clip. For each classifier (set) and each backend's native clip (the real frame count
   and size; `scan_frames` only touches the 8 sampled frames, first + last + 6 between):
   `load-s` is loading the model (once per worker start, not per clip), `ms/clip` the median wall
   time of one `scan_frames` call (after one warm-up; `min-ms` the fastest run, a hint of how
   much a shared machine's load moved the median), `frames/s` the 8 frames over it. Rows:
   `nudenet` (NudeNet's 320 px ONNX detector, always on CPU); `clip-tiny` (`builtin:tiny`, the
   test model: its speed is NOT a real CLIP's); `clip-b32` / `clip-l14` (a CLIP with the exact
   shape of openai's ViT-B/32 / ViT-L/14, random weights, saved to a temporary folder and loaded
   through the worker's real `from_pretrained` path: speed does not depend on weight values);
   `nudenet+clip-b32`, both together as `auto` runs them when a CLIP model is configured.
2. Contact sheet: building the PNG for a held clip; paid on holds only, so reported apart.
3. Render estimate: no weights can be downloaded, so the cheapest real backend, AnimateDiff (SD
   1.5 UNet + MotionAdapter v1-5-2, 512x512, 16 frames, 25 steps, classifier-free guidance), is
   built full size from config with random weights, in the dtype the worker uses on that device,
   and its real pipeline class (`AnimateDiffPipeline`) renders `--render-frames` frames with 2
   steps. The second (warm) step times 25, the text encoding once, and the VAE decode give the
   estimate; step and decode are scaled linearly to 16 frames when fewer were rendered (the UNet
   and the VAE work frame by frame; only the motion modules' small attention spans frames). An
   estimate, not a measured clip. Every other backend's default model renders a bigger clip with
   a bigger model, so this is about the shortest render a default clip has: the hardest
   denominator. `--device cuda` puts CLIP and the render on a GPU (bf16, as the worker does);
   `--tiny-render` times the tiny AnimateDiff instead (a smoke test: its time says nothing).
4. Ratio: scan `ms/clip` over the render estimate, in percent, against the 3 % target.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may download weights
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.spec import DEFAULT_GUIDANCE  # noqa: E402
from worker.backends import animatediff, ltx, svd, wan  # noqa: E402
from worker.backends.common import frames_for  # noqa: E402
from worker.contact_sheet import contact_sheet  # noqa: E402
from worker.frame_classifiers import TINY_CLIP, ClipZeroShot, NudeNetClassifier  # noqa: E402
from worker.scan import DEFAULT_SAMPLES, FrameClassifier, ScanReport, scan_frames  # noqa: E402

TARGET_PERCENT = 3.0


@dataclass(frozen=True)
class Clip:
    """A backend's default clip: the frames array its render hands the scan."""

    name: str
    width: int
    height: int
    frames: int
    fps: float


# Each backend's native size and its default duration's frame count, as its render returns them.
CLIPS = {
    "animatediff": Clip(
        "animatediff",
        512,
        512,
        animatediff.native_frames(animatediff.CAPABILITIES.default_seconds),
        animatediff.CAPABILITIES.native_fps,
    ),
    "ltx": Clip(
        "ltx",
        768,
        512,
        frames_for(
            ltx.CAPABILITIES.default_seconds,
            ltx.CAPABILITIES.native_fps,
            ltx.CAPABILITIES.frame_step,
            minimum=ltx.CAPABILITIES.frame_step + 1,
        ),
        ltx.CAPABILITIES.native_fps,
    ),
    "wan": Clip(
        "wan",
        1280,
        704,
        frames_for(
            wan.CAPABILITIES.default_seconds,
            wan.CAPABILITIES.native_fps,
            wan.CAPABILITIES.frame_step,
        ),
        wan.CAPABILITIES.native_fps,
    ),
    "svd": Clip(
        "svd",
        1024,
        576,
        svd.native_frames(svd.CAPABILITIES.default_seconds),
        svd.CAPABILITIES.native_fps,
    ),
}

# openai's CLIP shapes (vision / text towers), for random models whose speed is a real one's.
CLIP_SHAPES: dict[str, dict[str, Any]] = {
    "b32": {
        "vision": dict(
            hidden_size=768,
            intermediate_size=3072,
            num_attention_heads=12,
            num_hidden_layers=12,
            image_size=224,
            patch_size=32,
        ),
        "text": dict(
            hidden_size=512, intermediate_size=2048, num_attention_heads=8, num_hidden_layers=12
        ),
        "projection_dim": 512,
    },
    "l14": {
        "vision": dict(
            hidden_size=1024,
            intermediate_size=4096,
            num_attention_heads=16,
            num_hidden_layers=24,
            image_size=224,
            patch_size=14,
        ),
        "text": dict(
            hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12
        ),
        "projection_dim": 768,
    },
}
CLASSIFIER_NAMES = ("nudenet", "clip-tiny", *(f"clip-{shape}" for shape in CLIP_SHAPES))

# SD 1.5 as AnimateDiff runs it. UNetMotionModel's other defaults are SD 1.5's UNet (320/640/
# 1280/1280, 2 layers a block, 8 heads) plus MotionAdapter v1-5-2's motion modules (mid block on).
SD15_UNET_MOTION = dict(cross_attention_dim=768, num_attention_heads=8, sample_size=64)
SD15_VAE = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512),
    layers_per_block=2,
    latent_channels=4,
    norm_num_groups=32,
    sample_size=512,
    scaling_factor=0.18215,
)
SD15_TEXT = dict(  # CLIP ViT-L/14's text tower
    hidden_size=768,
    intermediate_size=3072,
    num_attention_heads=12,
    num_hidden_layers=12,
    max_position_embeddings=77,
    hidden_act="quick_gelu",
)
PROMPT = "a red fox running through fresh snow at dawn, cinematic"


def scene(clip: Clip, seed: int = 0) -> np.ndarray:
    """A smooth synthetic clip (sky gradient, a soft sun, a moving disc, film grain), uint8 RGB.

    The classifiers' cost does not depend on what the frames show; the contact sheet's PNG
    compression does a little, so the frames look more like video than noise does."""
    h, w = clip.height, clip.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sky = np.stack([60 + 120 * yy / h, 110 + 90 * yy / h + 20 * xx / w, 220 - 30 * yy / h], axis=-1)
    grain = np.random.default_rng(seed).normal(0, 4, (h, w, 1)).astype(np.float32)
    sun = np.exp(-(((xx - 0.3 * w) ** 2 + (yy - 0.3 * h) ** 2) / (2 * (0.1 * h) ** 2)))
    base = sky + sun[..., None] * np.array([160, 100, 15], np.float32) + grain
    out = np.empty((clip.frames, h, w, 3), np.uint8)
    for t in range(clip.frames):
        share = t / max(clip.frames - 1, 1)
        disc = (xx - w * (0.2 + 0.6 * share)) ** 2 + (yy - h * 0.6) ** 2 < (0.12 * h) ** 2
        frame = base.copy()
        frame[disc] = (40, 45, 60)
        out[t] = np.clip(frame, 0, 255).astype(np.uint8)
    return out


def median_seconds(call: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """Median and fastest wall time of `runs` calls after one untimed warm-up; the last result."""
    result = call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times), result


def random_clip_folder(shape: str, folder: Path) -> Path:
    """Save a randomly initialised CLIP of openai's `shape` (and a processor) to `folder`."""
    from transformers import (
        CLIPConfig,
        CLIPImageProcessorPil,
        CLIPModel,
        CLIPProcessor,
        CLIPTextConfig,
        CLIPVisionConfig,
    )

    from worker.backends.common import clip_tokenizer, clip_vocab, seeded_build

    vocab = clip_vocab()
    dims = CLIP_SHAPES[shape]
    text = CLIPTextConfig(
        **dims["text"],
        vocab_size=len(vocab),  # only the embedding table is smaller than openai's 49408 rows
        max_position_embeddings=77,
        bos_token_id=vocab["<|startoftext|>"],
        eos_token_id=vocab["<|endoftext|>"],
        pad_token_id=vocab["<|endoftext|>"],
    )
    vision = CLIPVisionConfig(**dims["vision"])
    with seeded_build(0):
        model = CLIPModel(
            CLIPConfig(
                text_config=text.to_dict(),
                vision_config=vision.to_dict(),
                projection_dim=dims["projection_dim"],
            )
        )
    model.save_pretrained(folder)
    # openai's processor settings are CLIPImageProcessor's defaults (224 px, their mean/std).
    CLIPProcessor(
        image_processor=CLIPImageProcessorPil(), tokenizer=clip_tokenizer()
    ).save_pretrained(folder)
    return folder


def load_classifier(name: str, device: str, folder: Path) -> FrameClassifier:
    if name == "nudenet":
        return NudeNetClassifier()
    if name == "clip-tiny":
        return ClipZeroShot(TINY_CLIP, device=device)
    shape = name.removeprefix("clip-")
    return ClipZeroShot(str(random_clip_folder(shape, folder / shape)), device=device)


def params_m(module: Any) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def check_unet_size() -> tuple[float, float, float]:
    """(UNetMotionModel, SD 1.5 UNet, MotionAdapter) millions of parameters, built on `meta`:
    the model timed must be exactly what the pipeline makes of those two."""
    import torch
    from diffusers import MotionAdapter, UNet2DConditionModel, UNetMotionModel

    with torch.device("meta"):
        unet = UNet2DConditionModel(cross_attention_dim=768, attention_head_dim=8, sample_size=64)
        adapter = MotionAdapter()
        motion = UNetMotionModel(**SD15_UNET_MOTION)
    return params_m(motion), params_m(unet), params_m(adapter)


def build_animatediff(device: str, dtype: Any) -> Any:
    """A full-size AnimateDiff pipeline (SD 1.5 + MotionAdapter v1-5-2) with random weights."""
    import torch
    from diffusers import AnimateDiffPipeline, AutoencoderKL, DDIMScheduler, UNetMotionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from worker.backends.common import clip_tokenizer, clip_vocab, seeded_build

    vocab = clip_vocab()
    with seeded_build(0), torch.device(device):
        unet = UNetMotionModel(**SD15_UNET_MOTION).eval()
        vae = AutoencoderKL(**SD15_VAE).eval()
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                **SD15_TEXT,
                vocab_size=len(vocab),
                bos_token_id=vocab["<|startoftext|>"],
                eos_token_id=vocab["<|endoftext|>"],
                pad_token_id=vocab["<|endoftext|>"],
            )
        ).eval()
    scheduler = DDIMScheduler(  # as the backend sets it up
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="linear",
        clip_sample=False,
        timestep_spacing="linspace",
        steps_offset=1,
    )
    pipe = AnimateDiffPipeline(
        unet=unet,  # already a UNetMotionModel: what the pipeline would build from UNet + adapter
        motion_adapter=None,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=clip_tokenizer(),
        scheduler=scheduler,
        feature_extractor=None,
        image_encoder=None,
    )
    if dtype != torch.float32:  # bf16 on CUDA, as `resolve_device` picks
        pipe.to(dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    # `animatediff.load` calls `pipe.enable_vae_slicing()`, which diffusers 0.42 no longer has on
    # this pipeline; the VAE's own switch is the same thing: decode one frame at a time.
    pipe.vae.enable_slicing()
    return pipe


@dataclass
class RenderEstimate:
    frames_timed: int
    pre: float  # call start to the first UNet forward: text encoding, latents
    step_cold: float
    step_warm: float
    post: float  # last step's end to the frames: VAE decode, post-processing
    build_s: float
    clip_frames: int
    steps: int

    @property
    def scale(self) -> float:
        return self.clip_frames / self.frames_timed

    @property
    def seconds(self) -> float:
        return self.pre + self.steps * self.step_warm * self.scale + self.post * self.scale


def estimate_render(device: str, frames: int, tiny: bool) -> RenderEstimate:
    """Time `AnimateDiffPipeline` at 512x512 for `frames` frames and 2 steps, split by phase."""
    import torch

    from worker.backends.common import resolve_device

    device, dtype = resolve_device(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    started = time.perf_counter()
    pipe = animatediff._build_tiny().to(device) if tiny else build_animatediff(device, dtype)
    if tiny:
        pipe.disable_lora()
    pipe.set_progress_bar_config(disable=True)
    sync()
    build_s = time.perf_counter() - started
    caps = animatediff.CAPABILITIES
    marks: dict[str, float] = {}
    ends: list[float] = []

    def first_forward(module: Any, args: Any) -> None:
        if "unet" not in marks:
            sync()
            marks["unet"] = time.perf_counter()

    def step_end(pipe: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        sync()
        ends.append(time.perf_counter())
        return {}

    handle = pipe.unet.register_forward_pre_hook(first_forward)
    sync()
    t0 = time.perf_counter()
    pipe(
        prompt=PROMPT,
        negative_prompt="blurry, low quality",
        width=512,
        height=512,
        num_frames=frames,
        num_inference_steps=2,
        guidance_scale=caps.backend_guidance(DEFAULT_GUIDANCE),
        generator=torch.Generator(device).manual_seed(0),
        output_type="np",
        callback_on_step_end=step_end,
    )
    sync()
    t_end = time.perf_counter()
    handle.remove()
    return RenderEstimate(
        frames_timed=frames,
        pre=marks["unet"] - t0,
        step_cold=ends[0] - marks["unet"],
        step_warm=ends[1] - ends[0],
        post=t_end - ends[1],
        build_s=build_s,
        clip_frames=CLIPS["animatediff"].frames,
        steps=caps.default_steps,
    )


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs, a 1-frame render estimate")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per row (default 7)")
    parser.add_argument(
        "--classifiers",
        default="nudenet,clip-tiny,clip-b32",
        help=f"comma-separated, from {', '.join(CLASSIFIER_NAMES)}",
    )
    parser.add_argument("--clips", default=",".join(CLIPS), help="backends' clips to scan")
    parser.add_argument("--device", default="cpu", help="for CLIP and the render (NudeNet: CPU)")
    parser.add_argument(
        "--render-estimate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="estimate an AnimateDiff clip's render time here (the ratio's denominator)",
    )
    parser.add_argument(
        "--render-frames",
        type=int,
        default=None,
        help="frames actually rendered for the estimate, scaled to 16 (default 4; quick 1)",
    )
    parser.add_argument(
        "--tiny-render",
        action="store_true",
        help="time the tiny AnimateDiff instead (smoke test: its time says nothing)",
    )
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 7)
    render_frames = args.render_frames or (1 if args.quick else 4)
    names = [n.strip() for n in args.classifiers.split(",") if n.strip()]
    for name in names:
        if name not in CLASSIFIER_NAMES:
            parser.error(f"unknown classifier {name!r}; use {', '.join(CLASSIFIER_NAMES)}")
    clips = [CLIPS[c.strip()] for c in args.clips.split(",") if c.strip()]

    import onnxruntime
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    print(
        f"# bench/scan.py  {cpu_model()}, {os.cpu_count()} cores  torch {torch.__version__} "
        f"({torch.get_num_threads()} threads)  onnxruntime {onnxruntime.__version__}  "
        f"device {args.device}"
    )
    print(
        f"# scan per clip: {DEFAULT_SAMPLES + 2} sampled frames (first, last, {DEFAULT_SAMPLES} "
        f"between) of the clip's real frame count; median (and min) of {runs} runs after 1 "
        f"warm-up; load average at start: {load_average()}"
    )

    loaded: dict[str, FrameClassifier] = {}
    load_s: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            started = time.perf_counter()
            try:
                loaded[name] = load_classifier(name, args.device, Path(tmp))
            except ImportError as exc:
                print(f"# {name}: skipped ({exc})")
                continue
            load_s[name] = time.perf_counter() - started
    sets: list[tuple[str, list[FrameClassifier]]] = [(n, [c]) for n, c in loaded.items()]
    if "nudenet" in loaded and "clip-b32" in loaded:
        sets.append(("nudenet+clip-b32", [loaded["nudenet"], loaded["clip-b32"]]))

    rows = [
        ["classifier", "clip (WxHxframes)", "load-s", "ms/clip", "min-ms", "ms/frame", "frames/s"]
    ]
    scan_ms: dict[tuple[str, str], float] = {}
    sheets = [["clip (WxHxframes)", "ms/sheet", "KiB", "grid frames"]]
    sheet_ms: dict[str, float] = {}
    reports: dict[str, ScanReport] = {}
    for clip in clips:
        frames = scene(clip)
        for label, classifiers in sets:
            seconds, fastest, report = median_seconds(
                lambda cs=classifiers, fr=frames, c=clip: scan_frames(cs, fr, c.fps), runs
            )
            reports.setdefault(clip.name, report)
            count = len(report.frames)
            scan_ms[(label, clip.name)] = seconds * 1000
            load = sum(load_s[n] for n in label.split("+"))
            rows.append(
                [
                    label,
                    f"{clip.name} {clip.width}x{clip.height}x{clip.frames}",
                    f"{load:.1f}",
                    f"{seconds * 1000:.0f}",
                    f"{fastest * 1000:.0f}",
                    f"{seconds * 1000 / count:.1f}",
                    f"{count / seconds:.1f}",
                ]
            )
        if clip.name in reports:
            scores = reports[clip.name].frames
            seconds, _, png = median_seconds(lambda fr=frames, s=scores: contact_sheet(fr, s), runs)
            sheet_ms[clip.name] = seconds * 1000
            sheets.append(
                [
                    f"{clip.name} {clip.width}x{clip.height}x{clip.frames}",
                    f"{seconds * 1000:.0f}",
                    f"{len(png) / 1024:.0f}",
                    str(len(scores)),
                ]
            )
        del frames
    if len(rows) > 1:
        print("\n".join(table(rows)))
    if "clip-tiny" in loaded:
        print(
            "# clip-tiny is `builtin:tiny` (2 layers, 32 px, for tests): its speed is NOT a real "
            "CLIP's; clip-b32/-l14 are openai's shapes with random weights"
        )
    print(
        "# load-s: once per worker start, not per clip (random CLIPs load from a temp folder); "
        "ms/frame and frames/s from the median"
    )
    if len(sheets) > 1:
        print("\n# contact sheet for a held clip (paid on holds only, not on every clip)")
        print("\n".join(table(sheets)))

    if not args.render_estimate:
        print("\n# render estimate off (--no-render-estimate): no ratio")
        return
    caps = animatediff.CAPABILITIES
    print(
        f"\n# render estimate: AnimateDiff, the cheapest default real backend, 512x512x"
        f"{CLIPS['animatediff'].frames}, {caps.default_steps} steps, guidance "
        f"{caps.backend_guidance(DEFAULT_GUIDANCE)} (CFG: 2 UNet passes a step)"
    )
    if args.tiny_render:
        print("# --tiny-render: the tiny AnimateDiff (smoke test); its time says nothing")
    else:
        motion, unet, adapter = check_unet_size()
        print(
            f"# full size from config, random weights, {args.device}: UNetMotionModel "
            f"{motion:.0f} M params (= SD 1.5 UNet {unet:.0f} M + MotionAdapter v1-5-2 "
            f"{adapter:.0f} M), SD VAE, CLIP-L text tower; weights' values don't change speed"
        )
    estimate = estimate_render(args.device, render_frames, args.tiny_render)
    k = estimate.scale
    print(
        f"# timed: AnimateDiffPipeline, {estimate.frames_timed} frame(s), 2 steps (built in "
        f"{estimate.build_s:.0f} s); to the clip: step and decode x{k:g} (linear in frames), "
        f"warm step x{estimate.steps}"
    )
    phases = [
        ["phase", "measured-s", "per-clip-s"],
        ["text encode + latents", f"{estimate.pre:.2f}", f"{estimate.pre:.2f}"],
        ["step 1 (cold, unused)", f"{estimate.step_cold:.2f}", "-"],
        [
            "step 2 (warm)",
            f"{estimate.step_warm:.2f}",
            f"{estimate.step_warm * k:.1f} x{estimate.steps} = "
            f"{estimate.step_warm * k * estimate.steps:.0f}",
        ],
        ["VAE decode + output", f"{estimate.post:.2f}", f"{estimate.post * k:.2f}"],
        ["ESTIMATED render per clip", "", f"{estimate.seconds:.0f} ({hours(estimate.seconds)})"],
    ]
    print("\n".join(table(phases)))
    print(
        f"# peak RSS of this process: {peak_rss_gib():.1f} GiB; load average now: {load_average()}"
    )

    render_ms = estimate.seconds * 1000
    print(
        f"\n# ratio: scan ms/clip / estimated AnimateDiff render ({estimate.seconds:.0f} s); "
        f"target <= {TARGET_PERCENT:g} %"
    )
    ratio_rows = [["classifier", "scan of", "ms/clip", "% of render", "verdict"]]
    judged: list[tuple[float, str]] = []
    ordered = [c.name for c in clips]
    for label, _ in sets:
        for clip_name in ordered:
            ms = scan_ms[(label, clip_name)]
            percent = 100 * ms / render_ms
            if args.tiny_render:
                verdict = "n/a (tiny render)"
            elif label == "clip-tiny":
                verdict = "n/a (tiny CLIP)"
            else:
                verdict = "meets target" if percent <= TARGET_PERCENT else "MISSES target"
                judged.append((percent, f"{label} on the {clip_name} clip"))
            ratio_rows.append([label, clip_name, f"{ms:.0f}", f"{percent:.2g} %", verdict])
    print("\n".join(table(ratio_rows)))
    print(
        "# the animatediff rows are like for like; the larger clips' scans are set against the "
        "same AnimateDiff render (their own models take far longer), so they are upper bounds"
    )
    if "animatediff" in sheet_ms:
        held = sheet_ms["animatediff"]
        print(
            f"# a held animatediff clip adds its contact sheet: {held:.0f} ms "
            f"({100 * held / render_ms:.2g} % of the render)"
        )
    if judged:
        percent, what = max(judged)
        verdict = "meets target" if percent <= TARGET_PERCENT else "MISSES target"
        print(
            f"# verdict: the costliest real scan, {what}, is {percent:.2g} % of the render: "
            f"{verdict} (<= {TARGET_PERCENT:g} %)"
        )
    if not args.device.startswith("cuda") and not args.tiny_render:
        print(
            "# on a CPU the render takes hours, so any scan passes; the binding case is a GPU "
            "render (NudeNet stays on the CPU): run with --device cuda where a GPU is lent"
        )


if __name__ == "__main__":
    main()
