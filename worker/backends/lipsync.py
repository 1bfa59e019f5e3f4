"""LTX-2 audio-to-video: the video denoised beside a voice that is held, clean, at every step.

LTX-2 denoises video and audio latents in one transformer whose two streams attend to each
other; that cross-attention is what keeps lips and sound together. To make a picture speak a
given voice, the voice takes the audio stream's place:

1. the voice (mono, resampled to the audio VAE's 16 kHz) becomes a log-mel spectrogram with the
   VAE's hop (160 samples) and mel bins, the mono channel copied to both of its input channels:
   the inverse of the decode path (latents → `audio_vae.decode` → mel → vocoder → waveform);
2. `audio_vae.encode` turns the mel into latents (the posterior's mode), cut or padded to the
   length the pipeline expects for the clip (25 latent frames a second);
3. those latents go to `LTX2ImageToVideoPipeline(audio_latents=…)`, and `held_voice` keeps them
   there: the pipeline's own scheduler would step the audio latents like noise (its
   `callback_on_step_end` can't reach them: `audio_latents` is not in its
   `_callback_tensor_inputs`), so a forward pre-hook on the transformer gives it the clean,
   normalised, packed voice latents and an audio timestep of 0 ("this stream is clean") on every
   call: the conditional, unconditional, STG and modality passes alike. The video stream is
   denoised as always, attending to a voice that never changes.

The pipeline's own decoded audio is thrown away: the clip's track is the member's voice itself
(`worker.speak`). The mel's parameters (1024-point FFT, Slaney mel scale and norm, 0-8 kHz, log
of the magnitude clamped at 1e-5, the vocoder's `MelSTFT` form) are our reading of LTX-2's audio
front end; with the real weights a mismatch would weaken the sync, never break the clip.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

N_FFT = 1024


def voice_mel(samples: np.ndarray, audio_vae: Any) -> Any:
    """(1, channels, frames, mel_bins) log-mel of mono `samples` at the VAE's sample rate."""
    import torch
    from transformers.audio_utils import mel_filter_bank

    config = audio_vae.config
    rate, hop, bins = int(config.sample_rate), int(config.mel_hop_length), int(config.mel_bins)
    basis = mel_filter_bank(
        num_frequency_bins=N_FFT // 2 + 1,
        num_mel_filters=bins,
        min_frequency=0.0,
        max_frequency=rate / 2,
        sampling_rate=rate,
        norm="slaney",
        mel_scale="slaney",
    )  # (freqs, mels)
    wave = torch.from_numpy(np.ascontiguousarray(samples, np.float32))
    wave = torch.nn.functional.pad(wave, (N_FFT - hop, 0))  # causal: frame k ends at sample k*hop
    spectrum = torch.stft(
        wave,
        N_FFT,
        hop_length=hop,
        win_length=N_FFT,
        window=torch.hann_window(N_FFT),
        center=False,
        return_complex=True,
    ).abs()  # (freqs, frames)
    mel = torch.from_numpy(basis.T.astype(np.float32)) @ spectrum
    log_mel = torch.log(torch.clamp(mel, min=1e-5)).T  # (frames, mels)
    channels = int(config.in_channels)
    return log_mel[None, None].expand(1, channels, -1, -1).contiguous()


def encode_voice(pipe: Any, samples: np.ndarray, num_frames: int, frame_rate: float) -> Any:
    """The voice's audio latents, (1, channels, length, latent_mel_bins), as long as a clip of
    `num_frames` at `frame_rate` (the pipeline's own count), unnormalised as the VAE gives them."""
    import torch

    vae = pipe.audio_vae
    rate, hop = int(vae.config.sample_rate), int(vae.config.mel_hop_length)
    duration = num_frames / frame_rate
    wanted = round(duration * rate / hop / float(pipe.audio_vae_temporal_compression_ratio))
    clip = np.zeros(round(duration * rate), np.float32)
    kept = min(len(clip), len(samples))
    clip[:kept] = samples[:kept]
    mel = voice_mel(clip, vae).to(vae.device, vae.dtype)
    with torch.inference_mode():
        latents = vae.encode(mel).latent_dist.mode()
    bins = int(vae.config.mel_bins) // int(pipe.audio_vae_mel_compression_ratio)
    if latents.shape[3] != bins:  # an encoder that compresses less than the pipeline reads
        # (the tiny test VAE, ch_mult=(1,)): pooled to the latent grid; a no-op for LTX-2's own
        latents = torch.nn.functional.adaptive_avg_pool2d(latents, (wanted, bins))
    have = latents.shape[2]
    if have < wanted:  # the causal encoder's last frames: held as the voice ends (silence)
        latents = torch.cat([latents, latents[:, :, -1:].expand(-1, -1, wanted - have, -1)], 2)
    return latents[:, :, :wanted].float()


def packed_voice(pipe: Any, latents: Any) -> Any:
    """The latents as the transformer reads them: packed to (1, length, features), normalised."""
    packed = pipe._pack_audio_latents(latents)
    vae = pipe.audio_vae
    return pipe._normalize_audio_latents(packed, vae.latents_mean, vae.latents_std)


@contextlib.contextmanager
def held_voice(transformer: Any, voice: Any) -> Iterator[None]:
    """Every transformer call inside sees `voice` (packed, normalised) as its audio stream,
    clean (audio timestep 0), whatever the pipeline's scheduler did to its own audio latents."""
    import torch

    def hold(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        states = kwargs["audio_hidden_states"]
        kwargs["audio_hidden_states"] = voice.to(states.device, states.dtype).expand(
            states.shape[0], -1, -1
        )
        kwargs["audio_timestep"] = torch.zeros_like(kwargs["audio_timestep"])
        return args, kwargs

    handle = transformer.register_forward_pre_hook(hold, with_kwargs=True, prepend=True)
    try:
        yield
    finally:
        handle.remove()
