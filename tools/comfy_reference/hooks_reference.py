"""Reference keyframe schedules for Loom's HOOKS: ComfyUI's own hook keyframe nodes and HookKeyframeGroup
stepping, on SD1.5's discrete schedule. For each case it records the keyframes the nodes make
(strength, start_percent, guarantee_steps) and the strength multiplier ComfyUI applies at each step of a
few sigma schedules (a fine one, and a coarse one where several keyframes fall in one step).

Run with ComfyUI's venv: python tools/comfy_reference/hooks_reference.py /path/to/ComfyUI
Writes tests/hooks/data/keyframes_reference.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# (node, inputs) chains: each step's output is the next one's prev_hook_kf
CASES = {
    "on_then_off": [("CreateHookKeyframe", {"strength_mult": 1.0, "start_percent": 0.0}),
                    ("CreateHookKeyframe", {"strength_mult": 0.0, "start_percent": 0.5})],
    "three_late": [("CreateHookKeyframe", {"strength_mult": 0.3, "start_percent": 0.2}),
                   ("CreateHookKeyframe", {"strength_mult": 0.7, "start_percent": 0.4}),
                   ("CreateHookKeyframe", {"strength_mult": 1.2, "start_percent": 0.9})],
    "interpolated": [("CreateHookKeyframesInterpolated", {
        "strength_start": 0.5, "strength_end": 1.5, "interpolation": "ease_in_out", "start_percent": 0.1,
        "end_percent": 0.8, "keyframes_count": 6, "print_keyframes": False})],
    "eased_in_and_floats": [
        ("CreateHookKeyframesInterpolated", {
            "strength_start": 0.0, "strength_end": 2.0, "interpolation": "ease_in", "start_percent": 0.0,
            "end_percent": 0.3, "keyframes_count": 3, "print_keyframes": False}),
        ("CreateHookKeyframesFromFloats", {"floats_strength": [0.2, 0.4, 0.9, 1.0], "start_percent": 0.35,
                                           "end_percent": 1.0, "print_keyframes": False})],
}


def _schedules(ms) -> dict[str, list[float]]:
    fine = ms.sigmas.flip(0)[::100].tolist() + [0.0]  # 10 steps from sigma_max
    coarse = [float(ms.sigma_max), float(ms.percent_to_sigma(0.45)), float(ms.percent_to_sigma(0.95)), 0.0]
    return {"fine": fine, "coarse": coarse}


def main(comfy_path: str) -> None:
    sys.path.insert(0, comfy_path)
    from comfy.cli_args import args

    args.cpu = True
    import comfy.model_sampling
    import torch
    from comfy_extras import nodes_hooks

    ms = comfy.model_sampling.ModelSamplingDiscrete()

    class Model:
        model_sampling = ms

    out = {"schedules": _schedules(ms), "cases": {}}
    for name, chain in CASES.items():
        group = None
        for node, inputs in chain:
            cls = getattr(nodes_hooks, node)
            (group,) = getattr(cls(), cls.FUNCTION)(**inputs, prev_hook_kf=group)
        record = {"keyframes": [[float(k.strength), float(k.start_percent), k.guarantee_steps]
                                for k in group.keyframes], "chain": chain, "strengths": {}}
        for label, schedule in out["schedules"].items():
            run = group.clone()
            run.initialize_timesteps(Model)
            run.reset()
            options = {"sample_sigmas": torch.tensor(schedule)}
            strengths = []
            for sigma in schedule[:-1]:
                run.prepare_current_keyframe(sigma, options)
                strengths.append(float(run.strength))
            record["strengths"][label] = strengths
        out["cases"][name] = record
    target = REPO / "tests/hooks/data/keyframes_reference.json"
    target.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1])
