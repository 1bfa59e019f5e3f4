"""What `-motion 0-4` means to each backend: one table per knob, documented, pure functions.

| backend     | what -motion drives                           | 0    | 1    | 2    | 3    | 4    |
|-------------|-----------------------------------------------|------|------|------|------|------|
| svd         | `motion_bucket_id` (its motion conditioning)  | 40   | 80   | 127  | 180  | 255  |
| svd         | `noise_aug_strength` (noise on the picture)   | 0.02 | 0.02 | 0.03 | 0.05 | 0.08 |
| animatediff | scale of the camera MotionLoRAs (`-camera`)   | 0.4  | 0.6  | 0.8  | 1.0  | 1.2  |
| ltx, wan    | virtual-camera travel (share of the margin)   | 0.2  | 0.5  | 0.7  | 0.85 | 1.0  |

SVD's own default is bucket 127 with noise 0.02 (our `-motion 2`); more noise on the image frees
the model from it, so it rises gently with motion. AnimateDiff's MotionLoRAs are trained at scale
1.0; past ~1.3 they start to smear. LTX-Video and Wan have no motion input: there `-motion` only
sets how far a `-camera` move travels; without `-camera` it has no effect (each backend's
`Capabilities.motion` says what it drives, for the bot to show).
"""

from __future__ import annotations

from core.spec import MAX_MOTION, MIN_MOTION

SVD_MOTION_BUCKET = (40, 80, 127, 180, 255)
SVD_NOISE_AUG = (0.02, 0.02, 0.03, 0.05, 0.08)
MOTION_LORA_SCALE = (0.4, 0.6, 0.8, 1.0, 1.2)
CAMERA_TRAVEL = (0.2, 0.5, 0.7, 0.85, 1.0)


def _index(motion: int) -> int:
    if not MIN_MOTION <= motion <= MAX_MOTION:
        raise ValueError(f"motion={motion} is outside {MIN_MOTION}-{MAX_MOTION}")
    return motion - MIN_MOTION


def svd_motion(motion: int) -> dict[str, float | int]:
    """The StableVideoDiffusionPipeline keyword arguments for `-motion`."""
    i = _index(motion)
    return {"motion_bucket_id": SVD_MOTION_BUCKET[i], "noise_aug_strength": SVD_NOISE_AUG[i]}


def motion_lora_scale(motion: int) -> float:
    """The adapter weight given to each camera MotionLoRA in AnimateDiff's `set_adapters`."""
    return MOTION_LORA_SCALE[_index(motion)]


def camera_travel(motion: int) -> float:
    """How far the virtual camera (`worker.camera`) moves, as a share of its margin."""
    return CAMERA_TRAVEL[_index(motion)]
