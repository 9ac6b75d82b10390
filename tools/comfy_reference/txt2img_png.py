"""ComfyUI's own txt2img PNGs on a seeded SD1.5 checkpoint, the oracle of tests/sd/test_comfy_txt2img_png.py.

Builds tests/fixtures/comfy_loadable_sd15.py's checkpoint in a temporary folder, runs ComfyUI's nodes
(CheckpointLoaderSimple -> CLIPTextEncode x2 -> EmptyLatentImage -> KSampler -> VAEDecode -> SaveImage) on
the CPU once per sampler in SAMPLERS and attention mode in ATTENTION, and writes into the output folder the
PNGs SaveImage produced (comfy_txt2img_<sampler>_<attention>.png) plus the API-format prompts that describe
the same graphs (the test runs them in Loom):

    /work/ref/comfy_venv/bin/python tools/comfy_reference/txt2img_png.py /path/to/ComfyUI tests/sd/data

ComfyUI picks its attention kernels when it is imported, so each mode runs in a process of its own.
"""

import json
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loom_fixture import comfy_on_cpu, use_loom_tests

CKPT = "comfy_loadable_sd15.safetensors"
SAMPLERS = {"euler_normal": ("euler", "normal"), "dpmpp_2m_karras": ("dpmpp_2m", "karras")}
SAMPLING = {"seed": 42, "steps": 3, "cfg": 7.0, "denoise": 1.0}
POSITIVE = "a photograph of a lighthouse on a cliff at sunset, highly detailed"
NEGATIVE = "blurry, low quality"
SIZE = 64
# "sdpa": --use-pytorch-cross-attention, torch's scaled_dot_product_attention everywhere (ComfyUI's choice on
# GPUs, and Loom's); "cpu_default": what ComfyUI picks on a CPU without flags (sub-quadratic attention in the
# UNet, a plain softmax in CLIP, split attention in the VAE), which sums in another order.
ATTENTION = {"sdpa": True, "cpu_default": False}


def prompt(sampler: str, scheduler: str, prefix: str) -> dict:
    """The txt2img graph in ComfyUI's API format."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CKPT}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": POSITIVE, "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": NEGATIVE, "clip": ["4", 1]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": SIZE, "height": SIZE, "batch_size": 1}},
        "3": {"class_type": "KSampler", "inputs": {
            **SAMPLING, "sampler_name": sampler, "scheduler": scheduler,
            "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": prefix, "images": ["8", 0]}},
    }


def run_comfy(nodes, graph: dict) -> str:
    """Run `graph` node by node with ComfyUI's node classes; return the file name SaveImage wrote."""
    results = {}
    for node_id in ("4", "6", "7", "5", "3", "8", "9"):
        entry = graph[node_id]
        cls = nodes.NODE_CLASS_MAPPINGS[entry["class_type"]]
        inputs = {k: results[v[0]][v[1]] if isinstance(v, list) else v for k, v in entry["inputs"].items()}
        out = getattr(cls(), cls.FUNCTION)(**inputs)
        results[node_id] = out["result"] if isinstance(out, dict) and "result" in out else out
        if isinstance(out, dict) and "ui" in out:
            return out["ui"]["images"][0]["filename"]
    raise RuntimeError("SaveImage wrote nothing")


def generate(comfy_path: str, out_dir: str, attention: str) -> None:
    """Run every sampler of SAMPLERS in ComfyUI with the attention kernels of `attention`."""
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)  # as Loom's tests run: CPU kernels split their float sums by thread count
    comfy_on_cpu(comfy_path)
    from comfy.cli_args import args

    args.use_pytorch_cross_attention = ATTENTION[attention]
    import folder_paths

    import nodes  # ComfyUI's, imported before Loom's repository (which has a `nodes` package) joins the path

    use_loom_tests()
    from tests.fixtures.comfy_loadable_sd15 import make_comfy_loadable_sd15

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "checkpoints").mkdir()
        make_comfy_loadable_sd15(Path(tmp) / "checkpoints" / CKPT)
        folder_paths.add_model_folder_path("checkpoints", str(Path(tmp) / "checkpoints"), is_default=True)
        folder_paths.set_output_directory(str(Path(tmp) / "output"))
        prompts = {}
        for name, (sampler, scheduler) in SAMPLERS.items():
            prompts[name] = prompt(sampler, scheduler, f"comfy_txt2img_{name}")
            with torch.inference_mode():  # as ComfyUI's executor runs nodes
                written = run_comfy(nodes, prompts[name])
            shutil.copyfile(Path(tmp) / "output" / written, out / f"comfy_txt2img_{name}_{attention}.png")
    (out / "comfy_txt2img_prompts.json").write_text(json.dumps(prompts, indent=1) + "\n")


def main(comfy_path: str, out_dir: str) -> None:
    for attention in ATTENTION:
        subprocess.run([sys.executable, __file__, comfy_path, out_dir, attention], check=True)


if __name__ == "__main__":
    if len(sys.argv) == 4:
        generate(*sys.argv[1:])
    else:
        main(sys.argv[1], sys.argv[2])
