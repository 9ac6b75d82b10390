"""Reference numbers for KSamplerAdvanced, EasyCache and LazyCache, produced by running ComfyUI itself.

Uses sampling_reference.py's toy network and conditioning inside ComfyUI's SD1.5 model class, with one
addition: the toy's forward runs ComfyUI's "diffusion_model" wrappers, as ComfyUI's UNet does, so
EasyCache (a diffusion_model wrapper) acts on it. Writes tests/sampling_extras/data/comfy_sampling_extras.safetensors:

- `advanced/<case>`: nodes.KSamplerAdvanced's latent for each case of ADVANCED (and a base -> refiner hand-off);
- `windows/<schedule>/<frames>/<length>/<overlap>/<stride>/<closed>/<step>`: comfy.context_windows' window
  lists, concatenated with -1 after each window;
- `context/<schedule>/<fuse>/<dim>`: euler / normal, 6 steps, a 10x8 latent through a toy whose output
  also depends on the mean over height and width (so windows show), after ContextWindowsManual
  (context_length 4, overlap 2) along height (dim 2) or width (dim 3);
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


WINDOW_CASES = [(10, 4, 2, 1, False, 0), (10, 4, 1, 2, False, 3), (16, 4, 1, 3, True, 5), (9, 3, 0, 1, False, 1),
                (7, 8, 2, 1, False, 0), (13, 5, 2, 2, False, 2)]
CONTEXT_SHAPE = (1, 4, 10, 8)  # ComfyUI 0.3.64's step lookup needs one sigma: a batch of 1, windows on dim 2 or 3
CONTEXT_RUNS = [("standard_static", "pyramid", 2), ("standard_static", "flat", 2),
                ("standard_static", "overlap-linear", 2), ("standard_static", "relative", 2),
                ("looped_uniform", "pyramid", 2), ("standard_uniform", "relative", 2), ("batched", "flat", 2),
                ("standard_static", "pyramid", 3)]


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


class MixingToyUNet(base.ToyUNet):
    """The toy plus 0.3 tanh(mean of x over height and width): positions influence each other."""

    def forward(self, x, timesteps, context=None, control=None, transformer_options=None, **kw):
        return super().forward(x, timesteps, context) + 0.3 * torch.tanh(x.mean(dim=(2, 3), keepdim=True))


def window_lists(out):
    import comfy.context_windows as cw

    for schedule in cw.CONTEXT_MAPPING:
        for frames, length, overlap, stride, closed, step in WINDOW_CASES:
            handler = cw.IndexListContextHandler(cw.get_matching_context_schedule(schedule),
                                                 cw.get_matching_fuse_method("pyramid"), length, overlap, stride, closed)
            handler._step = step
            flat = [i for w in handler.context_schedule.func(frames, handler, {}) for i in [*w, -1]]
            out[f"windows/{schedule}/{frames}/{length}/{overlap}/{stride}/{closed}/{step}"] = torch.tensor(flat)


def context_runs(root, out, positive, negative):
    import comfy.sample
    from comfy_extras import nodes_context_windows

    base.ToyUNet = MixingToyUNet
    patcher = base.load_comfy(root)
    latent = torch.zeros(CONTEXT_SHAPE)
    noise = comfy.sample.prepare_noise(latent, base.SEED)
    for schedule, fuse, dim in CONTEXT_RUNS + [("none", "none", 0)]:
        model = patcher if schedule == "none" else nodes_context_windows.ContextWindowsManualNode.execute(
            patcher, 4, 2, schedule, 1, False, fuse, dim)[0]
        out[f"context/{schedule}/{fuse}/{dim}"] = comfy.sample.sample(
            model, noise, base.STEPS, base.CFG, "euler", "normal", [[positive, {}]], [[negative, {}]], latent,
            seed=base.SEED, disable_pbar=True).float()


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
    window_lists(out)
    context_runs(args.comfyui.resolve(), out, positive, negative)
    from safetensors.torch import save_file

    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in out.items()}, str(args.out))
    print({k: int(v) for k, v in out.items() if k.startswith("calls/")})
    print(f"wrote {len(out)} tensors to {args.out}")


if __name__ == "__main__":
    main()
