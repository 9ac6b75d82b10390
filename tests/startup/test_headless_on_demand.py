"""`main.py run` imports only the node modules its workflow names: a text workflow runs without torch, the
index that maps nodes to modules stays true, and a node the index does not know still loads (packs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from engine.graph.context import Services
from engine.graph.on_demand_registry import OnDemandRegistry
from engine.graph.packs import PackReport
from launch.node_index import build_index, read_index

ROOT = Path(__file__).resolve().parents[2]
TEXT_WORKFLOW = {
    "1": {"class_type": "PrimitiveString", "inputs": {"value": "a watercolor fox"}},
    "2": {"class_type": "StringConcatenate", "inputs": {"string_a": ["1", 0], "string_b": "at dawn",
                                                        "delimiter": ", "}},
    "3": {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}},
}
RUN_AND_REPORT = """
import sys
from launch.cli import main
code = main(["--base-directory", sys.argv[1], "run", "--quiet", "--json", sys.argv[2]])
print("torch imported:", "torch" in sys.modules)
sys.exit(code)
"""


def test_the_node_index_names_the_module_of_every_core_node():
    assert read_index() == build_index(), "nodes/index.json is stale: run `python -m launch.node_index`"


def test_a_text_workflow_runs_headless_without_importing_torch(tmp_path):
    workflow = tmp_path / "text.json"
    workflow.write_text(json.dumps(TEXT_WORKFLOW))
    done = subprocess.run([sys.executable, "-c", RUN_AND_REPORT, str(tmp_path), str(workflow)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    result, report = done.stdout.strip().splitlines()
    assert json.loads(result)["outputs"] == {"3": {"text": ["a watercolor fox, at dawn"]}}
    assert report == "torch imported: False"


def test_a_node_outside_the_index_loads_every_core_module_and_the_packs(tmp_path):
    pack = tmp_path / "packs" / "greeting_pack"
    pack.mkdir(parents=True)
    (pack / "__init__.py").write_text(
        "class Greeting:\n"
        "    INPUT_TYPES = classmethod(lambda cls: {'required': {}})\n"
        "    RETURN_TYPES = ('STRING',)\n"
        "    FUNCTION = 'run'\n"
        "    def run(self):\n"
        "        return ('hello',)\n"
        "NODE_CLASS_MAPPINGS = {'Greeting': Greeting}\n")
    registry = OnDemandRegistry(Services(), {"PrimitiveString": "nodes.primitives"}, PackReport(),
                                [tmp_path / "packs"])
    assert "PrimitiveString" in registry
    assert registry.source_of("PrimitiveString") == "core"
    assert "Greeting" in registry and registry.source_of("Greeting").endswith("greeting_pack")
    assert "PreviewAny" in registry  # every core module came in before the packs
    assert [p.name for p in registry.report.packs] == ["greeting_pack"]
