"""The token layout a pair of trained tokenizers implies: code counts, and tokens a clip and an
image. The LM's cache, its training and the bundle all take the layout from here, so an LM is
always built for the tokenizers its data came from."""

from __future__ import annotations

from torch import nn

from reelpoet.sdk.token_layout import TokenLayout

FPS = 8  # every training clip (world, photos, user video) is sampled at 8 fps (DESIGN.md)


def layout_for(video: nn.Module, audio: nn.Module) -> TokenLayout:
    t, h, w = video.cfg.latent_shape
    clip_seconds = video.cfg.num_frames / FPS
    audio_frames = -(-round(clip_seconds * audio.cfg.sample_rate) // audio.cfg.hop)
    return TokenLayout(
        video_codes=2**video.cfg.codebook_bits,
        video_tokens_per_clip=t * h * w,
        video_tokens_per_image=h * w,
        audio_codes=audio.cfg.codebook_size,
        audio_levels=audio.cfg.num_levels,
        audio_tokens_per_clip=audio_frames * audio.cfg.num_levels,
    )
