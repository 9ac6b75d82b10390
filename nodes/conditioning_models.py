"""Conditioning nodes that prepare inputs for particular model kinds (ComfyUI's InpaintModelConditioning,
InstructPixToPixConditioning, SD_4XUpscale_Conditioning, CLIPTextEncodeControlnet, T5TokenizerOptions).

They set the options ComfyUI's models read: `concat_latent_image` / `concat_mask` (inpainting and
InstructPix2Pix UNets take them as extra input channels), `concat_image` + `noise_augmentation` (the x4
upscaler), `cross_attn_controlnet` / `pooled_output_controlnet` (ControlNets with their own text).
"""

from __future__ import annotations

from typing import Annotated

import torch
import torch.nn.functional as F
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.image_resize import interpolate
from nodes.model_files import model_manager
from nodes.text_encode import encode
from nodes.vae_nodes import crop_to_grid, vae_encode


def with_options(conditioning: list, **options) -> list:
    """A copy of the conditioning with `options` set on every entry."""
    return [[embedding, {**extra, **options}] for embedding, extra in conditioning]


@node(category="conditioning/inpaint", display_name="InpaintModelConditioning",
      outputs=[Out("CONDITIONING", "positive"), Out("CONDITIONING", "negative"), Out("LATENT", "latent")])
class InpaintModelConditioning(Node):
    """Inpaint with any model: the latent of the whole image (with the mask as noise mask), and for
    inpainting models the masked image's latent and the mask as extra UNet input."""

    positive: Annotated[object, Socket("CONDITIONING")]
    negative: Annotated[object, Socket("CONDITIONING")]
    vae: Annotated[object, Socket("VAE")]
    pixels: Annotated[object, Socket("IMAGE")]
    mask: Annotated[object, Socket("MASK")]
    noise_mask: Annotated[bool, Widget(tooltip="Keep the unmasked area: sample only inside the mask.")] = True

    def run(self, ctx):
        pixels, manager = self.pixels, model_manager(ctx)
        mask = F.interpolate(self.mask.reshape(-1, 1, *self.mask.shape[-2:]), size=pixels.shape[1:3],
                             mode="bilinear")
        cell = self.vae.downscale
        cropped, mask = crop_to_grid(pixels, cell), crop_to_grid(mask.movedim(1, -1), cell).movedim(-1, 1)
        keep = (1.0 - mask.round()).squeeze(1)[..., None]
        masked = (cropped[..., :3] - 0.5) * keep + 0.5
        latent = {"samples": vae_encode(manager, self.vae, pixels)}
        if self.noise_mask:
            latent["noise_mask"] = mask
        options = {"concat_latent_image": vae_encode(manager, self.vae, masked), "concat_mask": mask}
        return (with_options(self.positive, **options), with_options(self.negative, **options), latent)


@node(category="conditioning/instructpix2pix", display_name="InstructPixToPixConditioning",
      outputs=[Out("CONDITIONING", "positive"), Out("CONDITIONING", "negative"), Out("LATENT", "latent")])
class InstructPixToPixConditioning(Node):
    """InstructPix2Pix: the image to edit goes to the UNet as an extra latent input; sampling starts from
    an empty latent of its size."""

    positive: Annotated[object, Socket("CONDITIONING")]
    negative: Annotated[object, Socket("CONDITIONING")]
    vae: Annotated[object, Socket("VAE")]
    pixels: Annotated[object, Socket("IMAGE")]

    def run(self, ctx):
        concat = vae_encode(model_manager(ctx), self.vae, self.pixels)
        return (with_options(self.positive, concat_latent_image=concat),
                with_options(self.negative, concat_latent_image=concat), {"samples": torch.zeros_like(concat)})


@node(category="conditioning/upscale_diffusion", display_name="SD_4XUpscale_Conditioning",
      outputs=[Out("CONDITIONING", "positive"), Out("CONDITIONING", "negative"), Out("LATENT", "latent")])
class SD_4XUpscale_Conditioning(Node):
    """Stable Diffusion x4 upscaler inputs: the low-resolution image (-1..1, at a quarter of the target
    size) with its noise augmentation, and an empty latent of that size."""

    images: Annotated[object, Socket("IMAGE")]
    positive: Annotated[object, Socket("CONDITIONING")]
    negative: Annotated[object, Socket("CONDITIONING")]
    scale_ratio: Annotated[float, Widget(step=0.01)] = Field(4.0, ge=0.0, le=10.0)
    noise_augmentation: Annotated[float, Widget(step=0.001)] = Field(0.0, ge=0.0, le=1.0)

    def run(self, ctx):
        width = max(1, round(self.images.shape[-2] * self.scale_ratio))
        height = max(1, round(self.images.shape[-3] * self.scale_ratio))
        pixels = interpolate(self.images.movedim(-1, 1) * 2.0 - 1.0, width // 4, height // 4, "bilinear", "center")
        options = {"concat_image": pixels, "noise_augmentation": self.noise_augmentation}
        latent = torch.zeros([self.images.shape[0], 4, height // 4, width // 4])
        return (with_options(self.positive, **options), with_options(self.negative, **options), {"samples": latent})


@node(category="_for_testing/conditioning", display_name="CLIPTextEncodeControlnet", outputs=[Out("CONDITIONING")])
class CLIPTextEncodeControlnet(Node):
    """Give ControlNets their own prompt: its encoding rides on the conditioning for the ControlNet only."""

    clip: Annotated[object, Socket("CLIP")]
    conditioning: Annotated[object, Socket("CONDITIONING")]
    text: Annotated[str, Widget(multiline=True, dynamicPrompts=True)]

    def run(self, ctx):
        [[cond, options]] = encode(ctx, self.clip, lambda encoder: encoder.tokenize(self.text))
        pooled = options["pooled_output"]
        return (with_options(self.conditioning, cross_attn_controlnet=cond, pooled_output_controlnet=pooled),)


@node(category="_for_testing/conditioning", display_name="T5TokenizerOptions", outputs=[Out("CLIP")])
class T5TokenizerOptions(Node):
    """Padding options for T5 tokenizers; the text encoders of the families Loom runs have none, so the
    CLIP passes through unchanged (as in ComfyUI for these families)."""

    clip: Annotated[object, Socket("CLIP")]
    min_padding: Annotated[int, Widget(step=1)] = Field(0, ge=0, le=10000)
    min_length: Annotated[int, Widget(step=1)] = Field(0, ge=0, le=10000)

    def run(self, ctx):
        return (self.clip,)
