"""Stable Video Diffusion's VideoUNet: the SD2-style UNet with temporal layers, in the `model.diffusion_model.*`
key layout of svd.safetensors (keys without that prefix).

Frames travel as the batch ([videos * frames, C, h, w]). Every ResBlock is paired with a `time_stack`
ResBlock of [3,1,1] convs over frames, every spatial transformer with temporal transformer blocks, and a
learned `time_mixer.mix_factor` blends the two (alpha = sigmoid(mix_factor) on the spatial side; frames
flagged in `image_only_indicator` stay purely spatial). The frame count and indicator reach the blocks
through `transformer_options`.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.models.blocks import ResBlock, group_norm, timestep_embedding
from engine.models.transformer import BasicTransformerBlock, FeedForward, SpatialTransformer
from engine.models.unet import UNetModel

FRAMES = "num_video_frames"
INDICATOR = "image_only_indicator"
TEMPORAL_CHUNK = "temporal_chunk_bytes"
# Upper bound for one chunk of temporal-block activations (positions processed together).
TEMPORAL_CHUNK_BYTES = 1 << 28


class TimeMixer(nn.Module):
    """Learned blend of a spatial and a temporal result (sgm AlphaBlender, "learned_with_images")."""

    def __init__(self):
        super().__init__()
        self.mix_factor = nn.Parameter(torch.tensor([0.5]))

    def forward(self, spatial: torch.Tensor, temporal: torch.Tensor, indicator: torch.Tensor | None,
                frames: int) -> torch.Tensor:
        """Both inputs are frame-batched [(b t), ...]; `indicator` [b, t] (or broadcastable), 1 = image."""
        alpha = torch.sigmoid(self.mix_factor.float()).reshape(1, 1)
        if indicator is not None:
            flags = indicator.to(spatial.device).reshape(-1, frames if indicator.numel() > 1 else 1).bool()
            alpha = torch.where(flags, torch.ones_like(alpha), alpha)
        alpha = alpha.expand(spatial.shape[0] // frames, frames).reshape(-1, *([1] * (spatial.ndim - 1)))
        alpha = alpha.to(spatial.dtype)
        return alpha * spatial + (1.0 - alpha) * temporal


def video_options(opts: dict | None, batch: int) -> tuple[int, torch.Tensor | None]:
    """(frames per video, image-only indicator) from the UNet's per-call options; default one video."""
    opts = opts or {}
    return int(opts.get(FRAMES) or batch), opts.get(INDICATOR)


class TemporalResBlock(nn.Module):
    """ResBlock over frames: [3,1,1] convs on [b, C, t, h, w] with the per-frame time embedding added."""

    def __init__(self, channels: int, emb_channels: int, kernel: tuple[int, int, int] = (3, 1, 1)):
        super().__init__()
        padding = tuple(k // 2 for k in kernel)
        self.in_layers = nn.Sequential(group_norm(channels), nn.SiLU(), nn.Conv3d(channels, channels, kernel,
                                                                                  padding=padding))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, channels))
        self.out_layers = nn.Sequential(group_norm(channels), nn.SiLU(), nn.Dropout(0.0),
                                        nn.Conv3d(channels, channels, kernel, padding=padding))

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """x [b, C, t, h, w], emb [(b t), E]."""
        b, c, t = x.shape[:3]
        h = self.in_layers(x)
        h = h + self.emb_layers(emb).to(h.dtype).reshape(b, t, c).transpose(1, 2)[..., None, None]
        return x + self.out_layers(h)


