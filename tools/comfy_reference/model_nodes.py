"""Reference outputs of ComfyUI's model merging and conditioning math nodes, for tests/merging.

Runs ComfyUI itself (its nodes, its ModelPatcher, its unCLIP label function, ...) on small seeded inputs and
writes inputs and outputs to tests/merging/data/comfy_model_nodes.safetensors (tensors) and .json (non-tensor
conditioning options), plus the small hypernetwork and style-adapter files the cases use.
Run with ComfyUI's own environment:

    /work/ref/comfy_venv/bin/python tools/comfy_reference/model_nodes.py /path/to/ComfyUI
"""

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "tests" / "merging" / "data"
# UNet-like keys: SD1's two-digit blocks share prefixes with one-digit ones ("input_blocks.1." vs ".10.").
KEYS = ["time_embed.0.weight", "label_emb.0.0.weight", "input_blocks.0.0.weight", "input_blocks.1.0.in_layers.2.weight",
        "input_blocks.10.0.skip_connection.weight", "input_blocks.11.0.out_layers.3.bias",
        "middle_block.1.proj_in.weight",
        "output_blocks.2.1.conv.weight", "output_blocks.11.0.emb_layers.1.weight", "out.2.weight"]
MERGES = {
    "simple": ("ModelMergeSimple", {"ratio": 0.3}),
    "blocks": ("ModelMergeBlocks", {"input": 0.2, "middle": 0.5, "out": 0.9}),
    "subtract": ("ModelMergeSubtract", {"multiplier": 0.7}),
    "add": ("ModelMergeAdd", {}),
    "sd1": ("ModelMergeSD1", {"time_embed.": 0.1, "input_blocks.1.": 0.2, "input_blocks.10.": 0.8,
                              "middle_block.1.": 0.4, "out.": 0.6}),
    "sdxl": ("ModelMergeSDXL", {"time_embed.": 0.15, "input_blocks.1": 0.25, "output_blocks.2": 0.35, "out.": 0.45}),
}

# unCLIP cases: (strength, noise_augmentation, seed handed to the noise augmentor)
UNCLIP = {"plain": (1.0, 0.0, 32), "augmented": (0.7, 0.3, 5), "negative_strength": (-1.5, 0.9, 1234)}


def main(comfy: str) -> None:
    sys.path.insert(0, comfy)
    sys.argv = [sys.argv[0], "--cpu"]
    import comfy.options

    comfy.options.enable_args_parsing()
    import comfy.model_patcher
    import torch
    from comfy_extras import nodes_model_merging, nodes_model_merging_model_specific
    from safetensors.torch import save_file
    from torch import nn

    import nodes

    class Tree(nn.Module):
        """A module whose parameters are exactly the given state dict."""

        def __init__(self, sd):
            super().__init__()
            for key, value in sd.items():
                module, parts = self, key.split(".")
                for part in parts[:-1]:
                    if not hasattr(module, part):
                        module.add_module(part, nn.Module())
                    module = getattr(module, part)
                module.register_parameter(parts[-1], nn.Parameter(value.clone(), requires_grad=False))

    def patcher(sd):
        tree = Tree({"diffusion_model." + k: v for k, v in sd.items()})
        return comfy.model_patcher.ModelPatcher(tree, torch.device("cpu"), torch.device("cpu"))

    def weights(m):
        m.patch_model()
        return {k.removeprefix("diffusion_model."): v.clone() for k, v in m.model.state_dict().items()}

    gen = torch.Generator().manual_seed(1234)
    model1 = {k: torch.randn(4, 3, generator=gen) for k in KEYS}
    model2 = {k: torch.randn(4, 3, generator=gen) for k in KEYS}
    tensors = {f"model1/{k}": v for k, v in model1.items()} | {f"model2/{k}": v for k, v in model2.items()}
    mapping = nodes_model_merging.NODE_CLASS_MAPPINGS | nodes_model_merging_model_specific.NODE_CLASS_MAPPINGS
    for case, (name, inputs) in MERGES.items():
        node = mapping[name]()
        # ComfyUI's executor passes every widget, defaults included (ModelMergeBlocks falls back to the first)
        widgets = {k: spec[1]["default"] for k, spec in node.INPUT_TYPES()["required"].items() if len(spec) > 1}
        merged = getattr(node, node.FUNCTION)(patcher(model1), patcher(model2), **(widgets | inputs))[0]
        tensors |= {f"merge/{case}/{k}": v for k, v in weights(merged).items()}
    doubled = nodes_model_merging.ModelAdd().merge(patcher(model2), patcher(model2))[0]
    chained = nodes_model_merging.ModelMergeSimple().merge(patcher(model1), doubled, 0.5)[0]
    tensors |= {f"merge/chained/{k}": v for k, v in weights(chained).items()}

    to = [[torch.randn(1, 77, 8, generator=gen), {"pooled_output": torch.randn(1, 8, generator=gen)}],
          [torch.randn(1, 154, 8, generator=gen), {"strength": 0.5}]]
    source = [[torch.randn(1, 77, 8, generator=gen), {"pooled_output": torch.randn(1, 8, generator=gen)}]]
    short = [[torch.randn(1, 20, 8, generator=gen), {}]]
    cases = {
        "average": nodes.ConditioningAverage().addWeighted(to, source, 0.3)[0],
        "average_short_from": nodes.ConditioningAverage().addWeighted(to, short, 0.6)[0],
        "concat": nodes.ConditioningConcat().concat(to, source)[0],
        "area_percentage": nodes.ConditioningSetAreaPercentage().append(to, 0.5, 0.25, 0.1, 0.2, 0.8)[0],
        "area_strength": nodes.ConditioningSetAreaStrength().append(to, 2.5)[0],
        "timestep_range": nodes.ConditioningSetTimestepRange().set_range(to, 0.2, 0.7)[0],
        "zero_out": nodes.ConditioningZeroOut().zero_out(to)[0],
    }
    cases |= hook_property_cases(torch, to, source, tensors)
    for name, conditioning in (("to", to), ("from", source), ("short", short)):
        for i, (embedding, options) in enumerate(conditioning):
            tensors[f"input/{name}/{i}/embedding"] = embedding
            tensors |= {f"input/{name}/{i}/{k}": v for k, v in options.items() if torch.is_tensor(v)}
    options = {"inputs": {"to_strength": [opts.get("strength") for _, opts in to]}, "outputs": {}}
    for case, conditioning in cases.items():
        entries = []
        for i, (embedding, extra) in enumerate(conditioning):
            tensors[f"cond/{case}/{i}/embedding"] = embedding
            tensors |= {f"cond/{case}/{i}/{k}": v for k, v in extra.items() if torch.is_tensor(v)}
            entries.append({k: v for k, v in extra.items() if not torch.is_tensor(v)})
        options["outputs"][case] = entries
    tensors |= unclip_cases(torch, gen)
    options["mask_bounds"] = mask_bounds_cases(torch, tensors)
    tensors |= lora_extract_cases(torch, gen)
    tensors |= hypernetwork_cases(torch, gen)
    tensors |= style_model_cases(torch, gen)
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({k: v.clone().contiguous() for k, v in tensors.items()}, str(OUT / "comfy_model_nodes.safetensors"))
    (OUT / "comfy_model_nodes.json").write_text(json.dumps(options, indent=1) + "\n")


