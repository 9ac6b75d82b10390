"""Every in-scope ComfyUI 0.3.64 core node is served by Loom's /object_info exactly as ComfyUI serves it,
so workflows saved in ComfyUI validate and its frontend draws the same widgets.

One case per node: `pytest tests/nodes/test_object_info_parity.py -k "ImageCrop or GrowMask"` checks just
those (or run `python -m tests.nodes.object_info_diff NAME...`). Nodes in data/not_yet_implemented.txt are
missing or still differ: they are expected to fail (strict), so a node that comes to match fails its case
until it is taken off the list.
"""

import pytest

from tests.nodes.object_info_diff import differences, load_reference, not_yet_implemented, served_object_info

REFERENCE = load_reference()
NOT_YET = not_yet_implemented()


def _case(name: str):
    if name in NOT_YET:
        mark = pytest.mark.xfail(strict=True, reason="listed in tests/nodes/data/not_yet_implemented.txt")
        return pytest.param(name, marks=mark, id=name)
    return pytest.param(name, id=name)


@pytest.fixture(scope="module")
def served():
    return served_object_info()


def test_not_yet_implemented_lists_only_in_scope_nodes_once():
    assert sorted(set(NOT_YET) - set(REFERENCE["nodes"])) == []
    assert len(NOT_YET) == len(set(NOT_YET))


@pytest.mark.parametrize("name", [_case(n) for n in REFERENCE["nodes"]])
def test_node_interface_matches_comfyui(name, served):
    found = differences(name, REFERENCE["nodes"][name], served.get(name),
                        REFERENCE["file_name_inputs"].get(name, []))
    assert not found, "\n".join(found)