class VideoResBlock(ResBlock):
    """A spatial ResBlock followed by a temporal one (`time_stack`), blended by `time_mixer`."""

    def __init__(self, channels: int, emb_channels: int, out_channels: int | None = None):
        super().__init__(channels, emb_channels, out_channels)
        self.time_stack = TemporalResBlock(out_channels or channels, emb_channels)
        self.time_mixer = TimeMixer()

    def forward(self, x: torch.Tensor, emb: torch.Tensor, transformer_options: dict | None = None) -> torch.Tensor:
        spatial = super().forward(x, emb)
        frames, indicator = video_options(transformer_options, x.shape[0])
        bt, c, h, w = spatial.shape
        video = spatial.reshape(bt // frames, frames, c, h, w).transpose(1, 2)
        temporal = self.time_stack(video, emb).transpose(1, 2).reshape(bt, c, h, w)
        return self.time_mixer(spatial, temporal, indicator, frames)


class VideoTransformerBlock(BasicTransformerBlock):
    """Attention across frames at each position: a pre-norm feed-forward (norm_in/ff_in) in front of the
    usual self-attention, cross-attention to the image embedding and feed-forward."""

    def __init__(self, dim: int, heads: int, dim_head: int, context_dim: int | None):
        super().__init__(dim, heads, dim_head, context_dim)
        self.norm_in = nn.LayerNorm(dim)
        self.ff_in = FeedForward(dim)

    def _run(self, x: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        return super().forward(x + self.ff_in(self.norm_in(x)), context)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None, frames: int,
                chunk_bytes: int = TEMPORAL_CHUNK_BYTES) -> torch.Tensor:
        """x [(b t), s, C] frame-batched tokens; context [b, n, D] (one per video) or None.

        Positions are processed in chunks whose widest activation (the 8x-wide GEGLU input) stays
        under `chunk_bytes`, so peak memory does not grow with the picture size.
        """
        bt, s, c = x.shape
        b = bt // frames
        seq = x.reshape(b, frames, s, c).transpose(1, 2).reshape(b * s, frames, c)
        ctx = None if context is None else context.repeat_interleave(s, dim=0)
        rows = max(1, chunk_bytes // (frames * c * 8 * x.element_size()))
        out = torch.cat([self._run(seq[i:i + rows], None if ctx is None else ctx[i:i + rows])
                         for i in range(0, b * s, rows)]) if rows < b * s else self._run(seq, ctx)
        return out.reshape(b, s, frames, c).transpose(1, 2).reshape(bt, s, c)


class SpatialVideoTransformer(SpatialTransformer):
    """Spatial transformer whose blocks are each followed by a temporal block on the same tokens (plus a
    learned frame-position embedding), the two blended by `time_mixer`. The temporal blocks attend to
    each video's first-frame context (sgm `use_spatial_context`)."""

    def __init__(self, channels: int, heads: int, dim_head: int, depth: int, context_dim: int | None,
                 use_linear: bool):
        super().__init__(channels, heads, dim_head, depth, context_dim, use_linear)
        inner = heads * dim_head
        self.time_stack = nn.ModuleList(
            VideoTransformerBlock(inner, heads, dim_head, context_dim) for _ in range(depth))
        self.time_pos_embed = nn.Sequential(nn.Linear(channels, channels * 4), nn.SiLU(),
                                            nn.Linear(channels * 4, channels))
        self.time_mixer = TimeMixer()

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                transformer_options: dict | None = None) -> torch.Tensor:
        b = x.shape[0]
        frames, indicator = video_options(transformer_options, b)
        chunk = (transformer_options or {}).get(TEMPORAL_CHUNK, TEMPORAL_CHUNK_BYTES)
        time_context = None if context is None else context[::frames]
        positions = torch.arange(frames, device=x.device).repeat(b // frames)
        frame_emb = self.time_pos_embed(timestep_embedding(positions, x.shape[1]).to(x.dtype))[:, None]
        tokens = self.to_tokens(x)
        for block, time_block in zip(self.transformer_blocks, self.time_stack):
            tokens = block(tokens, context)
            temporal = time_block(tokens + frame_emb, time_context, frames, chunk)
            tokens = self.time_mixer(tokens, temporal, indicator, frames)
        return self.from_tokens(tokens, x)


class VideoUNet(UNetModel):
    """SVD's denoiser: forward(x, timesteps, context, y, num_video_frames, image_only_indicator, ...).

    x [videos*frames, in_channels, h, w] (noisy latent and conditioning-frame latent concatenated),
    context [videos*frames, n, context_dim], y [videos*frames, adm] (fps, motion bucket, augmentation).
    """

    def make_res_block(self, channels: int, out_channels: int) -> nn.Module:
        return VideoResBlock(channels, self.config.time_embed_dim, out_channels)

    def make_transformer(self, channels: int, depth: int) -> nn.Module:
        heads, dim_head = self.config.attention_heads(channels)
        cfg = self.config
        return SpatialVideoTransformer(channels, heads, dim_head, depth, cfg.context_dim,
                                       cfg.use_linear_in_transformer)

    def forward(
        self,
        x: torch.Tensor,
        timesteps: torch.Tensor,
        context: torch.Tensor | None = None,
        y: torch.Tensor | None = None,
        control: dict[str, list] | None = None,
        transformer_options: dict | None = None,
        num_video_frames: int | torch.Tensor | None = None,
        image_only_indicator: torch.Tensor | None = None,
    ) -> torch.Tensor:
        frames = int(num_video_frames.reshape(-1)[0]) if torch.is_tensor(num_video_frames) else num_video_frames
        frames = frames or x.shape[0]
        if x.shape[0] % frames:
            raise ValueError(f"VideoUNet: batch {x.shape[0]} is not a whole number of {frames}-frame videos")
        opts = {**(transformer_options or {}), FRAMES: frames, INDICATOR: image_only_indicator}
        return super().forward(x, timesteps, context, y=y, control=control, transformer_options=opts)
