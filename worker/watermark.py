"""The invisible watermark: a clip's generation id (64 bits of it) in the luma of its frames.

It survives re-encodes at lower bit rates as long as the picture is not resized or cropped; the
other layers of a clip's provenance are in `worker.provenance`.

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

Embedding needs numpy only; reading a file needs PyAV too.
"""

from __future__ import annotations

import binascii
import functools
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worker.media_budget import DEFAULT_BUDGET, MediaBudget
from worker.media_decode import checked_frames, open_video
from worker.provenance import ProvenanceError

log = logging.getLogger(__name__)

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
        log.warning("%dx%d is too small to watermark", width, height)
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


def _luma_planes(path: Path, budget: MediaBudget, frames: int | None) -> Iterator[np.ndarray]:
    """Stacks of up to _CHUNK decoded frames' luma (float32 limited-range levels), read from the
    file's own Y plane, from its first `frames` frames (all if None); the file opened and each
    frame checked as any untrusted video is (`worker.media_decode`)."""
    with open_video(path, budget) as (container, stream):
        batch: list[np.ndarray] = []
        decoded = checked_frames(container, stream, budget)
        for frame in itertools.islice(decoded, frames):
            if frame.format.name not in ("yuv420p", "yuvj420p"):
                frame = frame.reformat(format="yuv420p")
            plane = frame.planes[0]
            rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
            luma = rows[: frame.height, : frame.width].astype(np.float32)
            if frame.color_range == 2 or frame.format.name == "yuvj420p":  # full range
                luma = 16 + luma * (219 / 255)  # back to the 16-235 we wrote
            if batch and batch[0].shape != luma.shape:  # the size changed mid-stream
                yield np.stack(batch)
                batch = []
            batch.append(luma)
            if len(batch) == _chunk(frame.height, frame.width):
                yield np.stack(batch)
                batch = []
        if batch:
            yield np.stack(batch)


def read_watermark(
    path: Path, budget: MediaBudget = DEFAULT_BUDGET, *, frames: int | None = None
) -> WatermarkReading | None:
    """The watermark's vote over every frame (the first `frames`, if given); None if no frame
    was large enough to carry it.

    ProvenanceError if not a single frame could be decoded (a truncated or damaged file); the
    UnreadableVideo family for a file that is no video we read or is over `budget`. In-process:
    `reelbot verify` calls it in a sandboxed child (`worker.media_sandbox.read_provenance`).
    """
    votes = _Votes()
    for luma in _luma_planes(path, budget, frames):
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
