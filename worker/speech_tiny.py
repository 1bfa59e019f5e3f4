"""A tiny, randomly initialised Dia text-to-speech model: the real transformers classes on a CPU.

`DiaForConditionalGeneration` (a byte-level text encoder, a decoder over nine DAC codebooks with
Dia's delay pattern) and the `DiaProcessor` with its DAC audio codec, every weight drawn from a
fixed seed in code: nothing is downloaded, ever. Its speech is noise, but every part of a typed
line's voicing is real (the byte tokenizer, the encoder, sampling nine codebooks token by token,
the DAC decode to 44.1 kHz), which is what the tests, CI and the local stack need. The DAC keeps
a real hop (256 samples a token: 172 tokens a second).
"""

from __future__ import annotations

from typing import Any

SAMPLE_RATE = 44_100  # Dia's (DAC 44 kHz), and one AAC takes as it is
DELAY_PATTERN = [0, 8, 9, 10, 11, 12, 13, 14, 15]  # Dia-1.6B's


def build_tiny_speech() -> tuple[Any, Any]:
    """(DiaForConditionalGeneration, DiaProcessor), the same in every process."""
    from transformers import (
        DacConfig,
        DacFeatureExtractor,
        DacModel,
        DiaConfig,
        DiaForConditionalGeneration,
        DiaProcessor,
        DiaTokenizer,
    )

    from worker.backends.common import seeded_build

    with seeded_build(0):
        codec: Any = DacModel(
            DacConfig(
                encoder_hidden_size=8,
                downsampling_ratios=[2, 4, 4, 8],  # 256 samples a token
                decoder_hidden_size=16,
                n_codebooks=len(DELAY_PATTERN),
                codebook_size=1024,
                codebook_dim=4,
                sampling_rate=SAMPLE_RATE,
            )
        )
        encoder = {
            "num_hidden_layers": 1,
            "hidden_size": 16,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "head_dim": 8,
            "intermediate_size": 32,
            "vocab_size": 256,
        }
        decoder = {
            "num_hidden_layers": 1,
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 8,
            "cross_num_attention_heads": 2,
            "cross_head_dim": 8,
            "cross_num_key_value_heads": 2,
            "cross_hidden_size": 16,
            "vocab_size": 1028,
            "num_channels": len(DELAY_PATTERN),
        }
        model: Any = DiaForConditionalGeneration(
            DiaConfig(encoder_config=encoder, decoder_config=decoder, delay_pattern=DELAY_PATTERN)
        )
    for module in (codec, model):
        module.eval()
    extractor = DacFeatureExtractor(sampling_rate=SAMPLE_RATE, hop_length=codec.config.hop_length)
    processor = DiaProcessor(
        feature_extractor=extractor, tokenizer=DiaTokenizer(), audio_tokenizer=codec
    )
    return model, processor
