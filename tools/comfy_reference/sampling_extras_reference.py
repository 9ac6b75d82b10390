"""Reference numbers for KSamplerAdvanced, EasyCache and LazyCache, produced by running ComfyUI itself.

Uses sampling_reference.py's toy network and conditioning inside ComfyUI's SD1.5 model class, with one
addition: the toy's forward runs ComfyUI's "diffusion_model" wrappers, as ComfyUI's UNet does, so
EasyCache (a diffusion_model wrapper) acts on it. Writes tests/sampling_extras/data/comfy_sampling_extras.safetensors:

- `advanced/<case>`: nodes.KSamplerAdvanced's latent for each case of ADVANCED (and a base -> refiner hand-off);
- `cache/<node>/<threshold>` and `calls/<node>/<threshold>`: the latent of euler / normal after EasyCache or
  LazyCache at that reuse_threshold ("none": no cache), and how many times the network ran.

Run: /work/ref/comfy_venv/bin/python tools/comfy_reference/sampling_extras_reference.py /path/to/ComfyUI
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sampling_reference as base

OUT = Path(__file__).resolve().parents[2] / "tests/sampling_extras/data/comfy_sampling_extras.safetensors"
CACHE_SHAPE = (1, 4, 16, 16)
CACHE_STEPS = 20
THRESHOLDS = (0.05, 0.2)
# name: (add_noise, start_at_step, end_at_step, return_with_leftover_noise), steps = base.STEPS, euler / karras
ADVANCED = {
    "first_half_leftover": ("enable", 0, 3, "enable"),
    "first_half_full": ("enable", 0, 3, "disable"),
    "middle_no_noise": ("disable", 2, 5, "disable"),
    "start_past_end": ("enable", 6, 10000, "disable"),
}


class WrappedToyUNet(base.ToyUNet):
    """The toy network with ComfyUI's diffusion_model wrapper chain around its forward; counts real runs."""

    calls = 0

    def forward(self, x, timesteps, context=None, control=None, transformer_options=None, **kw):
        import comfy.patcher_extension as pe

        wrappers = pe.get_all_wrappers(pe.WrappersMP.DIFFUSION_MODEL, transformer_options or {})
        return pe.WrapperExecutor.new_class_executor(self._run, self, wrappers).execute(
            x, timesteps, context, None, control, transformer_options)

    def _run(self, x, timesteps, context, y, control, transformer_options):
        WrappedToyUNet.calls += 1
        return super().forward(x, timesteps, context)


def advanced_runs(patcher, out, positive, negative, image):
    import nodes

    pos, neg = [[positive, {}]], [[negative, {}]]
    ksampler = nodes.KSamplerAdvanced()
    for name, (add_noise, start, end, leftover) in ADVANCED.items():
        (latent,) = ksampler.sample(patcher, add_noise, base.SEED, base.STEPS, base.CFG, "euler", "karras", pos, neg,
                                    {"samples": image.clone()}, start, end, leftover)
        out[f"advanced/{name}"] = latent["samples"].float()
    (first,) = ksampler.sample(patcher, "enable", base.SEED, base.STEPS, base.CFG, "dpmpp_2m", "normal", pos, neg,
                               {"samples": torch.zeros(base.SHAPE)}, 0, 4, "enable")
    (second,) = ksampler.sample(patcher, "disable", 0, base.STEPS, base.CFG, "dpmpp_2m", "normal", pos, neg, first,
                                4, 10000, "disable")
    out["advanced/handoff"] = second["samples"].float()


def cache_runs(patcher, out, positive, negative):
    import comfy.sample
    from comfy_extras import nodes_easycache

    empty = torch.zeros(CACHE_SHAPE)
    noise = comfy.sample.prepare_noise(empty, base.SEED)
    variants = {"none/0": patcher}
    for threshold in THRESHOLDS:
        variants[f"EasyCache/{threshold}"] = nodes_easycache.EasyCacheNode.execute(patcher, threshold, 0.15, 0.95, False)[0]
        variants[f"LazyCache/{threshold}"] = nodes_easycache.LazyCacheNode.execute(patcher, threshold, 0.15, 0.95, False)[0]
    for name, model in variants.items():
        WrappedToyUNet.calls = 0
        out[f"cache/{name}"] = comfy.sample.sample(
            model, noise, CACHE_STEPS, base.CFG, "euler", "normal", [[positive, {}]], [[negative, {}]], empty,
            seed=base.SEED, disable_pbar=True).float()
        out[f"calls/{name}"] = torch.tensor(WrappedToyUNet.calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comfyui", type=Path, help="path of a ComfyUI 0.3.64 checkout")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    base.ToyUNet = WrappedToyUNet
    patcher = base.load_comfy(args.comfyui.resolve())
    positive, negative, image = base.conditioning()
    out = {}
    advanced_runs(patcher, out, positive, negative, image)
    cache_runs(patcher, out, positive, negative)
    from safetensors.torch import save_file

    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in out.items()}, str(args.out))
    print({k: int(v) for k, v in out.items() if k.startswith("calls/")})
    print(f"wrote {len(out)} tensors to {args.out}")


if __name__ == "__main__":
    main()
