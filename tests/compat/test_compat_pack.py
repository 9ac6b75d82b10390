"""A pack importing ComfyUI's modules loads in Loom and its nodes run through the executor."""

from __future__ import annotations

import sys

from engine.graph.cache import CachePolicy
from engine.graph.context import Interrupt
from engine.graph.executor import Executor
from tests.compat.conftest import BROKEN_PACKS, loaded_registry


def run(loaded, prompt, interrupt=None):
    events = []
    result = Executor(loaded.registry, cache=CachePolicy.none()).run(
        prompt, "p1", events.append, extra_data={"client_id": "c1"}, interrupt=interrupt)
    return result, events


def test_pack_importing_comfy_modules_loads_with_its_nodes(loaded):
    [pack] = loaded.report.packs
    assert pack.ok, pack.error
    assert set(pack.nodes) == {"CompatCheckpointPath", "CompatCount", "CompatWaitForInterrupt", "CompatAdd", "CompatDouble", "CompatShow"}
    assert loaded.registry.object_info_for("CompatCount")["display_name"] == "Count (compat)"


def test_prestartup_script_runs_before_the_pack_with_folder_paths(loaded):
    [prestartup] = loaded.report.prestartup
    assert prestartup.ok, prestartup.error
    assert (loaded.folders.temp_dir / "compat_pack_prestartup").read_text() == "ran"
    assert "Prestartup times for custom nodes:" in loaded.report.summary()


def test_folder_paths_lists_and_resolves_loom_model_files(loaded):
    info = loaded.registry.object_info_for("CompatCheckpointPath")
    assert info["input"]["required"]["ckpt_name"][0] == ["sub/other.ckpt", "tiny.safetensors"]
    result, _ = run(loaded, {"1": {"class_type": "CompatCheckpointPath", "inputs": {"ckpt_name": "sub/other.ckpt"}},
                             "2": {"class_type": "CompatShow", "inputs": {"value": ["1", 0]}}})
    assert result.status == "success", result.error
    path = loaded.folders.models_dir / "checkpoints" / "sub" / "other.ckpt"
    assert result.outputs["2"]["value"] == [str(path)]


def test_folder_paths_module_api_over_loom_folders(loaded):
    import folder_paths

    assert folder_paths.models_dir == str(loaded.folders.models_dir)
    assert folder_paths.get_output_directory() == str(loaded.folders.output_dir)
    assert folder_paths.get_full_path("checkpoints", "../escape.safetensors") is None
    assert folder_paths.get_full_path("checkpoints", "missing.safetensors") is None
    extra = loaded.folders.base_dir / "ipadapter"
    extra.mkdir()
    (extra / "adapter.bin").write_bytes(b"x")
    (extra / "adapter.onnx").write_bytes(b"x")
    folder_paths.folder_names_and_paths["ipadapter"] = ([str(extra)], {".onnx"})
    assert folder_paths.get_filename_list("ipadapter") == ["adapter.onnx"]
    assert folder_paths.get_folder_paths("ipadapter") == [str(extra)]
    (loaded.folders.input_dir / "a.png").write_bytes(b"x")
    assert folder_paths.exists_annotated_filepath("a.png")
    assert not folder_paths.exists_annotated_filepath("a.png [output]")
    folder, name, counter, subfolder, _ = folder_paths.get_save_image_path("shots/img", folder_paths.get_output_directory())
    assert (folder, name, counter, subfolder) == (str(loaded.folders.output_dir / "shots"), "img", 1, "shots")


def test_progress_bar_updates_are_progress_events(loaded):
    result, events = run(loaded, {"1": {"class_type": "CompatCount", "inputs": {"steps": 3, "stop_at": 0}},
                                  "2": {"class_type": "CompatShow", "inputs": {"value": ["1", 0]}}})
    assert result.status == "success", result.error
    progress = [(e.data["value"], e.data["max"], e.data["node"]) for e in events if e.type == "progress"]
    assert progress == [(1, 3, "1"), (2, 3, "1"), (3, 3, "1")]
    assert result.outputs["2"] == {"value": [3], "registry_sees_pack": [True]}


def test_interrupt_requested_by_a_node_stops_the_prompt(loaded):
    result, events = run(loaded, {"1": {"class_type": "CompatCount", "inputs": {"steps": 5, "stop_at": 3}},
                                  "2": {"class_type": "CompatShow", "inputs": {"value": ["1", 0]}}},
                         interrupt=Interrupt())
    assert result.status == "interrupted"
    assert [e.data["value"] for e in events if e.type == "progress"] == [1, 2]


def test_graph_builder_expansion_runs_the_built_node(loaded):
    result, _ = run(loaded, {"1": {"class_type": "CompatDouble", "inputs": {"value": 21}},
                             "2": {"class_type": "CompatShow", "inputs": {"value": ["1", 0]}}})
    assert result.status == "success", result.error
    assert result.outputs["2"]["value"] == [42]


def test_a_broken_pack_reports_the_file_and_line_of_its_failing_import(tmp_path):
    loaded = loaded_registry(tmp_path, BROKEN_PACKS)
    broken = {p.name: p for p in loaded.report.packs}
    failed = broken["needs_missing_module"]
    assert not failed.ok
    loader = BROKEN_PACKS / "needs_missing_module" / "loader.py"
    assert f'File "{loader}", line 4, in <module>' in failed.error
    assert "No module named 'comfy.weight_adapter'" in failed.error
    assert failed.error.strip().splitlines()[-1].startswith("ComfyUI module 'comfy.weight_adapter' is not provided by Loom")
    from launch.cli import pack_problems

    logged = "\n".join(pack_problems(loaded.report))  # what the server and `run` log at start-up
    assert f'File "{loader}", line 4, in <module>' in logged
    assert "comfy_entrypoint: RuntimeError: entrypoint exploded" in broken["v3_only"].error
    assert broken["bad_prestartup"].ok  # a failed prestartup script does not stop the pack
    [prestartup] = loaded.report.prestartup_failed
    assert "prestartup exploded" in prestartup.error


def test_shims_are_not_installed_over_a_real_module(tmp_path, monkeypatch):
    from comfy_compat import install

    (tmp_path / "node_helpers.py").write_text("REAL = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "node_helpers", raising=False)
    provided = install()
    assert "node_helpers" not in provided and "folder_paths" in provided
    import node_helpers

    assert node_helpers.REAL
    del sys.modules["node_helpers"]  # the next install serves Loom's node_helpers again
