"""A new user's first mistakes, each answered in a line that says what to do: a missing input image, a
missing model (with the URL the workflow gives for it), a mistyped node name, a --target that saves
nothing, a corrupt image, and ComfyUI's launch flags typed out of habit."""

from __future__ import annotations

import json

import pytest

from launch.cli import build_parser
from launch.comfy_flags import FLAGS, apply_comfyui_flags

MODEL_URL = "https://huggingface.co/example/sd15/resolve/main/first_run_model.safetensors"


def write(tmp_path, name: str, workflow: dict):
    path = tmp_path / name
    path.write_text(json.dumps(workflow))
    return path


def load_and_save(image: str) -> dict:
    return {"1": {"class_type": "LoadImage", "inputs": {"image": image}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "first"}}}


def test_a_missing_input_image_names_the_input_folder(cli, tmp_path):
    code, _, err = cli(write(tmp_path, "wf.json", load_and_save("example.png")))
    assert code == 2
    assert "node 1 (LoadImage), input 'image'" in err and "'example.png' is not in the input folder" in err
    assert "Copy the file there or upload it" in err


def test_a_missing_model_says_where_the_workflow_says_it_comes_from(cli, tmp_path):
    """A canvas workflow names each model's URL in its loader's properties, as ComfyUI's templates do."""
    link = {"CheckpointLoaderSimple": [1, 2, 3]}
    workflow = {"nodes": [
        {"id": 1, "type": "CheckpointLoaderSimple", "mode": 0, "widgets_values": ["first_run_model.safetensors"],
         "properties": {"models": [{"name": "first_run_model.safetensors", "url": MODEL_URL,
                                    "directory": "checkpoints"}]},
         "outputs": [{"name": n, "type": n, "links": [i]} for n, i in zip(("MODEL", "CLIP", "VAE"), link[
             "CheckpointLoaderSimple"], strict=True)]},
        {"id": 2, "type": "CheckpointSave", "mode": 0, "widgets_values": ["checkpoints/out"],
         "inputs": [{"name": n.lower(), "type": n, "link": i}
                    for n, i in zip(("MODEL", "CLIP", "VAE"), (1, 2, 3), strict=True)]}],
        "links": [[i, 1, i - 1, 2, i - 1, t] for i, t in zip((1, 2, 3), ("MODEL", "CLIP", "VAE"), strict=True)]}
    code, _, err = cli(write(tmp_path, "canvas.json", workflow))
    assert code == 2
    assert "Model file not found in models/checkpoints" in err
    assert f"The workflow says it comes from {MODEL_URL} (save it in models/checkpoints/)" in err


@pytest.mark.parametrize("typo, meant", [("SaveImag", "SaveImage"), ("loadimage", "LoadImage"),
                                         ("Empty_Image", "EmptyImage")])
def test_a_mistyped_node_name_gets_did_you_mean(cli, tmp_path, typo, meant):
    workflow = load_and_save("x.png")
    workflow["2"]["class_type"] = typo
    code, _, err = cli(write(tmp_path, "wf.json", workflow))
    assert code == 2 and f"did you mean {meant}" in err


def test_target_on_a_node_that_saves_nothing_says_so_and_fails(cli):
    from cli_helpers import WORKFLOWS

    code, out, err = cli(WORKFLOWS / "image_invert_and_scale.json", "--target", "2")
    assert code == 2 and out == ""
    assert "--target 2 (ImageInvert) saves and shows nothing" in err and "4 (SaveImage)" in err


def test_a_corrupt_input_image_is_one_line_not_a_traceback(cli, dirs, tmp_path):
    paths, _ = dirs
    paths["input"].mkdir(parents=True, exist_ok=True)
    (paths["input"] / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    code, _, err = cli(write(tmp_path, "wf.json", load_and_save("broken.png")))
    assert code == 3
    assert "Traceback" not in err
    [line] = [ln for ln in err.splitlines() if ln.startswith("node 1")]
    assert line.startswith("node 1 (LoadImage) failed:") and "broken.png" in line


TYPED_BY_USERS = ["--lowvram", "--novram", "--highvram", "--normalvram", "--gpu-only", "--preview-method", "auto",
                  "--verbose", "--auto-launch", "--disable-auto-launch", "--fp16-vae", "--bf16-unet"]


def test_comfyui_launch_flags_are_accepted_each_with_one_line_and_the_run_succeeds(cli):
    from cli_helpers import WORKFLOWS

    code, _, err = cli(WORKFLOWS / "image_invert_and_scale.json", "--quiet", *TYPED_BY_USERS)
    assert code == 0, err
    for flag in (f for f in TYPED_BY_USERS if f.startswith("--")):
        assert sum(line.startswith(f"{flag} (a ComfyUI flag): ") for line in err.splitlines()) == 1, flag


def test_comfyui_flags_map_onto_loom_settings():
    args = build_parser().parse_args(["--use-split-cross-attention", "--enable-cors-header", "--cache-classic",
                                      "--verbose", "WARNING", "--port", "0"])
    lines = apply_comfyui_flags(args)
    assert args.attention == "sliced" and args.allow_origin == ["*"] and args.log_level == "WARNING"
    assert len(lines) == 4


# Every flag ComfyUI 0.3.64's comfy/cli_args.py declares (the names only).
COMFYUI_0_3_64_FLAGS = """--async-offload --auto-launch --base-directory --bf16-text-enc --bf16-unet --bf16-vae
--cache-classic --cache-lru --cache-none --comfy-api-base --cpu --cpu-vae --cuda-device --cuda-malloc --database-url
--default-device --default-hashing-function --deterministic --directml --disable-all-custom-nodes --disable-api-nodes
--disable-auto-launch --disable-cuda-malloc --disable-ipex-optimize --disable-metadata --disable-mmap
--disable-smart-memory --disable-xformers --dont-print-server --dont-upcast-attention --enable-compress-response-body
--enable-cors-header --extra-model-paths-config --fast --force-channels-last --force-fp16 --force-fp32
--force-non-blocking --force-upcast-attention --fp16-text-enc --fp16-unet --fp16-vae --fp32-text-enc --fp32-unet
--fp32-vae --fp64-unet --front-end-root --front-end-version --gpu-only --highvram --input-directory --listen
--log-stdout --lowvram --max-upload-size --mmap-torch-files --multi-user --normalvram --novram
--oneapi-device-selector --output-directory --port --preview-method --preview-size --quick-test-for-ci --reserve-vram
--supports-fp8-compute --temp-directory --tls-certfile --tls-keyfile --use-flash-attention
--use-pytorch-cross-attention --use-quad-cross-attention --use-sage-attention --use-split-cross-attention
--user-directory --verbose --whitelist-custom-nodes --windows-standalone-build""".split()  # noqa: SIM905


def test_every_comfyui_flag_is_understood_by_the_server_and_the_table_ones_by_run_too():
    parser = build_parser()
    missing = [flag for flag in COMFYUI_0_3_64_FLAGS if flag not in parser._option_string_actions]
    assert not missing, missing
    run = parser._subparsers._group_actions[0].choices["run"]
    assert all(f.name in run._option_string_actions for f in FLAGS if f.name not in ("--listen", "--port"))
    assert {f.name for f in FLAGS} <= set(COMFYUI_0_3_64_FLAGS)
