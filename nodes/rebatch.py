"""Rebatching: regroup a list of image or latent batches into batches of a given size (output lists, so the
downstream nodes run once per batch). ComfyUI's RebatchImages / RebatchLatents, same grouping."""

from typing import Annotated

import torch
from pydantic import Field

from engine.graph.native import Node, Out, Socket, node


@node(category="image/batch", display_name="Rebatch Images", input_is_list=True, outputs=[Out("IMAGE", is_list=True)])
class RebatchImages(Node):
    """All images of all incoming batches, in order, regrouped `batch_size` at a time (the last group may
    be smaller)."""

    images: Annotated[object, Socket("IMAGE")]
    batch_size: int = Field(1, ge=1, le=4096)

    def run(self, ctx):
        size = self.batch_size[0]
        singles = [batch[i:i + 1] for batch in self.images for i in range(batch.shape[0])]
        return ([torch.cat(singles[i:i + size], dim=0) for i in range(0, len(singles), size)],)


def _parts(latent: dict, offset: int) -> tuple[torch.Tensor, torch.Tensor, list]:
    """(samples, noise mask at pixel size, batch indices) of one incoming latent."""
    samples = latent["samples"]
    batch = samples.shape[0]
    mask = latent.get("noise_mask")
    if mask is None:
        mask = torch.ones((batch, 1, samples.shape[2] * 8, samples.shape[3] * 8))
    if mask.shape[0] < batch:
        mask = mask.repeat((batch - 1) // mask.shape[0] + 1, 1, 1, 1)[:batch]
    return samples, mask, latent.get("batch_index", [offset + i for i in range(batch)])


def _latent(samples: torch.Tensor, mask: torch.Tensor, indices: list) -> dict:
    out = {"samples": samples, "noise_mask": mask, "batch_index": indices}
    if mask.mean() == 1.0:
        del out["noise_mask"]
    return out


@node(category="latent/batch", display_name="Rebatch Latents", input_is_list=True,
      outputs=[Out("LATENT", is_list=True)])
class RebatchLatents(Node):
    """Regroup latents `batch_size` at a time, keeping noise masks and batch indices (so seeds are kept);
    latents of a different size start a new group."""

    latents: Annotated[object, Socket("LATENT")]
    batch_size: int = Field(1, ge=1, le=4096)

    def run(self, ctx):
        size = self.batch_size[0]
        out: list[dict] = []
        pending: tuple | None = None
        seen = 0
        for latent in self.latents:
            samples, mask, indices = _parts(latent, seen)
            seen += len(indices)
            if pending is not None and samples.shape[-2:] != pending[0].shape[-2:]:
                out.append(_latent(pending[0][:size], pending[1][:size], pending[2][:size]))
                pending = None
            if pending is None:
                pending = (samples, mask, indices)
            else:
                pending = (torch.cat((pending[0], samples)), torch.cat((pending[1], mask)), pending[2] + indices)
            while pending[0].shape[0] > size:
                out.append(_latent(pending[0][:size], pending[1][:size], pending[2][:size]))
                pending = (pending[0][size:], pending[1][size:], pending[2][size:])
        if pending is not None:
            out.append(_latent(pending[0][:size], pending[1][:size], pending[2][:size]))
        return (out,)


