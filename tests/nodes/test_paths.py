"""Folders: model listing, extra model paths, and refusing file names that escape their folder."""

import os

import pytest

from engine.paths import Folders, ModelNotFound, UnsafePath


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_list_models_with_subfolders_filtered_by_extension(tmp_path):
    folders = Folders(tmp_path)
    touch(tmp_path / "models/checkpoints/b.safetensors")
    touch(tmp_path / "models/checkpoints/sd/a.ckpt")
    touch(tmp_path / "models/checkpoints/readme.txt")
    assert folders.list("checkpoints") == ["b.safetensors", "sd/a.ckpt"]
    assert folders.find("checkpoints", "sd/a.ckpt") == tmp_path / "models/checkpoints/sd/a.ckpt"


def test_extra_model_paths_yaml_adds_folders(tmp_path):
    other = tmp_path / "elsewhere"
    touch(other / "my_loras/style.safetensors")
    touch(other / "more_loras/detail.pt")
    touch(other / "unets/u.safetensors")
    config = tmp_path / "extra.yaml"
    config.write_text(
        "mine:\n  base_path: elsewhere\n  loras: |\n    my_loras\n    more_loras\n  unet: unets\n"
        "  custom_nodes: packs\n"
    )
    folders = Folders(tmp_path / "base", extra_model_paths=config)
    assert folders.list("loras") == ["detail.pt", "style.safetensors"]
    assert folders.list("diffusion_models") == ["u.safetensors"]
    assert folders.custom_node_dirs == [other / "packs"]


def test_missing_model_error_names_file_and_folders(tmp_path):
    folders = Folders(tmp_path, models_dir=tmp_path / "m")
    with pytest.raises(ModelNotFound) as err:
        folders.find("vae", "nope.safetensors")
    assert "nope.safetensors" in str(err.value)
    assert "searched: models/vae" in str(err.value)  # folder-relative: errors do not reveal the host's paths


@pytest.mark.parametrize(
    "subfolder,filename",
    [("..", "x.png"), ("", "../x.png"), ("a/../..", "x.png"), ("/etc", "passwd"), ("", "/etc/passwd"),
     ("", "a\x00.png")],
)
def test_safe_join_refuses_traversal(tmp_path, subfolder, filename):
    folders = Folders(tmp_path)
    with pytest.raises(UnsafePath):
        folders.safe_join("output", subfolder, filename)


def test_safe_join_refuses_symlink_leading_out(tmp_path):
    folders = Folders(tmp_path)
    folders.ensure()
    outside = tmp_path / "secret"
    outside.mkdir()
    os.symlink(outside, folders.output_dir / "link")
    with pytest.raises(UnsafePath):
        folders.safe_join("output", "link", "x.png")
    assert folders.safe_join("output", "sub", "x.png") == folders.output_dir / "sub" / "x.png"


def test_model_names_cannot_escape(tmp_path):
    folders = Folders(tmp_path)
    with pytest.raises(UnsafePath):
        folders.find("checkpoints", "../../etc/passwd")


def test_listing_notices_added_and_removed_files(tmp_path):
    folders = Folders(tmp_path)
    touch(tmp_path / "models/loras/a.safetensors")
    assert folders.list("loras") == ["a.safetensors"]
    touch(tmp_path / "models/loras/deep/b.safetensors")
    assert folders.list("loras") == ["a.safetensors", "deep/b.safetensors"]
    (tmp_path / "models/loras/a.safetensors").unlink()
    assert folders.list("loras") == ["deep/b.safetensors"]
    folders.ensure()
    touch(folders.input_dir / "x.png")
    assert folders.list_input_files() == ["x.png"]


def test_files_named_by_ui_outputs_resolve_in_their_folder_and_escapes_are_skipped(tmp_path):
    folders = Folders(tmp_path)
    outputs = {"9": {"images": [{"filename": "a.png", "subfolder": "run", "type": "temp"},
                                {"filename": "b.png"},
                                {"filename": "../../etc/passwd", "subfolder": "", "type": "output"}],
                     "text": ["not a file"]},
               "10": None}
    assert folders.files_in_ui(outputs) == [("temp", folders.temp_dir / "run" / "a.png"),
                                            ("output", folders.output_dir / "b.png")]
