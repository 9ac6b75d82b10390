"""The prompt graph walks validation and signing use: sources before readers, cycles detected."""

from engine.graph.dag import Dag


def test_topological_order_puts_every_source_before_its_readers():
    edges = [("a", "c"), ("b", "c"), ("c", "d"), ("a", "d"), ("c", "d")]  # a repeated link counts once per link
    order = Dag(["a", "b", "c", "d", "lonely"], edges).topological_order()
    assert sorted(order) == ["a", "b", "c", "d", "lonely"]
    assert all(order.index(src) < order.index(dst) for src, dst in edges)


def test_a_cycle_has_no_order():
    assert Dag(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "b")]).topological_order() is None
    assert Dag(["a"], [("a", "a")]).topological_order() is None


def test_ancestors_and_descendants_include_the_start_nodes():
    dag = Dag(["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("d", "c")])
    assert dag.ancestors(["c"]) == {"a", "b", "c", "d"}
    assert dag.descendants(["a"]) == {"a", "b", "c"}
    assert dag.descendants(["unknown"]) == {"unknown"}
