"""Reference numbers for Loom's GLIGEN: ComfyUI's own comfy/gligen.py run on the tiny GLIGEN weights of
tests/fixtures/gligen_file.py. For two boxes on a 2 x 4 x 8 x 8 latent (and for no boxes) it records what
the middle patch returns at every transformer index for seeded image tokens.

Run with ComfyUI's venv: python tools/comfy_reference/gligen_reference.py /path/to/ComfyUI
Writes tests/gligen/data/gligen_reference.safetensors. ComfyUI pads phrase slots with key_dim-wide zeros,
which equals the phrase width only in the released files; the padded inputs are built here in the same
way at the tiny phrase width and handed to ComfyUI's Gligen._set_position.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loom_fixture import REPO, comfy_on_cpu, load_fixture

LATENT = (2, 4, 8, 8)
BOXES = ((4, 4, 0, 2), (3, 5, 4, 1))  # (h, w, y, x) in latent pixels
TOKENS = {32: 64, 64: 16}  # transformer width -> image tokens at that UNet level for an 8 x 8 latent


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
    target = REPO / "tests/gligen/data/gligen_reference.safetensors"
    save_file({k: v.contiguous() for k, v in out.items()}, str(target))
    print(f"wrote {target} ({len(out)} arrays)")


if __name__ == "__main__":
    main(sys.argv[1])
