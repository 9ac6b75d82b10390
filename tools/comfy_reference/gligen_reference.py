"""Reference numbers for Loom's GLIGEN: ComfyUI's own comfy/gligen.py run on the tiny GLIGEN weights of
tests/fixtures/gligen_file.py. For two boxes on a 2 x 4 x 8 x 8 latent (and for no boxes) it records what
the middle patch returns at every transformer index for seeded image tokens, and ComfyUI's whole tiny
SD1.5 UNet with each patch.

Run with ComfyUI's venv: python tools/comfy_reference/gligen_reference.py /path/to/ComfyUI
Writes tests/gligen/data/gligen_reference.safetensors. ComfyUI pads phrase slots with key_dim-wide zeros,
which equals the phrase width only in the released files; the padded inputs are built here in the same
way at the tiny phrase width and handed to ComfyUI's Gligen._set_position.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loom_fixture import REPO, comfy_on_cpu, load_fixture, use_loom_tests

LATENT = (2, 4, 8, 8)
BOXES = ((4, 4, 0, 2), (3, 5, 4, 1))  # (h, w, y, x) in latent pixels
TOKENS = {32: 64, 64: 16}  # transformer width -> image tokens at that UNet level for an 8 x 8 latent


def unet_outputs(comfy_path: str, patches: dict) -> dict[str, torch.Tensor]:
    """ComfyUI's UNet on the tiny SD1.5 weights and the inputs of unet_patches_reference.py, with each
    GLIGEN patch as its "middle_patch" (the boxes are relative, so they fit the 16 x 16 latent too)."""
    use_loom_tests()
    from unet_patches_reference import PREFIX, comfy_unet, inputs

    from tests.fixtures.checkpoints import make_tiny_checkpoint

    with tempfile.TemporaryDirectory() as folder:
        state = load_file(str(make_tiny_checkpoint("sd15", Path(folder) / "sd15.safetensors")))
    unet = comfy_unet(Path(comfy_path), {k[len(PREFIX):]: v for k, v in state.items() if k.startswith(PREFIX)})
    data = inputs()
    out = {}
    for name, patch in patches.items():
        options = {"patches": {"middle_patch": [patch]}, "cond_or_uncond": [0, 1], "sigmas": data["sigmas"]}
        with torch.no_grad():
            out[f"unet.{name}"] = unet(data["x"], data["timesteps"], data["context"], transformer_options=options)
    return out


def main(comfy_path: str) -> None:
    comfy_on_cpu(comfy_path)
    import comfy.gligen
    fixture = load_fixture("gligen_file")
    phrase_dim, transformers = fixture.PHRASE_DIM, fixture.TINY_SD15_TRANSFORMERS

    gligen = comfy.gligen.load_gligen(fixture.tiny_gligen_state_dict())
    slots = gligen.max_objs
    gen = torch.Generator().manual_seed(7)
    out = {"phrases": torch.randn(len(BOXES), phrase_dim, generator=gen)}
    batch, _, height, width = LATENT
    boxes, masks = torch.zeros(slots, 4), torch.zeros(slots)
    phrases = torch.zeros(slots, phrase_dim)
    for i, (h, w, y, x) in enumerate(BOXES):
        boxes[i] = torch.tensor((x / width, y / height, (x + w) / width, (y + h) / height))
        masks[i], phrases[i] = 1.0, out["phrases"][i]
    with torch.no_grad():
        position = gligen._set_position(boxes.repeat(batch, 1, 1), masks.repeat(batch, 1), phrases.repeat(batch, 1, 1))
        empty = gligen._set_position(torch.zeros(batch, slots, 4), torch.zeros(batch, slots),
                                     torch.zeros(batch, slots, phrase_dim))
        for index, (_, dim) in enumerate(transformers):
            tokens = torch.randn(batch, TOKENS[dim], dim, generator=gen)
            out[f"x.{index}"] = tokens
            out[f"position.{index}"] = position(tokens, {"transformer_index": index})
            out[f"empty.{index}"] = empty(tokens, {"transformer_index": index})
        out |= unet_outputs(comfy_path, {"position": position, "empty": empty})
    target = REPO / "tests/gligen/data/gligen_reference.safetensors"
    save_file({k: v.contiguous() for k, v in out.items()}, str(target))
    print(f"wrote {target} ({len(out)} arrays)")


if __name__ == "__main__":
    main(sys.argv[1])
