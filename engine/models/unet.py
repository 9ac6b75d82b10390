"""The latent-diffusion UNet (SD1.x, SD2.x, SDXL base/refiner) in the single-file checkpoint's key layout.

State-dict keys equal a real file's `model.diffusion_model.*` keys with that prefix removed. Every size
comes from `UNetConfig`, which engine.models.detect infers from tensor shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.memory_tiers import compute_dtype
from engine.models.blocks import (
    Downsample,
    ResBlock,
    TimestepSequential,
    Upsample,
    group_norm,
    timestep_embedding,
)
from engine.models.compile import compiled
from engine.models.transformer import SpatialTransformer
from engine.models.wrappers import DIFFUSION_MODEL, WrapperExecutor, wrappers_of


@dataclass(frozen=True)
class UNetConfig:
    """Sizes of a UNet. Depth lists hold one entry per ResBlock (0 = no transformer after it).

    Attention heads: exactly one of `num_heads` (a fixed count: SD1 uses 8) or `num_head_channels`
    (a fixed head width: SD2/SDXL use 64) is set; see `attention_heads`.
    """

    in_channels: int
    out_channels: int
    model_channels: int
    channel_mult: tuple[int, ...]
    num_res_blocks: tuple[int, ...]
    transformer_depth: tuple[int, ...]
    transformer_depth_middle: int
    transformer_depth_output: tuple[int, ...]
    context_dim: int | None
    num_heads: int | None = None
    num_head_channels: int | None = None
    use_linear_in_transformer: bool = False
    adm_in_channels: int | None = None

    def __post_init__(self) -> None:
        if len(self.num_res_blocks) != len(self.channel_mult):
            raise ValueError("num_res_blocks needs one entry per channel_mult level")
        if len(self.transformer_depth) != sum(self.num_res_blocks):
            raise ValueError("transformer_depth needs one entry per input ResBlock")
        if len(self.transformer_depth_output) != sum(n + 1 for n in self.num_res_blocks):
            raise ValueError("transformer_depth_output needs one entry per output ResBlock")
        if (self.num_heads is None) == (self.num_head_channels is None):
            raise ValueError("set exactly one of num_heads and num_head_channels")

    @property
    def time_embed_dim(self) -> int:
        return self.model_channels * 4

    def attention_heads(self, channels: int) -> tuple[int, int]:
        """(heads, head width) for a transformer of `channels` width.

        With a fixed head width that does not divide `channels` (tiny test models narrower than 64),
        the block uses one head as wide as the block, so any width builds.
        """
        if self.num_heads is not None:
            return self.num_heads, channels // self.num_heads
        width = self.num_head_channels
        if channels % width:
            return 1, channels
        return channels // width, width


def _apply_control(h: torch.Tensor, control: dict[str, list], name: str) -> torch.Tensor:
    """Add the next residual of control[name], consumed from the end of the list (ComfyUI order)."""
    residuals = control.get(name)
    if residuals:
        residual = residuals.pop()
        if residual is not None:
            h = h + residual.to(h.dtype)
    return h


def _run_patches(patches: dict, point: str, h: torch.Tensor, transformer_options: dict) -> torch.Tensor:
    """ComfyUI block patches at one point: each maps (h, transformer_options) -> h."""
    for patch in patches.get(point, ()):
        h = patch(h, transformer_options)
    return h


class UNetEncoder(nn.Module):
    """The UNet's first half: time (and label) embedding, input blocks and middle block.

    Shared by UNetModel and the ControlNet (which copies exactly this half); `skip_channels` lists the
    width of every input block's output, in order. Subclasses swap blocks via `make_res_block` and
    `make_transformer` (the video UNet adds time mixing there).
    """

    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = config
        mc, ted = config.model_channels, config.time_embed_dim
        self.time_embed = nn.Sequential(nn.Linear(mc, ted), nn.SiLU(), nn.Linear(ted, ted))
        if config.adm_in_channels:
            self.label_emb = nn.Sequential(
                nn.Sequential(nn.Linear(config.adm_in_channels, ted), nn.SiLU(), nn.Linear(ted, ted))
            )
        self.input_blocks = nn.ModuleList([TimestepSequential(nn.Conv2d(config.in_channels, mc, 3, padding=1))])
        self.skip_channels, ch = [mc], mc
        depths = iter(config.transformer_depth)
        last_level = len(config.channel_mult) - 1
        for level, mult in enumerate(config.channel_mult):
            for _ in range(config.num_res_blocks[level]):
                layers = [self.make_res_block(ch, mc * mult)]
                ch = mc * mult
                layers += self.maybe_transformer(ch, next(depths))
                self.input_blocks.append(TimestepSequential(*layers))
                self.skip_channels.append(ch)
            if level != last_level:
                self.input_blocks.append(TimestepSequential(Downsample(ch)))
                self.skip_channels.append(ch)
        middle = [self.make_res_block(ch, ch), *self.maybe_transformer(ch, config.transformer_depth_middle)]
        self.middle_block = TimestepSequential(*middle, self.make_res_block(ch, ch))

    def make_res_block(self, channels: int, out_channels: int) -> nn.Module:
        """One ResBlock; the video UNet overrides this to add time mixing."""
        return ResBlock(channels, self.config.time_embed_dim, out_channels)

    def make_transformer(self, channels: int, depth: int) -> nn.Module:
        """One spatial transformer; the video UNet overrides this to add temporal attention."""
        heads, dim_head = self.config.attention_heads(channels)
        cfg = self.config
        return SpatialTransformer(channels, heads, dim_head, depth, cfg.context_dim, cfg.use_linear_in_transformer)

    def maybe_transformer(self, channels: int, depth: int) -> list[nn.Module]:
        """[transformer] when `depth` > 0, else []."""
        return [self.make_transformer(channels, depth)] if depth else []

    def embed(self, timesteps: torch.Tensor, y: torch.Tensor | None = None, emb_patches=(),
              transformer_options: dict | None = None) -> torch.Tensor:
        """The time embedding (through any ComfyUI "emb_patch"), plus the label embedding of `y` for
        SDXL-class models."""
        dtype = compute_dtype(self)
        emb = self.time_embed(timestep_embedding(timesteps, self.config.model_channels).to(dtype))
        for patch in emb_patches:
            emb = patch(emb, self.config.model_channels, transformer_options)
        if self.config.adm_in_channels:
            if y is None:
                raise ValueError("this UNet has a label embedding (SDXL): pass its vector input y")
            emb = emb + self.label_emb(y.to(dtype))
        return emb


class UNetModel(UNetEncoder):
    """Noise/velocity predictor: forward(x, timesteps, context, y=None, control=None, transformer_options=None).

    `control` holds ControlNet/adapter residual lists {"input", "middle", "output"}, applied like ComfyUI:
    each list is consumed from its end, "input" after each input block, "middle" after the middle block,
    "output" to each skip connection as the decoder takes it (so "output" is in input-block order).
    The caller's lists are left untouched.

    `transformer_options` carries ComfyUI's model patches and per-call facts; ComfyUI's patch points are
    honoured in the same places: "emb_patch" after the time embedding, "input_block_patch" after each input
    block (and its control residual), "input_block_patch_after_skip" after the skip is saved,
    "middle_block_patch" after the middle block, "output_block_patch" on (h, skip) before each output block,
    and the attention points inside every transformer block (engine.models.attention_patches). The blocks
    see "block" (("input"|"middle"|"output", id)), "transformer_index", "original_shape" and every key the
    caller set (cond_or_uncond, sigmas, ...); the caller's dict itself is not changed.
    """

    def __init__(self, config: UNetConfig):
        super().__init__(config)
        mc = config.model_channels
        skips, ch = list(self.skip_channels), self.skip_channels[-1]
        self.output_blocks = nn.ModuleList()
        depths = iter(config.transformer_depth_output)
        for level, mult in reversed(list(enumerate(config.channel_mult))):
            for i in range(config.num_res_blocks[level] + 1):
                layers = [self.make_res_block(ch + skips.pop(), mc * mult)]
                ch = mc * mult
                layers += self.maybe_transformer(ch, next(depths))
                if level and i == config.num_res_blocks[level]:
                    layers.append(Upsample(ch))
                self.output_blocks.append(TimestepSequential(*layers))
        self.out = nn.Sequential(group_norm(ch), nn.SiLU(inplace=True), nn.Conv2d(mc, config.out_channels, 3, padding=1))

    def forward(
        self,
        x: torch.Tensor,
        timesteps: torch.Tensor,
        context: torch.Tensor | None = None,
        y: torch.Tensor | None = None,
        control: dict[str, list] | None = None,
        transformer_options: dict | None = None,
    ) -> torch.Tensor:
        """ComfyUI "diffusion_model" wrappers in transformer_options wrap this call (engine.models.wrappers);
        with `--torch-compile` the wrapped body is the compiled one (engine.models.compile)."""
        body = compiled(self, "forward", self._forward)
        wrappers = wrappers_of(transformer_options, DIFFUSION_MODEL)
        if wrappers:
            return WrapperExecutor(body, self, wrappers).execute(x, timesteps, context, y, control, transformer_options)
        return body(x, timesteps, context, y, control, transformer_options)

    def _forward(self, x: torch.Tensor, timesteps: torch.Tensor, context: torch.Tensor | None = None,
                 y: torch.Tensor | None = None, control: dict[str, list] | None = None,
                 transformer_options: dict | None = None) -> torch.Tensor:
        opts = {**(transformer_options or {}), "original_shape": list(x.shape), "transformer_index": 0}
        patches = opts.get("patches", {})
        emb = self.embed(timesteps, y, patches.get("emb_patch", ()), opts)
        control = {name: list(values) for name, values in (control or {}).items()}
        h, skips = x, []
        for index, block in enumerate(self.input_blocks):
            opts["block"] = ("input", index)
            h = _apply_control(block(h, emb, context, opts), control, "input")
            h = _run_patches(patches, "input_block_patch", h, opts)
            skips.append(h)
            h = _run_patches(patches, "input_block_patch_after_skip", h, opts)
        opts["block"] = ("middle", 0)
        h = _apply_control(self.middle_block(h, emb, context, opts), control, "middle")
        h = _run_patches(patches, "middle_block_patch", h, opts)
        for index, block in enumerate(self.output_blocks):
            opts["block"] = ("output", index)
            skip = _apply_control(skips.pop(), control, "output")
            for patch in patches.get("output_block_patch", ()):
                h, skip = patch(h, skip, opts)
            h = block(torch.cat([h, skip], dim=1), emb, context, opts,
                      output_size=skips[-1].shape[-2:] if skips else None)
        return self.out(h.to(x.dtype))
