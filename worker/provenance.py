"""Provenance: what a clip says about where it came from, and `reelbot verify` reading it back.

Three layers, each surviving a different kind of copy:

1. MP4 tags in `moov/udta` (title, description, and `comment` holding a JSON payload): prompt,
   seed, backend/model, generation id, reelbot version, gallery URL. Any remux keeps them; any
   re-encode that does not copy tags loses them.
2. An invisible watermark in the luma of the frames, carrying the first 64 bits of the generation
   id and a 16-bit check. It survives re-encodes at lower bit rates (our own upload-fitted copy
   included) as long as the picture is not resized or cropped.
3. Optionally a C2PA manifest signed with the operator's key (`c2pa-python`).

The watermark is quantisation index modulation (QIM) of two coefficients of each 16x16 block of
the BT.709 limited-range luma plane (the plane the encoder writes, so nothing is lost in a colour
conversion). Both carry the block's payload bit: the *hump*, the block's projection on a
half-sine x half-sine bump, and the *wave*, its projection on a full sine x full sine (2x2 bumps
of alternate sign, no change of brightness). Both shapes are zero at the block's edges, so a
change never draws a block edge: the old 16x16 tiles on smooth content came from moving the
block's mean. One bit moves a coefficient onto one of two interleaved lattices (a per-block
dither shifts them, so a block whose mark a re-encode wiped out reads as noise, not as a 0).

A perceptual mask decides how hard each carrier pushes: the block's texture (RMS of what is left
once its mean, a plane and both carriers are taken out, which the embedding does not change, so
the reader finds the same value) scales the wave's step from FLOOR to all of WAVE_STEP, and
turns the hump off in textured blocks. Flat blocks (sky, gradients) carry the hump: it survives
x264's low bit rates on smooth content, which nothing else small enough to stay invisible does.
Textured blocks carry the wave, hidden by the texture and robust in it. Bits are laid out over
the blocks at random (fixed seed), repeated ~7 times a frame at 512x288; the reader weighs each
block by how close it sits to either lattice and each frame and carrier by how well its blocks
sit on the lattices at all, and takes a soft majority per bit.

Measured with bench/provenance.py: PSNR about 44.5 dB on a smooth gradient and 42 dB on noise;
no bit errors after a re-encode at 1/2, 1/4 and 1/10 of the bit rate on the tiny model's frames,
nor at 1/2 on the gradient scene. Smooth content does not keep the mark at 1/4 of its (already
tiny) bit rate: that would need steps that show on a sky, and we chose invisible there.

`invisible-watermark` (dwtDct / dwtDctSvd) was used first and dropped. Its package imports torch
at import time (which `reelbot verify`, on the bot's install, must not need) and requires the GUI
OpenCV, so it had to be installed with `pip --no-deps` and a clean `pip install .[worker]` went
without it. At its default strength its bits did not survive our own encodes (bit error rate
0.44 after crf 20 for dwtDct, 0.54 at half the bit rate for dwtDctSvd); at the strength that
does survive (dwtDctSvd, step 96) it moves block means by up to 3 levels: PSNR 39.7 dB and
visible 16x16 tiles on a gradient. Its per-block Python loops took ~0.4 s per 17-frame 512x288
clip; this whole-array numpy version takes a few ms per frame.

Embedding needs numpy only; reading needs numpy and PyAV; signing and reading C2PA need
`c2pa-python`. Each is imported where it is used, with a message naming the missing package.
"""

from __future__ import annotations

import binascii
import functools
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

