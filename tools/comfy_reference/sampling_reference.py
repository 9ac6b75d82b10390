"""Reference numbers for Loom's sampling parity tests, produced by running ComfyUI itself.

ComfyUI is the specification of what every sampler, scheduler and CFG hook computes. This script
imports a ComfyUI checkout as a library, wraps a tiny deterministic toy network (`ToyUNet`) in
ComfyUI's own SD1.5 model class, ModelPatcher and sampling path (comfy.sample.sample / sample_custom),
and writes what comes out to tests/sampling/data/comfy_sampling_reference.safetensors:

- `toy.*`, `cond.*`, `latent.*`: the toy network's weights, the conditioning and the input latents;
- `run/<sampler>/<scheduler>`: the final latent of every sampler x scheduler (txt2img, seed 42, cfg 3.5);
- `img2img/<sampler>/<scheduler>`: denoise 0.6 from a non-empty latent;
- `sigmas/<scheduler>/<steps>/<denoise>`: KSampler's schedule; `node/<name>`: scheduler/sigma nodes;
- `custom/<node>`: a Sampler* node with settings down KarrasScheduler's sigmas (SamplerCustomAdvanced's
  path); `guider/<node>`: euler with a guider node; `patch/<node>`: dpmpp_2m/karras after a CFG patch node;
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


def _custom(patcher, sampler, sigmas, positive, negative, latent, cfg=CFG, guider=None):
    """SamplerCustomAdvanced's path: a guider (CFGGuider by default) sampling seeded noise down sigmas."""
    import comfy.samplers
    from comfy_extras import nodes_custom_sampler as cs

    if guider is None:
        guider = comfy.samplers.CFGGuider(patcher)
        guider.set_conds([[positive, {}]], [[negative, {}]])
        guider.set_cfg(cfg)
    noise = cs.Noise_RandomNoise(SEED).generate_noise({"samples": latent})
    return guider.sample(noise, latent, sampler, sigmas, seed=SEED, disable_pbar=True).float()


def _node(result):
    """A node's first output, for classic (tuple) and V3 (NodeOutput) nodes."""
    result = result.result if hasattr(result, "result") else result
    return result[0]


def custom_runs(patcher, out, positive, negative):
    """Sampler nodes with settings, the guider nodes, AddNoise, and every CFG patch node."""
    from comfy_extras import nodes_advanced_samplers as adv
    from comfy_extras import (
        nodes_apg,
        nodes_cfg,
        nodes_mahiro,
        nodes_model_advanced,
        nodes_perpneg,
        nodes_tcfg,
    )
    from comfy_extras import nodes_custom_sampler as cs

    empty = torch.zeros(SHAPE)
    sigmas = cs.KarrasScheduler().get_sigmas(STEPS, 14.614642, 0.0291675, 7.0)[0]
    samplers = {
        "SamplerEulerAncestral": cs.SamplerEulerAncestral().get_sampler(0.5, 0.8),
        "SamplerEulerAncestralCFGPP": cs.SamplerEulerAncestralCFGPP().get_sampler(0.7, 1.0),
        "SamplerLMS": cs.SamplerLMS().get_sampler(2),
        "SamplerDPMPP_2M_SDE": cs.SamplerDPMPP_2M_SDE().get_sampler("heun", 0.7, 1.0, "cpu"),
        "SamplerDPMPP_3M_SDE": cs.SamplerDPMPP_3M_SDE().get_sampler(0.5, 1.0, "cpu"),
        "SamplerDPMPP_SDE": cs.SamplerDPMPP_SDE().get_sampler(0.8, 1.0, 0.4, "cpu"),
        "SamplerDPMPP_2S_Ancestral": cs.SamplerDPMPP_2S_Ancestral().get_sampler(0.6, 1.0),
        "SamplerDPMAdaptative": cs.SamplerDPMAdaptative().get_sampler(2, 0.1, 0.01, 0.1, 0.0, 1.0, 0.0, 0.81, 0.0, 1.0),
        "SamplerER_SDE/Reverse-time SDE": cs.SamplerER_SDE().get_sampler("Reverse-time SDE", 2, 0.5, 1.0),
        "SamplerER_SDE/ODE": cs.SamplerER_SDE().get_sampler("ODE", 3, 1.0, 1.0),
        "SamplerSASolver": cs.SamplerSASolver().get_sampler(patcher, 0.8, 0.1, 0.9, 1.0, 2, 3, True, True),
        "SamplerEulerCFGpp/alternative": adv.SamplerEulerCFGpp.execute("alternative"),
        "SamplerLCMUpscale": adv.SamplerLCMUpscale.execute(1.5, 2, "bilinear"),
    }
    for name, sampler in samplers.items():
        out[f"custom/{name}"] = _custom(patcher, _node(sampler), sigmas, positive, negative, empty)

    g = torch.Generator().manual_seed(2)
    middle, blank = torch.randn(1, 3, CONTEXT_DIM, generator=g), torch.zeros(1, 3, CONTEXT_DIM)
    out["cond.middle"] = middle
    guiders = {
        "DualCFGGuider/regular": cs.DualCFGGuider().get_guider(
            patcher, [[positive, {}]], [[middle, {}]], [[negative, {}]], 3.0, 2.0, "regular"),
        "DualCFGGuider/nested": cs.DualCFGGuider().get_guider(
            patcher, [[positive, {}]], [[middle, {}]], [[negative, {}]], 3.0, 2.0, "nested"),
        "BasicGuider": cs.BasicGuider().get_guider(patcher, [[positive, {}]]),
        "PerpNegGuider": nodes_perpneg.PerpNegGuider.execute(
            patcher, [[positive, {}]], [[negative, {}]], [[blank, {}]], 4.0, 0.7),
    }
    euler = cs.KSamplerSelect().get_sampler("euler")[0]
    for name, guider in guiders.items():
        out[f"guider/{name}"] = _custom(patcher, euler, sigmas, positive, negative, empty, guider=_node(guider))

    patches = {
        "RescaleCFG": nodes_model_advanced.RescaleCFG().patch(patcher, 0.6),
        "CFGNorm": nodes_cfg.CFGNorm.execute(patcher, 0.9),
        "CFGZeroStar": nodes_cfg.CFGZeroStar.execute(patcher),
        "APG": nodes_apg.APG.execute(patcher, 0.5, 2.0, 0.3),
        "Mahiro": nodes_mahiro.Mahiro.execute(patcher),
        "TCFG": nodes_tcfg.TCFG.execute(patcher),
        "PerpNeg": nodes_perpneg.PerpNeg.execute(patcher, [[blank, {}]], 0.7),
    }
    for name, patched in patches.items():
        out[f"patch/{name}"] = run(_node(patched), "dpmpp_2m", "karras", positive, negative, empty)

    noisy = cs.AddNoise().add_noise(patcher, cs.Noise_RandomNoise(SEED), sigmas[2:], {"samples": out["latent.image"]})
    out["node/AddNoise"] = noisy[0]["samples"].float()


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
    custom_runs(patcher, out, positive, negative)
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
