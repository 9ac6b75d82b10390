"""What the command line asks for cannot be set up: one 'error:' line naming it, exit 2, no traceback."""

import socket

import pytest
from cli_helpers import WORKFLOWS, run_main_subprocess

from launch.cli import main


def test_output_folder_that_cannot_be_created_is_named(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    code = main(["run", str(WORKFLOWS / "image_invert_and_scale.json"), "--output-directory", str(blocker / "out"),
                 "--user-directory", str(tmp_path / "user"), "--temp-directory", str(tmp_path / "temp")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: cannot create the folder {blocker / 'out'}" in err and "Traceback" not in err


def test_server_on_a_port_in_use_says_so(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_main_subprocess("--port", port, "--user-directory", tmp_path / "user",
                                   "--output-directory", tmp_path / "output", "--temp-directory", tmp_path / "temp")
    assert done.returncode == 2
    assert f"error: cannot listen on http://127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr


def test_custom_nodes_dir_that_does_not_exist_is_refused(tmp_path, capsys):
    missing = tmp_path / "my_packs"
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(WORKFLOWS / "image_invert_and_scale.json"), "--custom-nodes-dir", str(missing)])
    assert exit_.value.code == 2 and f"--custom-nodes-dir: no such folder: {missing}" in capsys.readouterr().err