TAG_SCHEMA = "reelbot/provenance@1"
ID_BITS = 64
CHECK_BITS = 16
PAYLOAD_BITS = ID_BITS + CHECK_BITS
# Whitening, so that flat or repeating pictures do not read as a plausible id.
_MASK = 0x9E3779B97F4A7C15
_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32) * (219 / 255)  # BT.709, 16-235
# Watermark geometry and strength; see the module docstring and bench/provenance.py.
BLOCK = 16  # one payload bit per BLOCK x BLOCK pixels of luma
HUMP_STEP = 72.0  # lattice step of the hump coefficient (luma levels x unit-norm shape)
WAVE_STEP = 96.0  # lattice step of the wave coefficient in a textured block
FLOOR = 0.15  # the least share of WAVE_STEP, for flat blocks (sky, gradients)
HUMP_OFF = 1.0
TEXTURE = 8.0  # residual RMS (luma levels) from which a block counts as textured
_LAYOUT_SEED = 0x7265656C  # which bit each block carries, and its dither
_CHUNK_PIXELS = 1 << 23  # pixels processed at once: bounds memory on long, large clips
_X = np.arange(BLOCK) + 0.5
_HUMP = np.sqrt(2 / BLOCK) * np.sin(np.pi * _X / BLOCK)  # one half-sine: zero at both edges
_WAVE = np.sqrt(2 / BLOCK) * np.sin(2 * np.pi * _X / BLOCK)  # one sine: zero mean, zero at edges
_RAMP = (_X - BLOCK / 2) / np.linalg.norm(_X - BLOCK / 2)
_BASIS = np.stack([_HUMP, _WAVE, _RAMP, np.full(BLOCK, BLOCK**-0.5)], 1).astype(np.float32)
_SHAPES = np.stack([np.outer(_HUMP, _HUMP), np.outer(_WAVE, _WAVE)]).astype(np.float32)
_HUMP_MEAN = float(_HUMP.sum() ** 2 / BLOCK)  # the hump shape's share along a flat block
# A payload with a good check but less agreement than this is reported, not trusted.
MIN_CONFIDENCE = 0.05
SOFT_BITS = 6  # a failed check is retried with one or two of this many weakest bits flipped


class ProvenanceError(Exception):
    """A file that cannot be read as a video at all (the CLI exits 2 with this message)."""


class MissingDependency(ProvenanceError):
    """An optional package this step needs is not installed."""


@dataclass(frozen=True)
class ClipProvenance:
    """What a clip says about itself; written as MP4 tags and into the C2PA manifest."""

    generation_id: str
    prompt: str
    seed: int
    backend: str
    model: str | None
    reelbot_version: str
    url: str | None = None

    def tags(self) -> dict[str, str]:
        payload = {"schema": TAG_SCHEMA, **asdict(self)}
        return {
            "title": self.prompt[:250],
            "comment": json.dumps(payload, ensure_ascii=True, separators=(",", ":")),
            "description": f"Made with reelbot {self.reelbot_version}, generation "
            f"{self.generation_id}" + (f", {self.url}" if self.url else ""),
        }


def reelbot_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reelbot")
    except PackageNotFoundError:
        return "unknown"


def clip_url(public_url: str | None, generation_id: str) -> str | None:
    return f"{public_url.rstrip('/')}/clips/{generation_id}" if public_url else None


# --- watermark ------------------------------------------------------------------------------


def _crc16(data: bytes) -> int:
    return binascii.crc_hqx(data, 0xFFFF)


def payload_bits(generation_id: str) -> np.ndarray:
    """The 80 bits for a generation id: its first 16 hex digits, whitened, and a CRC-16."""
    ident = int(generation_id[:16], 16)
    word = (ident ^ _MASK).to_bytes(8, "big")
    check = _crc16(ident.to_bytes(8, "big")).to_bytes(2, "big")
    return np.unpackbits(np.frombuffer(word + check, np.uint8)).astype(np.int8)


def prefix_from_bits(bits: np.ndarray) -> str | None:
    """The 16-hex-digit id prefix the bits carry, or None if their check does not match."""
    raw = np.packbits(bits.astype(np.uint8)).tobytes()
    ident = int.from_bytes(raw[:8], "big") ^ _MASK
    if _crc16(ident.to_bytes(8, "big")) != int.from_bytes(raw[8:10], "big"):
        return None
    return f"{ident:016x}"


