"""Ctrl-C stops a running workflow with exit code 130; packs come from extra-model-paths configs
or --custom-nodes-dir."""

import json
import signal
import subprocess
import sys
from pathlib import Path

from cli_helpers import REPO

SLOW_PACK = Path(__file__).resolve().parent / "slow_pack"


def test_ctrl_c_interrupts_at_the_next_progress_step(tmp_path):
    config = tmp_path / "extra.yaml"
    config.write_text(f"tests:\n  base_path: {SLOW_PACK}\n  custom_nodes: .\n")
    workflow = tmp_path / "slow.json"
    workflow.write_text(json.dumps({"1": {"class_type": "SlowCount", "inputs": {"steps": 600}}}))
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "main.py"), "run", str(workflow), "--extra-model-paths-config", str(config),
         "--output-directory", str(tmp_path / "out"), "--temp-directory", str(tmp_path / "temp"),
         "--user-directory", str(tmp_path / "user"), "--input-directory", str(tmp_path / "in")],
        cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "#1:" in line:  # the node is running and reporting progress
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 130, "".join(seen) + rest
    assert "interrupted" in rest


def test_custom_nodes_dir_loads_packs_for_a_headless_run(cli_json, tmp_path):
    workflow = tmp_path / "count.json"
    workflow.write_text(json.dumps({"1": {"class_type": "SlowCount", "inputs": {"steps": 2}}}))
    code, result, err = cli_json(workflow, "--custom-nodes-dir", SLOW_PACK)
    assert code == 0, err
    assert result["outputs"] == {"1": {"counted": [2]}}
