"""`python main.py run`: files written, overrides, partial runs, --json, readable errors, exit codes."""

import io
import json

from cli_helpers import WORKFLOWS, run_main_subprocess
from PIL import Image

from engine.graph.workflow_io import load_workflow

INVERT = WORKFLOWS / "image_invert_and_scale.json"
BLEND = WORKFLOWS / "example_pack_blend.json"
CANVAS = WORKFLOWS / "canvas" / "image_invert_and_scale.json"


def test_api_workflow_in_subprocess_writes_png_with_its_prompt(dirs):
    paths, flags = dirs
    done = run_main_subprocess("run", INVERT, *flags)
    assert done.returncode == 0, done.stderr
    saved = paths["output"] / "examples" / "invert_and_scale_00001_.png"
    assert done.stdout.split() == [str(saved)]
    assert Image.open(saved).size == (128, 96)
    prompt, _ = load_workflow(saved)
    assert prompt == json.loads(INVERT.read_text())
    assert "[1/4]" in done.stderr and "SaveImage" in done.stderr


def test_canvas_workflow_runs_and_png_keeps_the_canvas_graph(cli, dirs):
    code, out, err = cli(CANVAS)
    assert code == 0, err
    prompt, workflow = load_workflow(out.split()[0])
    assert workflow == json.loads(CANVAS.read_text())
    assert sorted(prompt) == ["1", "2", "3", "4"]  # reroute, primitive, note and muted preview are gone
    assert prompt["3"]["inputs"]["scale_by"] == 2.0
    assert Image.open(out.split()[0]).size == (128, 96)


def test_a_saved_png_runs_again_as_a_workflow(cli, dirs):
    _, first, _ = cli(INVERT)
    code, second, err = cli(first.split()[0])
    assert code == 0, err
    assert second.split()[0].endswith("invert_and_scale_00002_.png")


def test_set_overrides_by_id_class_and_title(cli, dirs):
    paths, _ = dirs
    code, out, err = cli(INVERT, "--set", "1.width=10", "--set", "ImageScaleBy.scale_by=3",
                         "--set", "Save Image.filename_prefix=custom")
    assert code == 0, err
    saved = paths["output"] / "custom_00001_.png"
    assert out.split() == [str(saved)]
    assert Image.open(saved).size == (30, 144)
    assert "set #3 ImageScaleBy.scale_by = 3" in err


def test_bad_set_is_refused_with_the_reason(cli):
    code, _, err = cli(INVERT, "--set", "ImageScaleBy.scael_by=3")
    assert code == 2
    assert "no input 'scael_by'" in err and "scale_by" in err
    code, _, err = cli(INVERT, "--set", "KSampler.steps=3")
    assert code == 2 and "no node" in err


def test_json_result_lists_files_timings_and_cache_hits(cli_json, dirs):
    code, result, err = cli_json(BLEND, "--quiet")
    assert code == 0
    assert err == ""
    assert result["status"] == "success"
    assert set(result["timings"]) == set(result["executed"]) == {str(i) for i in range(1, 9)}
    assert result["cached"] == []
    assert any(f.endswith("blend_gray_00001_.png") for f in result["files"])
    assert result["outputs"]["7"]["images"][0]["type"] == "temp"
    assert len(result["outputs"]["7"]["images"]) == 2  # the batch of blended + gray


def test_target_runs_only_what_the_chosen_output_needs(cli_json, dirs):
    paths, _ = dirs
    code, result, _ = cli_json(BLEND, "--target", "8")
    assert code == 0
    assert "7" not in result["executed"] and "6" not in result["executed"]
    assert list(result["outputs"]) == ["8"]
    assert not paths["temp"].exists() or not list(paths["temp"].rglob("*.png"))


def test_validation_errors_exit_2_naming_node_input_and_reason(cli, dirs):
    code, _, err = cli(INVERT, "--set", "1.width=-5", "--set", '3.upscale_method="sideways"')
    assert code == 2
    assert "node 1 (EmptyImage), input 'width'" in err
    assert "node 3 (ImageScaleBy), input 'upscale_method'" in err
    assert "sideways" in err
    assert not (dirs[0]["output"] / "examples").exists()


def test_invalid_json_result_carries_node_errors(cli_json):
    code, result, _ = cli_json(INVERT, "--set", "1.width=-5")
    assert code == 2
    assert result["status"] == "invalid"
    assert result["node_errors"]["1"]["errors"][0]["extra_info"]["input_name"] == "width"


def test_node_failure_exits_3_and_names_the_node(cli, dirs):
    code, _, err = cli(INVERT, "--set", "4.filename_prefix=../../escape")
    assert code == 3
    assert "node 4 (SaveImage) failed" in err and "filename_prefix" in err
    assert "Traceback" not in err, "a user mistake is explained in one line, without a Python traceback"


def test_unreadable_workflow_exits_2(cli, cli_json, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    code, _, err = cli(bad)
    assert code == 2 and "neither an API-format prompt nor a canvas workflow" in err
    code, result, _ = cli_json(tmp_path / "missing.json")
    assert code == 2 and result["status"] == "invalid" and "missing.json" in result["error"]["message"]


def test_workflow_from_stdin(cli, dirs, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(INVERT.read_bytes())))
    code, out, err = cli("-", "--set", "4.filename_prefix=piped")
    assert code == 0, err
    assert out.split() == [str(dirs[0]["output"] / "piped_00001_.png")]


def test_unreadable_extra_model_paths_config_exits_2_naming_the_flag_and_file(cli, tmp_path):
    broken = tmp_path / "extra.yaml"
    broken.write_text("mine: [1\n")
    listed = tmp_path / "list.yaml"
    listed.write_text("- checkpoints\n")
    for config, reason in ((tmp_path / "missing.yaml", "No such file"), (broken, "not valid YAML"),
                           (listed, "expected named sections")):
        code, _, err = cli(INVERT, "--extra-model-paths-config", config)
        assert code == 2
        assert f"--extra-model-paths-config {config}" in err and reason in err and "Traceback" not in err