def can_carry(height: int, width: int) -> bool:
    """Whether one frame has a block for every payload bit."""
    return (height // BLOCK) * (width // BLOCK) >= PAYLOAD_BITS


@functools.lru_cache(maxsize=8)
def _layout(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Per block (rows x cols, raster order): the payload bit it carries, spread at random so
    that one flat region never holds every copy of a bit, and each carrier's lattice offset
    (dither), so that a block whose mark was wiped out reads as noise, not as a confident 0."""
    rng = np.random.default_rng(_LAYOUT_SEED)
    slots = (rng.permutation(rows * cols) % PAYLOAD_BITS).reshape(rows, cols)
    return slots, rng.random((rows, cols, 2)).astype(np.float32)


def _chunk(height: int, width: int) -> int:
    return max(1, _CHUNK_PIXELS // (height * width))


def _blocks(luma: np.ndarray) -> np.ndarray:
    """(T, H, W) luma as (T, rows, BLOCK, cols, BLOCK) views over whole blocks."""
    t, height, width = luma.shape
    rows, cols = height // BLOCK, width // BLOCK
    cut = luma[:, : rows * BLOCK, : cols * BLOCK]
    return cut.reshape(t, rows, BLOCK, cols, BLOCK)


def _measure(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per block and carrier (T, rows, cols, 2): the coefficient, its lattice step, and the
    weight of its vote.

    Carrier 0 is the hump (`_HUMP` x `_HUMP`), carrier 1 the wave (`_WAVE` x `_WAVE`). The
    texture is the RMS of what is left of a block once its mean, a plane and both carriers are
    taken out; embedding changes nothing but the carriers, so the reader finds the texture, and
    with it the steps, that the embedder used.
    """
    across = (blocks @ _BASIS).transpose(0, 1, 3, 4, 2)  # (T, rows, cols, 4, BLOCK)
    g = across @ _BASIS  # (T, rows, cols, 4, 4): [x basis, y basis] coefficients
    hump, wave, mean = g[..., 0, 0], g[..., 1, 1], g[..., 3, 3]
    hump_rest = (hump - _HUMP_MEAN * mean) / (1 - _HUMP_MEAN**2) ** 0.5
    rest = np.square(blocks).sum(axis=2).sum(axis=-1) - mean**2 - hump_rest**2 - wave**2
    rest -= g[..., 3, 2] ** 2 + g[..., 2, 3] ** 2  # the plane
    mask = np.clip(np.sqrt(np.maximum(rest, 0.0)) / (BLOCK * TEXTURE), 0.0, 1.0)
    coef = np.stack([hump, wave], -1)
    step = np.stack([np.full_like(mask, HUMP_STEP), WAVE_STEP * np.maximum(mask, FLOOR)], -1)
    weight = np.stack([1 - HUMP_OFF * mask, mask], -1)
    return coef, step, weight


def _luma(rgb: np.ndarray) -> np.ndarray:
    """Limited-range BT.709 luma (16-235) of uint8 RGB: what the encoder will write."""
    return 16 + rgb.astype(np.float32) @ _LUMA


def embed_watermark(frames: np.ndarray, generation_id: str) -> np.ndarray:
    """A watermarked copy of uint8 RGB `frames` (T, H, W, 3); unchanged if they are too small."""
    _, height, width, _ = frames.shape
    if not can_carry(height, width):
        log.warning("[%s] %dx%d is too small to watermark", generation_id, width, height)
        return frames
    rows, cols = height // BLOCK, width // BLOCK
    slots, dither = _layout(rows, cols)
    offset = dither + payload_bits(generation_id)[slots][..., None] / 2  # 1: half a step on
    out = frames.copy()
    chunk = _chunk(height, width)
    for start in range(0, len(frames), chunk):
        part = out[start : start + chunk, : rows * BLOCK, : cols * BLOCK]
        coef, step, weight = _measure(_blocks(_luma(part)))
        target = (np.round(coef / step - offset) + offset) * step
        change = (target - coef) * weight * (255 / 219)  # luma levels -> equal R, G, B levels
        bump = np.einsum("trcn,nik->trick", change, _SHAPES)
        delta = np.round(bump).astype(np.int16).reshape(part.shape[:3])
        marked = np.repeat(delta, 3, axis=-1).reshape(part.shape)  # the same on R, G and B
        marked += part
        np.clip(marked, 0, 255, out=part, casting="unsafe")
    return out


@dataclass(frozen=True)
class WatermarkReading:
    bits: np.ndarray
    confidence: float  # mean |vote| per bit: ~1 untouched, ~0 for pictures without our mark
    frames: int
    agreement: np.ndarray | None = None  # each bit's soft vote, -1..1 (sign: the bit)

    @property
    def generation_id_prefix(self) -> str | None:
        """The prefix the bits carry; if their check fails, the bits the votes were least sure
        of are flipped (one or two of the weakest few, least doubt first), as a lossy copy
        most often gets exactly those wrong. A wrong pattern passes the CRC-16 by chance about
        once in 3,000 tries of all SOFT_CANDIDATES, and only over MIN_CONFIDENCE counts."""
        found = prefix_from_bits(self.bits)
        if found is not None or self.agreement is None:
            return found
        weakest = np.argsort(np.abs(self.agreement))[:SOFT_BITS]
        flips = [(int(i),) for i in weakest]
        flips += [(int(a), int(b)) for n, a in enumerate(weakest) for b in weakest[n + 1 :]]
        flips.sort(key=lambda pattern: float(np.abs(self.agreement[list(pattern)]).sum()))
        for pattern in flips:
            bits = self.bits.copy()
            bits[list(pattern)] ^= 1
            if (found := prefix_from_bits(bits)) is not None:
                return found
        return None


class _Votes:
    """Soft votes per payload bit, summed over every block of every frame."""

    def __init__(self) -> None:
        self.sums = np.zeros(PAYLOAD_BITS)
        self.counts = np.zeros(PAYLOAD_BITS)
        self.frames = 0
        self.decoded = 0

    def add(self, luma: np.ndarray) -> None:
        """Votes from a (T, H, W) stack of float32 luma planes."""
        self.decoded += len(luma)
        if not len(luma) or not can_carry(*luma.shape[1:]):
            return
        coef, step, weight = _measure(_blocks(luma))
        slots, dither = _layout(*coef.shape[1:3])
        phase = 2 * np.pi * (coef / step - dither)
        # How much a frame's carrier says: the mean of cos(2 phase) is ~1 where the blocks sit
        # on either lattice and ~0 where a re-encode wiped the mark out (the first frames of a
        # starved encode, the wave on flat pictures, the hump on textured ones).
        quality = (weight * np.cos(2 * phase)).sum(axis=(1, 2)) / (weight.sum(axis=(1, 2)) + 1e-6)
        weight = weight * np.square(np.maximum(quality, 0.0))[:, None, None, :]
        # +1 on the bit-0 lattice, -1 on the bit-1 lattice (half a step away), 0 half-way.
        vote = (weight * np.cos(phase)).sum(axis=(0, 3))
        self.sums += np.bincount(slots.ravel(), vote.ravel(), PAYLOAD_BITS)
        self.counts += np.bincount(slots.ravel(), weight.sum(axis=(0, 3)).ravel(), PAYLOAD_BITS)
        self.frames += len(luma)

    def reading(self) -> WatermarkReading | None:
        if not self.frames:
            return None
        agreement = self.sums / (self.counts + 1e-9)
        bits = (agreement < 0).astype(np.int8)
        return WatermarkReading(bits, float(np.abs(agreement).mean()), self.frames, agreement)


def _luma_planes(path: Path) -> Iterator[np.ndarray]:
    """Stacks of up to _CHUNK decoded frames' luma (float32 limited-range levels), read from the
    file's own Y plane."""
    av = _import("av", "PyAV (pip install av)")
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ProvenanceError(f"{path} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        batch: list[np.ndarray] = []
        for frame in container.decode(stream):
            if frame.format.name not in ("yuv420p", "yuvj420p"):
                frame = frame.reformat(format="yuv420p")
            plane = frame.planes[0]
            rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
            luma = rows[: frame.height, : frame.width].astype(np.float32)
            if frame.color_range == 2 or frame.format.name == "yuvj420p":  # full range
                luma = 16 + luma * (219 / 255)  # back to the 16-235 we wrote
            batch.append(luma)
            if len(batch) == _chunk(frame.height, frame.width):
                yield np.stack(batch)
                batch = []
        if batch:
            yield np.stack(batch)


def read_watermark(path: Path) -> WatermarkReading | None:
    """The watermark's vote over every frame; None if no frame was large enough to carry it.

    ProvenanceError if not a single frame could be decoded (a truncated or damaged file).
    """
    votes = _Votes()
    for luma in _luma_planes(path):
        votes.add(luma)
    if not votes.decoded:
        raise ProvenanceError(f"{path}: no frame could be decoded (truncated or damaged?)")
    return votes.reading()


def frames_watermark(frames: np.ndarray) -> WatermarkReading | None:
    """Read the watermark straight from RGB frames (tests, and checks before encoding)."""
    votes = _Votes()
    chunk = _chunk(*frames.shape[1:3])
    for start in range(0, len(frames), chunk):
        votes.add(_luma(frames[start : start + chunk]))
    return votes.reading()


def _import(module: str, package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(
            f"this needs {package}, which is not installed (pip install 'reelbot[worker]')"
        ) from None


# --- MP4 tags -------------------------------------------------------------------------------


def read_tags(path: Path) -> dict[str, str]:
    """The container's tags; ProvenanceError if the file is not a readable video."""
    av = _import("av", "PyAV (pip install av)")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ProvenanceError(f"{path} has no video stream")
            return dict(container.metadata)
    except (av.FFmpegError, OSError) as exc:
        raise ProvenanceError(f"{path} is not a readable video: {exc}") from None


def metadata_from_tags(tags: dict[str, str]) -> dict[str, Any] | None:
    """Our JSON payload from the `comment` tag, or None if there is none."""
    try:
        payload = json.loads(tags.get("comment", ""))
    except ValueError:
        return None
    if not isinstance(payload, dict) or payload.get("schema") != TAG_SCHEMA:
        return None
    return payload


# --- C2PA -----------------------------------------------------------------------------------

_AI_GENERATED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def sign_c2pa(path: Path, provenance: ClipProvenance, *, cert_file: Path, key_file: Path) -> None:
    """Embed a C2PA manifest signed with the operator's ES256 key, replacing `path` in one step.

    `cert_file` holds the signing certificate then its chain (PEM), `key_file` the private key.
    """
    c2pa = _import("c2pa", "c2pa-python")
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(
            alg="es256",
            sign_cert=Path(cert_file).read_bytes(),
            private_key=Path(key_file).read_bytes(),
            ta_url=None,
        )
    )
    manifest = {
        "claim_generator_info": [{"name": "reelbot", "version": provenance.reelbot_version}],
        "title": provenance.prompt[:250],
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": _AI_GENERATED,
                            "softwareAgent": {
                                "name": "reelbot",
                                "version": provenance.reelbot_version,
                            },
                            "parameters": {"reelbot": asdict(provenance)},
                        }
                    ]
                },
            }
        ],
    }
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with (
            c2pa.Builder(manifest) as builder,
            open(path, "rb") as src,
            open(tmp_name, "wb") as dst,
        ):
            builder.sign(signer, "video/mp4", src, dst)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    finally:
        signer.close()


