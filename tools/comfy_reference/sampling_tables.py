"""The published noise-level tables of three scheduler nodes, read from a ComfyUI checkout into Loom's data.

AlignYourStepsScheduler (NVIDIA's Align Your Steps), GITSScheduler (GITS, zju-pi/diff-sampler) and
OptimalStepsScheduler (bebebe666/OptimalSteps) each interpolate a fixed table of sigmas; this script
copies those numbers into engine/sampling/data/schedule_tables.json.

Run: /work/ref/comfy_venv/bin/python tools/comfy_reference/sampling_tables.py /path/to/ComfyUI
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "engine/sampling/data/schedule_tables.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comfyui", type=Path, help="path of a ComfyUI 0.3.64 checkout")
    args = parser.parse_args()
    sys.path.insert(0, str(args.comfyui.resolve()))
    from comfy_extras import nodes_align_your_steps, nodes_gits, nodes_optimalsteps

    tables = {
        "align_your_steps": nodes_align_your_steps.NOISE_LEVELS,
        "gits": {f"{coeff:.2f}": levels for coeff, levels in nodes_gits.NOISE_LEVELS.items()},
        "optimal_steps": nodes_optimalsteps.NOISE_LEVELS,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(tables, indent=0) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
