"""Under CI (the CI variable set) a missing browser or npm fails the run; on a developer's machine it skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def check_tools(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess:
    """.ci/check_tools with no chromium and a PATH holding bash but no npm."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("bash", "env"):
        target = bin_dir / tool
        if not target.exists():
            target.symlink_to(subprocess.check_output(["which", tool], text=True).strip())
    env = {"PATH": str(bin_dir), "CHROMIUM": str(tmp_path / "no-chromium"), **({"CI": "true"} if ci else {})}
    return subprocess.run([str(bin_dir / "bash"), str(ROOT / ".ci" / "check_tools")], check=False, env=env,
                          capture_output=True, text=True, timeout=60)


def test_ci_run_fails_when_chromium_or_npm_is_missing_under_ci(tmp_path):
    result = check_tools(tmp_path, ci=True)
    assert result.returncode == 1
    assert "chromium" in result.stderr and "npm" in result.stderr


def test_a_developer_run_without_the_tools_only_warns(tmp_path):
    result = check_tools(tmp_path, ci=False)
    assert result.returncode == 0 and "warning: chromium" in result.stderr


def test_ci_run_calls_the_tool_check_before_the_tests():
    script = (ROOT / ".ci" / "run").read_text()
    assert script.index("bash .ci/check_tools") < script.index("python -m pytest")


def run_pytest_on(tmp_path: Path, body: str, ci: bool) -> subprocess.CompletedProcess:
    test = tmp_path / "test_needs_probe.py"
    test.write_text("from pathlib import Path\nfrom tests.needs import need_file, need_module\n\n" + body)
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"PYTHONPATH": str(ROOT)}
    if ci:
        env["CI"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                           str(test)], check=False, env=env, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)


def test_a_test_needing_a_missing_browser_fails_under_ci_and_skips_elsewhere(tmp_path):
    body = "def test_browser():\n    need_file(Path('/no/such/chromium'), 'apt-get install chromium')\n"
    under_ci = run_pytest_on(tmp_path, body, ci=True)
    assert under_ci.returncode == 1 and "1 failed" in under_ci.stdout, under_ci.stdout
    assert "1 skipped" in run_pytest_on(tmp_path, body, ci=False).stdout


def test_a_test_needing_a_missing_package_fails_under_ci(tmp_path):
    body = "def test_package():\n    need_module('no_such_package_for_loom', 'pip install it')\n"
    assert "1 failed" in run_pytest_on(tmp_path, body, ci=True).stdout