def read_c2pa(path: Path) -> dict[str, Any]:
    """What C2PA says: present, valid (integrity and signature; None when not present), its
    validation state (`Trusted` needs the signer on the reader's trust list), and failures."""
    try:
        c2pa = _import("c2pa", "c2pa-python")
    except MissingDependency as exc:
        return {"present": None, "valid": None, "error": str(exc)}
    try:
        reader = c2pa.Reader.try_create(str(path))
    except c2pa.C2paError as exc:
        return {"present": True, "valid": False, "error": str(exc)}
    if reader is None:
        return {"present": False, "valid": None}
    with reader:
        state = reader.get_validation_state()
        results = reader.get_validation_results() or {}
        manifest = reader.get_active_manifest() or {}
    failures = [item.get("code") for item in results.get("activeManifest", {}).get("failure", [])]
    signature = manifest.get("signature_info") or {}
    return {
        "present": True,
        "valid": state in ("Valid", "Trusted"),
        "state": state,
        "trusted": state == "Trusted",
        "signer": signature.get("common_name"),
        "issuer": signature.get("issuer"),
        "failures": failures,
    }


# --- verify ---------------------------------------------------------------------------------


def verify_clip(path: Path, *, lookup: Any = None, public_url: str | None = None) -> dict[str, Any]:
    """Everything the clip says about its origin, as `reelbot verify` prints it.

    `lookup(prefix) -> full generation id | None` maps a watermark's id prefix to a gallery row.
    Raises ProvenanceError for a file that is not a readable video.
    """
    path = Path(path)
    if not path.is_file():
        raise ProvenanceError(f"{path} is not a file")
    metadata = metadata_from_tags(read_tags(path))
    try:
        reading = read_watermark(path)
    except ProvenanceError:
        raise
    except Exception as exc:  # a damaged stream (PyAV's errors): one clear message
        raise ProvenanceError(f"{path} could not be decoded: {exc}") from None
    watermark = None
    prefix = reading.generation_id_prefix if reading else None
    if reading is not None and prefix is not None and reading.confidence >= MIN_CONFIDENCE:
        watermark = {
            "payload": np.packbits(reading.bits.astype(np.uint8)).tobytes().hex(),
            "generation_id_prefix": prefix,
            "confidence": round(reading.confidence, 3),
            "frames": reading.frames,
        }
    generation_id = metadata.get("generation_id") if metadata else None
    if generation_id is None and prefix and watermark is not None and lookup is not None:
        generation_id = lookup(prefix)
    url = metadata.get("url") if metadata else None
    if url is None and generation_id is not None:
        url = clip_url(public_url, generation_id)
    return {
        "ours": metadata is not None or watermark is not None,
        "metadata": metadata,
        "watermark": watermark,
        "c2pa": read_c2pa(path),
        "generation_id": generation_id,
        "url": url,
    }
