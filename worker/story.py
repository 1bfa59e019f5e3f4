"""A story (`/story`, mode "story"): its shots rendered one after another, delivered as one clip.

Shot 1 is text-to-video (image-to-video when the story starts from the member's picture); each
next shot is the family's image-to-video from the previous shot's last frame, with its own
text and the story's seed plus its index. The continuing shot's first frame is that picture
again, so it is dropped at the seam. Chaining works on every family with text- and image-to-video
(`Capabilities.all_modes` offers "story" exactly there), with the backend's own render path:
styles, `-fast`, the step callback and cancelling all behave as for any clip.

The alternative is diffusers' `LTXI2VLongMultiPromptPipeline` (0.42: one long LTX render in
temporal tiles, a prompt per tile through `prompt_segments`, tiles blended over
`temporal_overlap` latent frames). It exists only for LTX-Video, renders nothing until its last
tile, so it can't keep finished shots across a worker's death, and its tile boundaries are
latent windows, not the member's shots. `bench/story.py` on the tiny model (2 shared CPU cores,
3 shots of 2 s, 49 frames): chained 3.5 s at 4 steps (97% outside the denoising loop: the tiny
VAE's decodes, storing each shot, the final encode) against 4.1 s for the long pipeline; at 30
steps 16.9 s both (45% outside). Chaining is no slower, and it works for every family.

Each finished shot is stored (`core.story.shot_kind`: `s0.mp4` …, private) before the next
starts, so a retried job (attempt > 1, after a worker died) loads the shots already made and
renders only the rest. A stored shot is re-read from its MP4 (H.264 at CRF 12: close to what
was rendered, not bit for bit), and a resumed story's next shot starts from that decoded frame.

🎬 Retake (`RenderSpec.retake`, a child of the story): the parent's stored shots other than the
retaken one are copied into the child's kinds first, so the same resume path renders that shot
only, from the previous shot's last frame with the child's seed. The kept shot after it began
from the old shot's last frame, so its first `SEAM_FRAMES` frames are crossfaded from the new
shot's last frame into the kept ones (a short blend, not a re-render).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.spec import MAX_SEED, RenderSpec
from core.story import SHOT_KINDS, shot_kind, shot_label, shot_lengths, shots
from gallery.media import LocalMediaStore
from worker.backends import Backend, RenderedClip
from worker.encode import encode_mp4

log = logging.getLogger(__name__)

ShotStep = Callable[..., None]
"""on_step(step, total, message): the step of the shot `message` names ("shot 2/3")."""
SHOT_CRF = 12  # a stored shot is what the next one starts from: near lossless
SEAM_FRAMES = 4  # a retake's seam into the kept next shot: frames crossfaded


@dataclass(frozen=True)
class ShotFiles:
    """Where one story's finished shots are kept (the media store, under the story's id);
    `resume`: read back what an earlier attempt stored (only a retry does); `parent`, `retake`:
    a retake's story and the shot it renders again (every other shot is the parent's)."""

    media: LocalMediaStore
    generation_id: str
    resume: bool = False
    parent: str | None = None
    retake: int | None = None

    @classmethod
    def of(cls, media: LocalMediaStore, spec: RenderSpec, gid: str, attempt: int) -> ShotFiles:
        """A story job's shot files: a retake's kept shots come from its parent story."""
        parent = spec.parent_id if spec.retake is not None else None
        return cls(media, gid, resume=attempt > 1, parent=parent, retake=spec.retake)

    def stored(self, k: int) -> np.ndarray | None:
        """Shot k's frames, if an earlier attempt finished it or a retake keeps the parent's
        (copied into this story's kinds first); None otherwise."""
        kind = shot_kind(k)
        own = self.media.relative_path(self.generation_id, kind)
        path = self.media.fetch(own) if self.resume else None
        if path is None and self.parent is not None and k != self.retake:
            kept = self.media.fetch(self.media.relative_path(self.parent, kind))
            if kept is None:
                raise RuntimeError(f"shot {k + 1} of story {self.parent} is no longer stored")
            path = self.media.path_for(self.generation_id, kind)
            shutil.copyfile(kept, path)
            self.media.publish(self.generation_id, [kind])
        return None if path is None else read_shot(path)

    def keep(self, k: int, frames: np.ndarray, fps: float) -> None:
        """Store shot k whole (written aside, then moved into place) before the next starts."""
        kind = shot_kind(k)
        rate = max(1, round(fps))
        path = self.media.path_for(self.generation_id, kind)
        encode_mp4(frames, rate, path, fps=rate, num_frames=len(frames), crf=SHOT_CRF)
        self.media.publish(self.generation_id, [kind])  # a bucket has it before we go on

    def local(self) -> list[str]:
        """The shots on this machine's disk, for `evict` once the story is delivered (a bucket
        keeps them)."""
        return [
            self.media.relative_path(self.generation_id, kind)
            for kind in SHOT_KINDS
            if self.media.path_for(self.generation_id, kind).is_file()
        ]


def read_shot(path: Path) -> np.ndarray:
    """A stored shot's frames as uint8 RGB (T, H, W, 3): our own file, not a member's."""
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def shot_spec(spec: RenderSpec, k: int, text: str, *, from_picture: bool) -> RenderSpec:
    """Shot k (0-based) as a clip of its own: its text, its length, the seed plus k, its own
    camera, motion and negative prompt where it has them (`spec.shot_flags`); from a picture
    (image-to-video) or from the text alone."""
    count = len(shots(spec.prompt))
    own = spec.shot_flags[k] if spec.shot_flags else None
    lengths = shot_lengths(spec.num_frames, count, [s.num_frames for s in spec.shot_flags])
    data = spec.model_dump(mode="json")
    if own is not None:
        data.update(own.model_dump(mode="json", exclude={"num_frames"}))  # set ones only
    data.pop("shot_flags", None)
    data.update(
        prompt=text,
        mode="i2v" if from_picture else "t2v",
        num_frames=lengths[k],
        seed=(spec.seed + k) % (MAX_SEED + 1),
        input_media=[],
        sound=False,  # a story's sound is one track over the joined clip (worker.render)
        sound_prompt="",
        retake=None,  # the shot is a plain clip; the story is the retake
    )
    return RenderSpec.model_validate(data)


def render_story(
    backend: Backend,
    spec: RenderSpec,
    on_step: ShotStep,
    inputs: Sequence[Path] = (),
    files: ShotFiles | None = None,
) -> RenderedClip:
    """Every shot in order, each from the last one's last frame; the frames joined, the
    repeated first frame of each continuing shot dropped. Blocking (the render thread)."""
    if spec.mode != "story":
        raise ValueError(f"mode {spec.mode!r} is not a story")
    if len(inputs) > 1:
        raise ValueError(f"a story starts from at most one picture, got {len(inputs)}")
    texts = shots(spec.prompt)
    parts: list[np.ndarray] = []
    fps = float(backend.capabilities.native_fps)
    with tempfile.TemporaryDirectory(prefix="story-") as scratch:
        start: Path | None = inputs[0] if inputs else None
        for k, text in enumerate(texts):
            label = shot_label(k, len(texts))
            frames = files.stored(k) if files is not None else None
            if frames is not None:
                log.info("%s kept from an earlier attempt (%d frames)", label, len(frames))
            else:
                one = shot_spec(spec, k, text, from_picture=start is not None)

                def step(i: int, total: int, label: str = label) -> None:
                    on_step(i, total, label)

                clip = backend.render(one, step, inputs=(start,) if start else ())
                frames, fps = clip.frames, clip.fps
                if files is not None:
                    files.keep(k, frames, fps)
                log.info("%s rendered (%d frames)", label, len(frames))
            if files is not None and files.retake is not None and k == files.retake + 1:
                frames = crossfade(parts[-1][-1], frames)
            parts.append(frames if k == 0 else frames[1:])  # the seam: its first frame is ours
            start = Path(scratch) / f"last{k}.png"
            Image.fromarray(frames[-1]).save(start)
    return RenderedClip(frames=np.concatenate(parts), fps=fps)


def crossfade(last: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """A kept shot's first `SEAM_FRAMES` frames blended from the retaken shot's `last` frame
    (weight falling to 0) into its own, so the seam after a retake doesn't jump."""
    out = kept.copy()
    n = min(SEAM_FRAMES, len(kept))
    for i in range(n):
        w = (n - i) / (n + 1)
        out[i] = np.rint(w * last + (1 - w) * kept[i]).astype(np.uint8)
    return out
