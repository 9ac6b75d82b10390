"""GLIGEN under the model manager: the loader reads no weights, a sampler run places the model (pinned, in the
budget) and later runs find it there; a budget too small for two GLIGEN files offloads the one used least
recently and reloads it with the same result; an fp16 file is held in fp16 and gives what its fp32 values
give (manual cast)."""

import torch
from safetensors.torch import save_file

from engine.memory import ModelManager
from engine.values.gligen import GligenModel, gligen_model, gligens_bound
from tests.fixtures.checkpoints import make_tiny_checkpoint
from tests.fixtures.gligen_file import tiny_gligen_state_dict
from tests.fixtures.workflow_runner import Loom
from tests.gligen.test_gligen import CKPT, _prompt, _sample

LATENT = (2, 4, 8, 8)


def _gligen_file(folder, name, seed=0, dtype=torch.float32):
    path = folder / name
    save_file({k: v.to(dtype) for k, v in tiny_gligen_state_dict(seed).items()}, str(path))
    return path


def _conds(*values: GligenModel) -> dict[str, list]:
    phrase = torch.linspace(-1, 1, 32)[None]
    return {"positive": [[torch.zeros(1, 5, 32), {"gligen": ("position", value, [(phrase, 4, 4, 0, 2)])}]
                         for value in values],
            "negative": [[torch.zeros(1, 5, 32), {}]]}


def _patched(bound: dict[str, list], index: int = 0) -> torch.Tensor:
    """The first fuser's middle patch for the entry's boxes, on a fixed input."""
    _, module, boxes = bound["positive"][index][1]["gligen"]
    patch = module.set_position(LATENT, boxes, "cpu")
    x = torch.linspace(-2, 2, 2 * 64 * 32).reshape(2, 64, 32)
    with torch.no_grad():
        return patch(x, {"transformer_index": 0})


def _moves(events, name):
    return [(e.type, e.data["to"]) for e in events if e.data["model"] == name]


def _budget_for_one(tmp_path):
    """A manager whose RAM budget holds one tiny GLIGEN file and a half, its events, two GLIGEN values and
    the bytes of one."""
    size = sum(t.numel() * 4 for t in tiny_gligen_state_dict().values())
    events = []
    manager = ModelManager(device="cpu", ram_budget=int(size * 1.5), on_event=events.append)
    a = gligen_model(manager, _gligen_file(tmp_path, "a.safetensors"), "a")
    b = gligen_model(manager, _gligen_file(tmp_path, "b.safetensors", seed=1), "b")
    return manager, events, a, b, size


def test_a_budget_for_one_gligen_offloads_the_other_and_reloads_it_alike(tmp_path):
    manager, events, a, b, size = _budget_for_one(tmp_path)
    assert manager.used("cpu") == 0  # nothing read yet

    with gligens_bound(manager, _conds(a)) as bound:
        before = _patched(bound)
        assert manager.used("cpu") == size
    with gligens_bound(manager, _conds(b)):
        pass
    with gligens_bound(manager, _conds(a)) as bound:
        again = _patched(bound)

    assert _moves(events, "a.safetensors (gligen)") == [("model_load", "cpu"), ("model_offload", "disk"),
                                                        ("model_load", "cpu")]
    assert _moves(events, "b.safetensors (gligen)") == [("model_load", "cpu"), ("model_offload", "disk")]
    assert not any(e.data["over_budget"] for e in events if e.type == "model_load")
    torch.testing.assert_close(again, before, rtol=0, atol=0)


def test_two_gligen_models_of_one_run_stay_placed_together(tmp_path):
    manager, events, a, b, _ = _budget_for_one(tmp_path)
    with gligens_bound(manager, _conds(a, b)) as bound:
        assert [entry[1]["gligen"][1] for entry in bound["positive"]] != [a, b]
        assert {row["model"] for row in manager.summary() if row["location"] == "cpu"} == {
            "a.safetensors (gligen)", "b.safetensors (gligen)"}
        assert not torch.equal(_patched(bound, 0), _patched(bound, 1))
    assert [e.type for e in events] == ["model_load", "model_load"]
    assert events[1].data["over_budget"]  # pinned: the second goes over the budget rather than evict the first


def test_fp16_file_is_held_in_fp16_and_matches_its_fp32_values(tmp_path):
    half = gligen_model(ModelManager(device="cpu"), _gligen_file(tmp_path, "h.safetensors", dtype=torch.float16), "h")
    rounded = {k: v.half().float() for k, v in tiny_gligen_state_dict().items()}
    save_file(rounded, str(tmp_path / "f.safetensors"))
    full = gligen_model(half.handle.manager, tmp_path / "f.safetensors", "f")
    manager = half.handle.manager
    assert manager.manual_cast
    with gligens_bound(manager, _conds(half, full)) as bound:
        modules = [entry[1]["gligen"][1] for entry in bound["positive"]]
        held = {row["model"]: row["bytes"] for row in manager.summary()}
        torch.testing.assert_close(_patched(bound, 0), _patched(bound, 1), rtol=1e-5, atol=1e-5)
    assert [{p.dtype for p in module.parameters()} for module in modules] == [{torch.float16}, {torch.float32}]
    # the fp16 weights, plus one fp32 layer's scratch for the cast (LayerStreamer's footprint)
    assert held["h.safetensors (gligen)"] < 0.85 * held["f.safetensors (gligen)"]


def test_loader_reads_nothing_and_a_second_prompt_finds_the_model_placed(tmp_path):
    models = tmp_path / "models"
    (models / "gligen").mkdir(parents=True)
    (models / "checkpoints").mkdir()
    make_tiny_checkpoint("sd15", models / "checkpoints" / CKPT)
    _gligen_file(models / "gligen", "gligen_sd14_textbox_pruned.safetensors")
    loom = Loom(tmp_path / "base", models)
    name = "gligen_sd14_textbox_pruned.safetensors (gligen)"

    no_sampler = _prompt([(32, 32, 0, 0)])
    no_sampler["9"] = {"class_type": "CaptureConditioning", "inputs": {"conditioning": ["b0", 0]}}
    del no_sampler["6"]
    loom.run(no_sampler)
    assert [row["location"] for row in loom.manager.summary() if row["model"] == name] == ["disk"]

    first, second = _sample(loom, [(32, 32, 0, 0)]), _sample(loom, [(32, 32, 0, 0)])
    assert [(kind, to) for kind, model, to in loom.model_events() if model == name] == [("model_load", "cpu")]
    torch.testing.assert_close(first, second, rtol=0, atol=0)
