"""Custom node packs: each imported on its own, failures and clashes reported, core nodes protected."""

import textwrap
import types

import pytest
from graph_nodes import Const

from engine.graph.packs import load_packs
from engine.graph.registry import NodeRegistry, build_default_registry

V1_NODE = '''
class {cls}:
    CATEGORY = "pack"
    RETURN_TYPES = ("INT",)
    FUNCTION = "go"

    @classmethod
    def INPUT_TYPES(cls):
        return {{"required": {{"value": ("INT", {{"default": {value}}})}}}}

    def go(self, value):
        return (value + {value},)
'''


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def packs_dir(tmp_path):
    root = tmp_path / "custom_nodes"
    write(root / "alpha" / "__init__.py", """
        from .nodes import Alpha
        NODE_CLASS_MAPPINGS = {"Alpha": Alpha, "Shared": Alpha}
        NODE_DISPLAY_NAME_MAPPINGS = {"Alpha": "Alpha Node"}
        WEB_DIRECTORY = "./js"
    """)
    write(root / "alpha" / "nodes.py", V1_NODE.format(cls="Alpha", value=1))
    (root / "alpha" / "js").mkdir()
    write(root / "broken" / "__init__.py", "import does_not_exist_anywhere\n")
    write(root / "single.py", V1_NODE.format(cls="Single", value=2)
          + 'NODE_CLASS_MAPPINGS = {"Single": Single, "Shared": Single, "Const": Single}\n')
    write(root / "off.py.disabled", "raise SystemExit('must not be imported')\n")
    write(root / "off_pack.disabled" / "__init__.py", "raise SystemExit('must not be imported')\n")
    (root / "__pycache__").mkdir()
    write(root / "notes.txt", "not a pack")
    return root


def core_registry():
    registry = NodeRegistry()
    core = types.ModuleType("core_nodes")
    core.Const = Const
    registry.register_module(core)
    return registry


def test_packs_load_independently_and_failures_carry_a_traceback(packs_dir):
    registry = core_registry()
    report = load_packs(registry, [packs_dir])
    by_name = {p.name: p for p in report.packs}
    assert sorted(by_name) == ["alpha", "broken", "single"]
    assert by_name["alpha"].ok and by_name["single"].ok
    assert not by_name["broken"].ok
    assert "does_not_exist_anywhere" in by_name["broken"].error and "Traceback" in by_name["broken"].error
    assert [p.name for p in report.failed] == ["broken"]
    assert "Alpha" in registry and "Single" in registry
    assert all(p.seconds >= 0 for p in report.packs)
    assert "IMPORT FAILED" in report.summary()


def test_pack_nodes_run_from_their_own_module_name(packs_dir):
    registry = core_registry()
    load_packs(registry, [packs_dir])
    info = registry.object_info_for("Alpha")
    assert info["python_module"].startswith("custom_nodes.alpha")  # suffixed if another "alpha" was loaded
    assert info["display_name"] == "Alpha Node"
    assert registry.source_of("Single").startswith("custom_nodes.single")


def test_name_clash_first_pack_wins_and_core_cannot_be_replaced(packs_dir):
    registry = core_registry()
    report = load_packs(registry, [packs_dir])
    assert registry.get("Shared").cls.__name__ == "Alpha"
    assert registry.get("Const").cls is Const
    assert any(c.startswith("Shared:") and "first registration wins" in c for c in report.clashes)
    assert any(c.startswith("Const:") and "core nodes cannot be replaced" in c for c in report.clashes)


def test_web_directory_is_recorded_for_the_server(packs_dir):
    report = load_packs(core_registry(), [packs_dir])
    [alpha] = [p for p in report.packs if p.name == "alpha"]
    assert report.web_directories() == {alpha.name: (packs_dir / "alpha" / "js").resolve()}


def test_extra_pack_folders_are_loaded_too(packs_dir, tmp_path):
    extra = tmp_path / "more_nodes"
    write(extra / "gamma.py", V1_NODE.format(cls="Gamma", value=3) + 'NODE_CLASS_MAPPINGS = {"Gamma": Gamma}\n')
    registry = core_registry()
    load_packs(registry, [packs_dir, extra, tmp_path / "missing"])
    assert "Gamma" in registry


def test_same_pack_name_in_two_folders_gets_distinct_modules(tmp_path):
    for folder, value in (("a", 1), ("b", 2)):
        write(tmp_path / folder / "twin.py", V1_NODE.format(cls=f"Twin{value}", value=value)
              + f'NODE_CLASS_MAPPINGS = {{"Twin{value}": Twin{value}}}\n')
    report = load_packs(NodeRegistry(), [tmp_path / "a", tmp_path / "b"])
    assert len({p.module for p in report.packs}) == 2 and all(p.ok for p in report.packs)


def test_default_registry_has_core_nodes_then_packs(packs_dir):
    registry, report = build_default_registry(None, [packs_dir])
    assert report.core_errors == []
    core = [n for n in registry.names() if registry.source_of(n) == "core"]
    assert core, "no core nodes were registered from the nodes package"
    assert "Alpha" in registry and registry.source_of("Alpha").startswith("custom_nodes.alpha")


def test_broken_class_is_reported_and_the_rest_of_its_pack_still_registers(tmp_path):
    write(tmp_path / "mixed.py", V1_NODE.format(cls="Fine", value=1) + """
class Broken:
    RETURN_TYPES = ()
    FUNCTION = "go"

    @classmethod
    def INPUT_TYPES(cls):
        raise RuntimeError("needs a GPU")

NODE_CLASS_MAPPINGS = {"Broken": Broken, "Fine": Fine}
""")
    registry = NodeRegistry()
    [pack] = load_packs(registry, [tmp_path]).packs
    assert "Fine" in registry and "Broken" not in registry
    assert pack.ok  # the pack loads; the broken node is reported with its traceback
    [error] = pack.node_errors
    assert "Broken: RuntimeError: needs a GPU" in error and 'mixed.py", line 20, in INPUT_TYPES' in error


def test_object_info_skips_a_node_whose_declaration_breaks_later(tmp_path):
    class Flaky:
        RETURN_TYPES = ()
        FUNCTION = "go"
        calls = 0

        @classmethod
        def INPUT_TYPES(cls):
            cls.calls += 1
            if cls.calls > 1:
                raise OSError("folder vanished")
            return {"required": {}}

    registry = core_registry()
    registry.register(Flaky)
    info = registry.object_info()
    assert "Const" in info and "Flaky" not in info