def hook_property_cases(torch, to: list, source: list, tensors: dict) -> dict:
    """ComfyUI's conditioning-property nodes (nodes_hooks) with a mask and a timestep range, no hooks."""
    from comfy_extras import nodes_hooks

    mask = torch.zeros(16, 16)
    mask[4:12, 2:9] = 1.0
    tensors["input/hook_mask"] = mask
    props = {"strength": 0.4, "set_cond_area": "mask bounds", "mask": mask, "hooks": None, "timesteps": (0.2, 0.6)}

    def run(cls, **inputs):
        node = cls()
        return getattr(node, node.FUNCTION)(**inputs)

    single = run(nodes_hooks.ConditioningSetPropertiesAndCombine, cond=source, cond_NEW=to, **props)[0]
    positive, negative = run(nodes_hooks.PairConditioningSetProperties, positive_NEW=to, negative_NEW=source, **props)
    return {"props_combine": single, "pair_props_positive": positive, "pair_props_negative": negative}


def style_model_cases(torch, gen) -> dict:
    """A small T2I style adapter (written next to the data) and ComfyUI's StyleModelApply with it."""
    import comfy.sd
    import comfy.t2i_adapter.adapter
    from safetensors.torch import save_file

    import nodes

    adapter = comfy.t2i_adapter.adapter.StyleAdapter(width=32, context_dim=16, num_head=8, n_layes=2, num_token=8)
    weights = {k: torch.randn(v.shape, generator=gen) * (0.2 if v.ndim > 1 else 0.05) + ("ln_" in k and "weight" in k)
               for k, v in adapter.state_dict().items()}
    adapter.load_state_dict(weights)
    save_file({k: v.contiguous() for k, v in weights.items()}, str(OUT / "style_adapter.safetensors"))

    class VisionOutput:
        last_hidden_state = torch.randn(2, 5, 32, generator=gen)

    text = [[torch.randn(1, 77, 16, generator=gen), {}]]
    tensors = {"style/hidden": VisionOutput.last_hidden_state, "style/text": text[0][0]}
    for name, (strength, kind) in {"multiply": (0.6, "multiply"), "attn_bias": (0.5, "attn_bias")}.items():
        (out,) = nodes.StyleModelApply().apply_stylemodel(text, comfy.sd.StyleModel(adapter), VisionOutput(),
                                                          strength, kind)
        tensors[f"style/{name}/cond"] = out[0][0].detach()
        if "attention_mask" in out[0][1]:
            tensors[f"style/{name}/attention_mask"] = out[0][1]["attention_mask"]
    return tensors


