"""Hook keyframes made by Loom's nodes, and the strength each applies step by step, equal ComfyUI 0.3.64's
(data/keyframes_reference.json, written by tools/comfy_reference/hooks_reference.py from ComfyUI itself):
keyframes switch strength at their start percent, at most one per step while each guarantees a step."""

import json
from pathlib import Path

import pytest

from engine.sampling.hooks import keyframe_strength
from engine.sampling.model_sampling import model_sampling_for
from nodes import hooks as hook_nodes

REFERENCE = json.loads((Path(__file__).parent / "data/keyframes_reference.json").read_text())


def _keyframes(chain):
    keyframes = None
    for name, inputs in chain:
        (keyframes,) = getattr(hook_nodes, name)(**inputs, prev_hook_kf=keyframes).run(None)
    return keyframes


@pytest.mark.parametrize("case", sorted(REFERENCE["cases"]))
def test_keyframe_nodes_make_comfyuis_keyframes(case):
    expected = REFERENCE["cases"][case]
    got = [[k.strength, k.start_percent, k.guarantee_steps] for k in _keyframes(expected["chain"])]
    assert len(got) == len(expected["keyframes"])
    for g, e in zip(got, expected["keyframes"]):
        assert g[0] == pytest.approx(e[0], abs=1e-6) and g[1] == pytest.approx(e[1], abs=1e-6) and g[2] == e[2]


@pytest.mark.parametrize("schedule", sorted(REFERENCE["schedules"]))
@pytest.mark.parametrize("case", sorted(REFERENCE["cases"]))
def test_strength_at_each_step_matches_comfyui(case, schedule):
    expected = REFERENCE["cases"][case]
    sigmas = REFERENCE["schedules"][schedule]
    keyframes = _keyframes(expected["chain"])
    percent_to_sigma = model_sampling_for("eps").percent_to_sigma
    got = [keyframe_strength(keyframes, sigma, sigmas, percent_to_sigma) for sigma in sigmas[:-1]]
    assert got == pytest.approx(expected["strengths"][schedule], abs=1e-6)
