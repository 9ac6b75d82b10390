"""`python main.py packs check`: per pack whether it loads, its node count and the ComfyUI names it uses that
Loom lacks; and folder_paths knows every folder kind ComfyUI has."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

from launch.cli import main
from launch.packs_check import report_packs
from tests.compat.conftest import PACKS

USES_MISSING = '''
import comfy.samplers
import nodes
from comfy.ldm.flux.math import apply_rope


class Uses:
    CATEGORY = "check"
    RETURN_TYPES = ("INT",)
    FUNCTION = "go"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"sampler": (comfy.samplers.KSampler.SAMPLERS,)}}

    def go(self, sampler):
        return (nodes.NotANodeLoomHas().run(apply_rope),)


NODE_CLASS_MAPPINGS = {"CheckUses": Uses}
'''


def write_packs(root: Path) -> Path:
    (root / "uses_missing").mkdir(parents=True)
    (root / "uses_missing" / "__init__.py").write_text(textwrap.dedent(USES_MISSING))
    (root / "broken.py").write_text("import comfy.utils\n\nraise RuntimeError('broken on purpose')\n")
    return root


def test_packs_check_lists_loading_node_counts_and_the_names_loom_lacks(tmp_path):
    packs = write_packs(tmp_path / "packs")
    out = io.StringIO()
    assert report_packs(packs, tmp_path / "base", out) == 1
    table = out.getvalue().splitlines()
    assert table[0].split() == ["pack", "loads", "nodes", "missing", "ComfyUI", "names"]
    assert table[1].split() == ["broken", "NO", "0", "0"]
    assert table[2].split() == ["uses_missing", "yes", "1", "2"]
    text = out.getvalue()
    assert "fails to load: RuntimeError: broken on purpose" in text and 'broken.py", line 3' in text
    assert "lacks comfy.ldm.flux.math.apply_rope  (used at __init__.py:4)" in text
    assert "lacks nodes.NotANodeLoomHas  (used at __init__.py:17)" in text
    assert "comfy.samplers.KSampler.SAMPLERS" not in text


def test_packs_check_is_a_main_py_command(tmp_path, capsys):
    packs = write_packs(tmp_path / "packs")
    (packs / "broken.py").unlink()
    assert main(["--base-directory", str(tmp_path / "base"), "packs", "check", str(packs)]) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["uses_missing", "yes", "1", "2"]


def test_folder_paths_knows_every_folder_kind_comfyui_has(loaded):
    import folder_paths

    models = loaded.folders.models_dir
    for kind in ("checkpoints", "configs", "loras", "vae", "text_encoders", "diffusion_models", "clip_vision",
                 "style_models", "embeddings", "diffusers", "vae_approx", "controlnet", "gligen", "upscale_models",
                 "hypernetworks", "photomaker", "classifiers", "model_patches", "audio_encoders"):
        assert folder_paths.get_folder_paths(kind), kind
    assert str(models / "configs") in folder_paths.get_folder_paths("configs")
    assert folder_paths.get_folder_paths("custom_nodes") == [str(PACKS)]  # the folders packs loaded from
    assert ".yaml" in folder_paths.folder_names_and_paths["configs"][1]


WRITES_NEXT_TO_COMFY = '''
import inspect
import os

import folder_paths
from server import PromptServer

for module_dir in (os.path.dirname(inspect.getfile(PromptServer)), os.path.dirname(folder_paths.__file__)):
    target = os.path.join(module_dir, "web", "extensions", "writer")
    os.makedirs(target, exist_ok=True)
    open(os.path.join(target, "installed.js"), "w").close()

NODE_CLASS_MAPPINGS = {}
'''


def test_a_pack_writing_next_to_comfyui_writes_into_the_user_folder_not_loom_sources(tmp_path):
    from tests.compat.conftest import loaded_registry

    packs = tmp_path / "packs"
    (packs / "writer").mkdir(parents=True)
    (packs / "writer" / "__init__.py").write_text(WRITES_NEXT_TO_COMFY)
    loaded = loaded_registry(tmp_path / "base", packs)
    assert loaded.report.packs[0].ok, loaded.report.packs[0].error
    assert (loaded.folders.user_dir / "comfyui" / "web" / "extensions" / "writer" / "installed.js").is_file()
    loom = Path(__file__).resolve().parents[2]
    assert not list(loom.glob("comfy_compat/**/installed.js")) and not (loom / "web" / "extensions").exists()
