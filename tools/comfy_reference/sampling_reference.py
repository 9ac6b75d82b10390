"""Reference numbers for Loom's sampling parity tests, produced by running ComfyUI itself.

ComfyUI is the specification of what every sampler, scheduler and CFG hook computes. This script
imports a ComfyUI checkout as a library, wraps a tiny deterministic toy network (`ToyUNet`) in
ComfyUI's own SD1.5 model class, ModelPatcher and sampling path (comfy.sample.sample / sample_custom),
and writes what comes out to tests/sampling/data/comfy_sampling_reference.safetensors:

- `toy.*`, `cond.*`, `latent.*`: the toy network's weights, the conditioning and the input latents;
- `run/<sampler>/<scheduler>`: the final latent of every sampler x scheduler (txt2img, seed 42, cfg 3.5);
- `img2img/<sampler>/<scheduler>`: denoise 0.6 from a non-empty latent;
- `sigmas/<scheduler>/<steps>/<denoise>`: KSampler's schedule; `node/<name>`: scheduler/sigma nodes;
- `patch/<node>`: euler/normal after a CFG-modifying model patch node;
- metadata "samplers", "schedulers": KSampler.SAMPLERS / SCHEDULERS in ComfyUI's order (JSON).

Run: /work/ref/comfy_venv/bin/python tools/comfy_reference/sampling_reference.py /path/to/ComfyUI
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parents[2] / "tests/sampling/data/comfy_sampling_reference.safetensors"
SEED = 42
CFG = 3.5
STEPS = 6
SHAPE = (1, 4, 8, 8)
CONTEXT_DIM = 8


class ToyUNet(torch.nn.Module):
    """eps = tanh(mix @ x + proj(mean context)) * (0.5 + t / 2000) + 0.1 x, per pixel (also in the tests)."""

    def __init__(self, **_unused):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.mix = torch.nn.Parameter(torch.randn(4, 4, generator=g) * 0.5)
        self.proj = torch.nn.Parameter(torch.randn(4, CONTEXT_DIM, generator=g) * 0.3)
        self.dtype = torch.float32

    def forward(self, x, timesteps, context=None, control=None, transformer_options=None, **_kw):
        h = torch.einsum("oc,bchw->bohw", self.mix, x)
        c = context.mean(dim=1) @ self.proj.T
        t = timesteps.float().reshape(-1, 1, 1, 1)
        return torch.tanh(h + c[:, :, None, None]) * (0.5 + t / 2000) + 0.1 * x


def load_comfy(root: Path):
    sys.path.insert(0, str(root))
    from comfy.cli_args import args

    args.cpu = True
    import comfy.model_base
    import comfy.model_patcher
    import comfy.sample
    import comfy.samplers
    import comfy.supported_models

    config = comfy.supported_models.SD15(dict(comfy.supported_models.SD15.unet_config))
    model = comfy.model_base.BaseModel(config, comfy.model_base.ModelType.EPS, device=torch.device("cpu"), unet_model=ToyUNet)
    return comfy.model_patcher.ModelPatcher(model, load_device=torch.device("cpu"), offload_device=torch.device("cpu"))


def conditioning():
    g = torch.Generator().manual_seed(1)
    positive = torch.randn(1, 3, CONTEXT_DIM, generator=g)
    negative = torch.randn(1, 3, CONTEXT_DIM, generator=g)
    image = torch.randn(SHAPE, generator=g) * 0.8
    return positive, negative, image


def run(patcher, sampler, scheduler, positive, negative, latent, denoise=1.0, steps=STEPS, cfg=CFG):
    import comfy.sample

    noise = comfy.sample.prepare_noise(latent, SEED)
    return comfy.sample.sample(patcher, noise, steps, cfg, sampler, scheduler, [[positive, {}]], [[negative, {}]],
                               latent, denoise=denoise, seed=SEED, disable_pbar=True).float()


def sampler_runs(patcher, out, positive, negative, image):
    import comfy.samplers

    empty = torch.zeros(SHAPE)
    for sampler in comfy.samplers.KSampler.SAMPLERS:
        for scheduler in comfy.samplers.KSampler.SCHEDULERS:
            out[f"run/{sampler}/{scheduler}"] = run(patcher, sampler, scheduler, positive, negative, empty)
        for scheduler in ("normal", "karras"):
            out[f"img2img/{sampler}/{scheduler}"] = run(patcher, sampler, scheduler, positive, negative, image,
                                                        denoise=0.6)


def sigma_tables(patcher, out):
    import comfy.samplers

    for scheduler in comfy.samplers.KSampler.SCHEDULERS:
        for steps in (1, 2, 3, 7, 20):
            for denoise in (1.0, 0.55):
                for sampler in ("euler", "dpm_2"):
                    ks = comfy.samplers.KSampler(patcher, steps, torch.device("cpu"), sampler, scheduler, denoise)
                    out[f"sigmas/{scheduler}/{steps}/{denoise}/{sampler}"] = ks.sigmas.float()


def scheduler_nodes(patcher, out):
    from comfy_extras import nodes_align_your_steps as ays
    from comfy_extras import nodes_custom_sampler as cs
    from comfy_extras import nodes_gits as gits
    from comfy_extras import nodes_optimalsteps as opt

    calls = {
        "BasicScheduler/karras/9/0.7": lambda: cs.BasicScheduler().get_sigmas(patcher, "karras", 9, 0.7),
        "KarrasScheduler": lambda: cs.KarrasScheduler().get_sigmas(9, 14.614642, 0.0291675, 7.0),
        "ExponentialScheduler": lambda: cs.ExponentialScheduler().get_sigmas(9, 14.614642, 0.0291675),
        "PolyexponentialScheduler": lambda: cs.PolyexponentialScheduler().get_sigmas(9, 14.614642, 0.0291675, 1.7),
        "LaplaceScheduler": lambda: cs.LaplaceScheduler().get_sigmas(9, 14.614642, 0.0291675, 0.3, 0.6),
        "VPScheduler": lambda: cs.VPScheduler().get_sigmas(9, 19.9, 0.1, 0.001),
        "BetaSamplingScheduler": lambda: cs.BetaSamplingScheduler().get_sigmas(patcher, 9, 0.5, 0.7),
        "SDTurboScheduler/3/0.8": lambda: cs.SDTurboScheduler().get_sigmas(patcher, 3, 0.8),
        "ExtendIntermediateSigmas": lambda: cs.ExtendIntermediateSigmas().extend(
            torch.tensor([14.6, 7.0, 3.0, 1.0, 0.0]), 3, -1.0, 2.0, "cosine"),
        "AlignYourStepsScheduler/SD1/7/1.0": lambda: ays.AlignYourStepsScheduler.execute("SD1", 7, 1.0),
        "AlignYourStepsScheduler/SDXL/15/0.6": lambda: ays.AlignYourStepsScheduler.execute("SDXL", 15, 0.6),
        "AlignYourStepsScheduler/SVD/30/1.0": lambda: ays.AlignYourStepsScheduler.execute("SVD", 30, 1.0),
        "GITSScheduler/1.2/10/1.0": lambda: gits.GITSScheduler.execute(1.2, 10, 1.0),
        "GITSScheduler/1.5/25/0.5": lambda: gits.GITSScheduler.execute(1.5, 25, 0.5),
        "OptimalStepsScheduler/FLUX/12/1.0": lambda: opt.OptimalStepsScheduler.execute("FLUX", 12, 1.0),
        "OptimalStepsScheduler/Wan/20/0.5": lambda: opt.OptimalStepsScheduler.execute("Wan", 20, 0.5),
        "OptimalStepsScheduler/Chroma/8/1.0": lambda: opt.OptimalStepsScheduler.execute("Chroma", 8, 1.0),
    }
    for name, call in calls.items():
        result = call()
        result = result.result if hasattr(result, "result") else result
        out[f"node/{name}"] = torch.as_tensor(result[0]).float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comfyui", type=Path, help="path of a ComfyUI 0.3.64 checkout")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.manual_seed(0)
    patcher = load_comfy(args.comfyui.resolve())
    positive, negative, image = conditioning()
    toy = patcher.model.diffusion_model
    out = {"toy.mix": toy.mix.detach().clone(), "toy.proj": toy.proj.detach().clone(), "cond.positive": positive,
           "cond.negative": negative, "latent.image": image}
    sigma_tables(patcher, out)
    scheduler_nodes(patcher, out)
    sampler_runs(patcher, out, positive, negative, image)
    import json

    import comfy.samplers
    from safetensors.torch import save_file

    order = {"samplers": json.dumps(comfy.samplers.KSampler.SAMPLERS),
             "schedulers": json.dumps(comfy.samplers.KSampler.SCHEDULERS)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in out.items()}, str(args.out), metadata=order)
    print(f"wrote {len(out)} tensors to {args.out}")


if __name__ == "__main__":
    main()
