"""Reference numbers for Loom's PhotoMaker ID encoder: ComfyUI's comfy_extras/nodes_photomaker.py module
run on the tiny weights of tests/fixtures/photomaker_file.py (FULL_WIDTH: the widths ComfyUI hard-codes;
its tower config is narrowed to the fixture's one layer and MLP width; weights kept in float32).

Run with ComfyUI's venv: python tools/comfy_reference/photomaker_reference.py /path/to/ComfyUI
Writes tests/gligen/data/photomaker_reference.safetensors: a 32 x 24 picture, a 5-token prompt embedding,
the class-word position and ComfyUI's fused prompt embedding.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loom_fixture import REPO, comfy_on_cpu, load_fixture

CLASS_TOKEN = 2


def main(comfy_path: str) -> None:
    comfy_on_cpu(comfy_path)
    import comfy.clip_vision
    import comfy.model_management
    from comfy_extras import nodes_photomaker

    # On a CPU ComfyUI stores text-encoder-class weights in float16; float32 here keeps the reference exact.
    comfy.model_management.text_encoder_dtype = lambda device=None: torch.float32

    fixture = load_fixture("photomaker_file")
    nodes_photomaker.VISION_CONFIG_DICT.update(num_hidden_layers=1, intermediate_size=fixture.MLP_WIDTH)
    encoder = nodes_photomaker.PhotoMakerIDEncoder()
    encoder.load_state_dict(fixture.tiny_photomaker_state_dict(fixture.FULL_WIDTH))
    gen = torch.Generator().manual_seed(5)
    image = torch.rand(1, 32, 24, 3, generator=gen)
    prompt = torch.randn(1, 5, 2048, generator=gen)
    mask = torch.zeros(1, 5, dtype=torch.bool)
    mask[0, CLASS_TOKEN] = True
    with torch.no_grad():
        pixels = comfy.clip_vision.clip_preprocess(image).float()
        fused = encoder(id_pixel_values=pixels.unsqueeze(0), prompt_embeds=prompt.clone(), class_tokens_mask=mask)
    out = {"image": image, "prompt": prompt, "class_token": torch.tensor([CLASS_TOKEN]), "fused": fused}
    target = REPO / "tests/gligen/data/photomaker_reference.safetensors"
    save_file({k: v.contiguous() for k, v in out.items()}, str(target))
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1])
