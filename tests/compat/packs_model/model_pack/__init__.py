"""A node pack using ComfyUI's model-level modules the way packs do: it registers a sampler through
comfy.samplers / comfy.k_diffusion, loads a checkpoint with comfy.sd, encodes with nodes.VAEEncode and
previews with latent_preview."""

from .nodes import NODE_CLASS_MAPPINGS
from .sampler import SAMPLER_NAME, calls

__all__ = ["NODE_CLASS_MAPPINGS", "SAMPLER_NAME", "calls"]
