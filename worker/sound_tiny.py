"""A tiny, randomly initialised Stable Audio 3 pipeline: the real `StableAudio3Pipeline` on a CPU.

Built the way diffusers' own tests build theirs (`get_dummy_components` in
`tests/pipelines/stable_audio_3/test_stable_audio_3.py`), everything made in code: no weights,
configs or tokenizer files are downloaded, ever. Its sound is shaped noise, but every part of a
sound render is real (the T5Gemma text encoder, the duration embedding, the rectified-flow DiT
with the distilled checkpoint's stochastic "ping-pong" sampling, the SAME autoencoder's decode),
which is what the tests, CI and the local stack need.

The autoencoder keeps SAME's real geometry (256-sample patches and one stride-16 resampling
block: 4,096 samples a latent frame, at 44.1 kHz stereo), so a clip's sound costs what its length
says, as with the real model. The tokenizer is LTX-2's tiny Gemma tokenizer (Gemma's layout with
byte fallback): SA3's text encoder is T5Gemma, which reads Gemma's tokens.
"""

from __future__ import annotations

from typing import Any

SAMPLE_RATE = 44_100  # SA3's, and one AAC takes as it is
_COND = 16  # text width = the DiT's cross and global conditioning = the duration embedding's


def build_tiny_sound() -> Any:  # a diffusers.StableAudio3Pipeline
    """Every weight drawn from a fixed seed, so every worker process builds the same model."""
    from diffusers import (
        AutoencoderSAME,
        FlowMatchEulerDiscreteScheduler,
        StableAudio3DiTModel,
        StableAudio3Pipeline,
    )
    from diffusers.pipelines.stable_audio_3.modeling_stable_audio_3 import (
        StableAudio3DurationEmbedder,
    )
    from transformers import T5GemmaConfig, T5GemmaEncoderModel
    from transformers.models.t5gemma.configuration_t5gemma import T5GemmaModuleConfig

    from worker.backends.common import seeded_build
    from worker.backends.ltx2 import gemma_tokenizer, gemma_vocab

    text = T5GemmaModuleConfig(
        vocab_size=len(gemma_vocab()),
        hidden_size=_COND,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=64,
        sliding_window=64,
        layer_types=["full_attention"],
    )
    with seeded_build(0):
        text_encoder: Any = T5GemmaEncoderModel(
            T5GemmaConfig(encoder=text.to_dict(), decoder=text.to_dict(), is_encoder_decoder=False)
        )
        transformer: Any = StableAudio3DiTModel(
            io_channels=8,
            patch_size=1,
            embed_dim=32,
            depth=1,
            num_heads=4,
            cond_token_dim=_COND,
            global_cond_dim=_COND,
            local_add_cond_dim=5,
            timestep_features_dim=16,
            ff_mult=2,
            num_memory_tokens=1,
            use_differential_attention=False,
        )
        vae: Any = AutoencoderSAME(
            audio_channels=2,
            patch_size=256,
            encoder_channels=8,
            encoder_c_mults=(2,),
            encoder_strides=(16,),
            encoder_transformer_depths=(1,),
            latent_dim=8,
            use_differential_attention=False,
            dim_heads=4,
            ff_mult=2,
            sampling_rate=SAMPLE_RATE,
        )
        duration_embedder: Any = StableAudio3DurationEmbedder(output_dim=_COND, fourier_dim=16)
        _wake(vae)
    for module in (text_encoder, transformer, vae, duration_embedder):
        module.eval()
    pipe: Any = StableAudio3Pipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=gemma_tokenizer(64),
        duration_embedder=duration_embedder,
        transformer=transformer,
        # the distilled checkpoint's sampler: 8 steps with re-noise between them
        scheduler=FlowMatchEulerDiscreteScheduler(
            num_train_timesteps=1, shift=1.0, stochastic_sampling=True
        ),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _wake(vae: Any) -> None:
    """SAME zero-initialises each transformer's output projections (attention and feed-forward),
    so an untrained decoder passes only its learned output tokens through and every latent
    decodes to the same sound. Drawn at random instead, as training would have moved them, the
    tiny decoder's sound depends on its latents, so words and seeds are heard, as with the real
    model."""
    import torch

    for name, param in vae.named_parameters():
        if param.ndim == 2 and name.endswith(("to_out.weight", "proj_out.weight")):
            with torch.no_grad():
                param.normal_(0.0, 0.5)
