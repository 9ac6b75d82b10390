"""Alpha compositing nodes: Porter-Duff operators on image + mask pairs, and splitting / joining an image's
alpha channel. Masks here are inverted alpha (1 = transparent), as everywhere in ComfyUI; same numbers."""

from typing import Annotated

import torch
import torch.nn.functional as F

from engine.graph.native import Combo, Node, Out, Socket, node
from engine.image_resize import interpolate

PORTER_DUFF_MODES = ("ADD", "CLEAR", "DARKEN", "DST", "DST_ATOP", "DST_IN", "DST_OUT", "DST_OVER", "LIGHTEN",
                     "MULTIPLY", "OVERLAY", "SCREEN", "SRC", "SRC_ATOP", "SRC_IN", "SRC_OUT", "SRC_OVER", "XOR")


def _union(sa, da):
    return sa + da - sa * da


def _operator(mode: str, s, sa, d, da):
    """(colour, alpha) of one Porter-Duff mode on premultiplied colours s, d with alphas sa, da."""
    if mode == "ADD":
        return torch.clamp(s + d, 0, 1), torch.clamp(sa + da, 0, 1)
    if mode == "CLEAR":
        return torch.zeros_like(d), torch.zeros_like(da)
    if mode == "DARKEN":
        return (1 - da) * s + (1 - sa) * d + torch.min(s, d), _union(sa, da)
    if mode == "LIGHTEN":
        return (1 - da) * s + (1 - sa) * d + torch.max(s, d), _union(sa, da)
    if mode == "MULTIPLY":
        return s * d, sa * da
    if mode == "OVERLAY":
        return torch.where(2 * d < da, 2 * s * d, sa * da - 2 * (da - s) * (sa - d)), _union(sa, da)
    if mode == "SCREEN":
        return s + d - s * d, _union(sa, da)
    if mode == "XOR":
        return (1 - da) * s + (1 - sa) * d, (1 - da) * sa + (1 - sa) * da
    if mode.startswith("DST"):  # the SRC_* rule with the roles swapped
        image, alpha = _operator("SRC" + mode[3:], d, da, s, sa)
        return image, alpha
    rules = {
        "SRC": lambda: (s, sa),
        "SRC_ATOP": lambda: (da * s + (1 - sa) * d, da),
        "SRC_IN": lambda: (s * da, sa * da),
        "SRC_OUT": lambda: ((1 - da) * s, (1 - da) * sa),
        "SRC_OVER": lambda: (s + (1 - sa) * d, sa + (1 - sa) * da),
    }
    return rules[mode]()


def porter_duff(src: torch.Tensor, src_mask: torch.Tensor, dst: torch.Tensor, dst_mask: torch.Tensor,
                mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Composite [H,W,C] images with [H,W,1] masks; returns the straight-alpha image and its mask."""
    sa, da = 1 - src_mask, 1 - dst_mask
    image, alpha = _operator(mode, src * sa, sa, dst * da, da)
    image = torch.clamp(torch.where(alpha > 1e-5, image / alpha, torch.zeros_like(image)), 0, 1)
    return image, 1 - alpha


def _fit(hwc: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """[H,W,C] resized (bicubic, centre crop) to height x width."""
    return interpolate(hwc.unsqueeze(0).permute(0, 3, 1, 2), width, height, "bicubic", "center").permute(0, 2, 3, 1)[0]


@node(category="mask/compositing", display_name="Porter-Duff Image Composite", outputs=[Out("IMAGE"), Out("MASK")])
class PorterDuffImageComposite(Node):
    """Composite source over destination with one of the Porter-Duff operators; sizes follow destination."""

    source: Annotated[object, Socket("IMAGE")]
    source_alpha: Annotated[object, Socket("MASK")]
    destination: Annotated[object, Socket("IMAGE")]
    destination_alpha: Annotated[object, Socket("MASK")]
    mode: Annotated[str, Combo(PORTER_DUFF_MODES)] = "DST"

    def run(self, ctx):
        count = min(len(self.source), len(self.source_alpha), len(self.destination), len(self.destination_alpha))
        images, masks = [], []
        for i in range(count):
            src, dst = self.source[i], self.destination[i]
            if src.shape[2] != dst.shape[2]:
                raise ValueError(f"PorterDuffImageComposite: source has {src.shape[2]} channels, destination "
                                 f"{dst.shape[2]}; they must match")
            src_mask, dst_mask = self.source_alpha[i].unsqueeze(2), self.destination_alpha[i].unsqueeze(2)
            if dst_mask.shape[:2] != dst.shape[:2]:
                dst_mask = _fit(dst_mask, dst.shape[0], dst.shape[1])
            if src.shape != dst.shape:
                src = _fit(src, dst.shape[0], dst.shape[1])
            if src_mask.shape != dst_mask.shape:
                src_mask = _fit(src_mask, dst_mask.shape[0], dst_mask.shape[1])
            image, mask = porter_duff(src, src_mask, dst, dst_mask, self.mode)
            images.append(image)
            masks.append(mask.squeeze(2))
        return (torch.stack(images), torch.stack(masks))


@node(category="mask/compositing", display_name="Split Image with Alpha", outputs=[Out("IMAGE"), Out("MASK")])
class SplitImageWithAlpha(Node):
    """RGB and the mask (1 - alpha; zeros for an image without alpha)."""

    image: Annotated[object, Socket("IMAGE")]

    def run(self, ctx):
        alpha = [i[:, :, 3] if i.shape[2] > 3 else torch.ones_like(i[:, :, 0]) for i in self.image]
        return (torch.stack([i[:, :, :3] for i in self.image]), 1.0 - torch.stack(alpha))


@node(category="mask/compositing", display_name="Join Image with Alpha", outputs=[Out("IMAGE")])
class JoinImageWithAlpha(Node):
    """RGBA from an image and a mask (alpha = 1 - mask, resized bilinearly to the image)."""

    image: Annotated[object, Socket("IMAGE")]
    alpha: Annotated[object, Socket("MASK")]

    def run(self, ctx):
        mask = self.alpha.reshape((-1, 1, self.alpha.shape[-2], self.alpha.shape[-1]))
        alpha = 1.0 - F.interpolate(mask, size=tuple(self.image.shape[1:3]), mode="bilinear").squeeze(1)
        count = min(len(self.image), len(self.alpha))
        return (torch.stack([torch.cat((self.image[i][:, :, :3], alpha[i].unsqueeze(2)), dim=2)
                             for i in range(count)]),)