def hypernetwork_cases(torch, gen) -> dict:
    """Two small hypernetwork files (written next to the data) and ComfyUI's patch applied to seeded q/k/v."""
    from comfy_extras.nodes_hypernetwork import load_hypernetwork_patch

    def layers(width, names):
        out = {}
        for name, (rows, cols) in names.items():
            out[f"{name}.weight"] = torch.randn(rows, cols, generator=gen) * 0.3 if cols else 1 + 0.1 * torch.randn(
                rows, generator=gen)
            out[f"{name}.bias"] = 0.1 * torch.randn(rows, generator=gen)
        return out

    files = {
        "relu_layer_norm": ({"activation_func": "relu", "is_layer_norm": True},
                            {"linear.0": (16, 8), "linear.1": (16, 0), "linear.2": (8, 16), "linear.3": (8, 0)}),
        "linear": ({"activation_func": "linear", "activate_output": False},
                   {"linear.0": (24, 8), "linear.1": (8, 24)}),
    }
    tensors = {}
    q, k, v = (torch.randn(2, 5, 8, generator=gen) for _ in range(3))
    tensors |= {"hypernetwork/q": q, "hypernetwork/k": k, "hypernetwork/v": v}
    for name, (options, names) in files.items():
        sd = dict(options)
        widths = {8: names, 12: {n: (r if r != 8 else 12, c if c != 8 else 12) for n, (r, c) in names.items()}}
        for width, spec in widths.items():
            sd[width] = [layers(width, spec), layers(width, spec)]
        torch.save(sd, OUT / f"hypernetwork_{name}.pt")
        _, k2, v2 = load_hypernetwork_patch(str(OUT / f"hypernetwork_{name}.pt"), 0.7)(q, k, v, {})
        tensors |= {f"hypernetwork/{name}/k": k2.detach(), f"hypernetwork/{name}/v": v2.detach()}
    return tensors


def lora_extract_cases(torch, gen) -> dict:
    """ComfyUI's LoraSave factors (nodes_lora_extract.extract_lora, rank 4) of Linear and Conv2d differences."""
    from comfy_extras.nodes_lora_extract import extract_lora

    tensors = {}
    for name, shape in (("linear", (12, 10)), ("conv3x3", (8, 6, 3, 3)), ("conv1x1", (8, 6, 1, 1))):
        diff = torch.randn(*shape, generator=gen)
        up, down = extract_lora(diff, 4)
        tensors |= {f"lora/{name}/diff": diff, f"lora/{name}/up": up, f"lora/{name}/down": down}
    return tensors


def mask_bounds_cases(torch, tensors: dict) -> dict:
    """The area ComfyUI's sampler gives a ConditioningSetMask entry with "mask bounds", per latent size."""
    from comfy.samplers import resolve_areas_and_cond_masks_multidim

    rectangle = torch.zeros(1, 64, 48)
    rectangle[0, 10:30, 5:21] = 0.7
    dot = torch.zeros(2, 64, 48)
    dot[1, 40, 33] = 1.0
    masks = {"rectangle": rectangle, "dot": dot, "empty": torch.zeros(1, 64, 48)}
    areas = {}
    for name, mask in masks.items():
        tensors[f"mask_bounds/{name}"] = mask
        for dims in ((8, 6), (16, 12), (64, 48)):
            conds = [{"mask": mask, "set_area_to_bounds": True}]
            resolve_areas_and_cond_masks_multidim(conds, dims, "cpu")
            areas[f"{name}/{dims[0]}x{dims[1]}"] = [int(v) for v in conds[0]["area"]]
    return areas


def unclip_cases(torch, gen) -> dict:
    """ComfyUI's unCLIP label vector (model_base.unclip_adm with SD2.1-unclip's noise augmentor) for one
    image embedding at several strengths, noise augmentations and seeds."""
    from comfy.ldm.modules.encoders.noise_aug_modules import CLIPEmbeddingNoiseAugmentation
    from comfy.model_base import unclip_adm

    class VisionOutput:
        def __init__(self, image_embeds):
            self.image_embeds = image_embeds

    augmentor = CLIPEmbeddingNoiseAugmentation(
        noise_schedule_config={"timesteps": 1000, "beta_schedule": "squaredcos_cap_v2"}, timestep_dim=16)
    embeds = torch.randn(1, 16, generator=gen)
    tensors = {"unclip/embeds": embeds}
    for name, (strength, noise, seed) in UNCLIP.items():
        items = [{"clip_vision_output": VisionOutput(embeds), "strength": strength, "noise_augmentation": noise}]
        tensors[f"unclip/{name}"] = unclip_adm(items, "cpu", augmentor, seed=seed)
    return tensors


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} /path/to/ComfyUI")
    main(sys.argv[1])
