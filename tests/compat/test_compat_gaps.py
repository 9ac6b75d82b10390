"""ComfyUI behaviours popular packs rely on: display-only nodes register, short output tuples only fail
where a missing output is read, VideoComponents is built positionally, on-prompt handlers rewrite prompts."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfy_compat.server import PromptServer
from engine.graph.cache import CachePolicy
from engine.graph.executor import Executor
from tests.compat.conftest import loaded_registry, served
from tests.server.helpers import run_and_wait

GAPS_PACKS = Path(__file__).parent / "packs_gaps"


@pytest.fixture
def gaps(tmp_path):
    """The gaps pack loaded; the on-prompt handlers it adds to the process-wide PromptServer are removed after."""
    handlers = list(PromptServer.instance.on_prompt_handlers)
    loaded = loaded_registry(tmp_path, GAPS_PACKS)
    [pack] = loaded.report.packs
    assert pack.ok, pack.error
    yield loaded
    PromptServer.instance.on_prompt_handlers[:] = handlers


def run(loaded, prompt):
    return Executor(loaded.registry, cache=CachePolicy.none()).run(prompt, "p1", lambda event: None)


def shown(value_link) -> dict:
    return {"class_type": "GapsShow", "inputs": {"value": value_link}}


def test_a_node_without_function_is_listed_and_fails_only_when_run(gaps):
    info = gaps.registry.object_info_for("GapsDisplayOnly")
    assert info["output_node"] is True and info["input"]["required"]["text"][0] == "STRING"
    result = run(gaps, {"1": {"class_type": "GapsDisplayOnly", "inputs": {"text": "hi"}}})
    assert result.status == "error"
    assert result.error["node_id"] == "1"
    assert "GapsDisplayOnly cannot run" in result.error["exception_message"]


def test_a_v1_node_returning_fewer_outputs_runs_and_its_missing_output_reads_as_none(gaps):
    result = run(gaps, {"1": {"class_type": "GapsShortV1", "inputs": {"value": 4}},
                        "2": shown(["1", 0]), "3": shown(["1", 1])})
    assert result.status == "success", result.error
    assert result.outputs["2"] == {"value": [40]}
    assert result.outputs["3"] == {"value": [None]}


def test_short_outputs_mapped_over_a_list_keep_the_returned_slot_and_give_one_none(gaps):
    result = run(gaps, {"1": {"class_type": "GapsRange", "inputs": {"count": 3}},
                        "2": {"class_type": "GapsShortV1", "inputs": {"value": ["1", 0]}},
                        "3": shown(["2", 0]), "4": shown(["2", 1])})
    assert result.status == "success", result.error
    assert result.outputs["3"] == {"value": [0, 10, 20]}
    assert result.outputs["4"] == {"value": [None]}


def test_a_v3_node_output_with_fewer_values_passes_none_downstream(gaps):
    result = run(gaps, {"1": {"class_type": "GapsShortV3", "inputs": {"value": 4}},
                        "2": shown(["1", 0]), "3": shown(["1", 1]),
                        "4": {"class_type": "GapsNoResultV3", "inputs": {"value": 7}}, "5": shown(["4", 0])})
    assert result.status == "success", result.error
    assert result.outputs["2"] == {"value": [5]}
    assert result.outputs["3"] == {"value": [None]}
    assert result.outputs["4"] == {"text": ["7"]}
    assert result.outputs["5"] == {"value": [None]}


def test_video_components_built_positionally_give_the_videos_duration(gaps):
    result = run(gaps, {"1": {"class_type": "GapsVideoDuration", "inputs": {"frames": 6, "fps": 4}},
                        "2": shown(["1", 0]), "3": shown(["1", 1])})
    assert result.status == "success", result.error
    assert result.outputs["2"] == {"value": [1.5]}
    assert result.outputs["3"] == {"value": [4]}


async def test_a_packs_on_prompt_handler_rewrites_the_prompt_and_a_failing_one_is_skipped(gaps, caplog):
    async with served(gaps) as client:
        answer = await run_and_wait(client, {"1": shown("rewrite me")})
    assert answer["history"]["outputs"]["1"] == {"value": ["rewritten by the pack"]}
    assert answer["history"]["prompt"][2]["1"]["inputs"]["value"] == "rewritten by the pack"
    assert "a broken on-prompt handler" in caplog.text


def _links_as_tuples(json_data):
    for node in json_data.get("prompt", {}).values():
        node["inputs"] = {name: tuple(value) if isinstance(value, list) else value
                          for name, value in node["inputs"].items()}
    return json_data


async def test_a_prompt_a_handler_changed_is_validated_even_when_its_json_text_is_unchanged(gaps):
    """A prompt is recognised by its JSON text only as the client sent it: a handler may put in values JSON
    cannot hold (a tuple where a link was), and the server must judge those, not the prompt they look like."""
    prompt = {"1": {"class_type": "GapsRange", "inputs": {"count": 2}}, "2": shown(["1", 0])}
    async with served(gaps) as client:
        linked = await run_and_wait(client, prompt)
        PromptServer.instance.add_on_prompt_handler(_links_as_tuples)
        literal = await run_and_wait(client, prompt)
    assert linked["history"]["outputs"]["2"] == {"value": [0, 1]}
    assert literal["history"]["outputs"]["2"] == {"value": [["1", 0]]}  # the tuple, shown as a value
