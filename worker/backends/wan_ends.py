"""Wan image-to-video that ends on a picture too: `last_image` honoured on Wan 2.2 TI2V.

`WanImageToVideoPipeline(image=…, last_image=…)` conditions the last frame only for the Wan 2.1
style checkpoints (the picture concatenated as extra channels with a mask). With TI2V-5B
(`expand_timesteps`, our default) diffusers 0.42 keeps the first latent frame clean and
silently drops `last_image`. This subclass pins the last latent frame the same way the first
is pinned: its latent is the picture's VAE encoding, held for the clip's last latent frame (the
encoding of `[start, end, end, end, end]`, whose second latent frame is a still end picture in
that context), and the per-token timestep there is 0, so the transformer sees it clean at every
step and the decoder gets it back as given.

TI2V was trained with a clean first frame only; a clean last frame is our extension, closed in
pixels afterwards as every ending is (`worker.backends.keyframes.close_on`).
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def first_last_class() -> type:
    """`WanImageToVideoPipeline` with `last_image` pinned under `expand_timesteps` (a class
    made on first use: torch and diffusers load only in the worker)."""
    import torch
    from diffusers import WanImageToVideoPipeline
    from diffusers.pipelines.wan.pipeline_wan_i2v import retrieve_latents

    class WanFirstLastPipeline(WanImageToVideoPipeline):  # type: ignore[misc]
        def prepare_latents(  # the parent's arguments, as `__call__` passes them
            self,
            image: Any,
            batch_size: int,
            num_channels_latents: int = 16,
            height: int = 480,
            width: int = 832,
            num_frames: int = 81,
            dtype: Any = None,
            device: Any = None,
            generator: Any = None,
            latents: Any = None,
            last_image: Any = None,
        ) -> Any:
            prepared = super().prepare_latents(
                image,
                batch_size,
                num_channels_latents,
                height,
                width,
                num_frames,
                dtype,
                device,
                generator,
                latents,
                last_image,
            )
            if not self.config.expand_timesteps or last_image is None:
                return prepared  # Wan 2.1 style: the parent conditions the last frame itself
            noise, condition, mask = prepared
            ratio = self.vae_scale_factor_temporal
            still_end = last_image.unsqueeze(2).expand(-1, -1, ratio, -1, -1)
            video = torch.cat([image.unsqueeze(2), still_end], dim=2)
            video = video.to(device=self.vae.device, dtype=self.vae.dtype)
            encoded = retrieve_latents(self.vae.encode(video), sample_mode="argmax")
            end = _normalized(self.vae, encoded[:, :, 1:2]).to(device=device, dtype=dtype)
            frames = noise.shape[2]
            condition = condition.expand(-1, -1, frames, -1, -1).clone()
            condition[:, :, -1:] = end.expand(condition.shape[0], -1, -1, -1, -1)
            mask = mask.clone()
            mask[:, :, -1] = 0  # the last latent frame is clean: timestep 0, kept as given
            return noise, condition, mask

    return WanFirstLastPipeline


def _normalized(vae: Any, latents: Any) -> Any:
    """Latents in the transformer's scale, as the pipeline normalises its first frame's."""
    import torch

    config = vae.config
    mean = torch.tensor(config.latents_mean).view(1, config.z_dim, 1, 1, 1)
    std = torch.tensor(config.latents_std).view(1, config.z_dim, 1, 1, 1)
    return (latents - mean.to(latents)) / std.to(latents)
