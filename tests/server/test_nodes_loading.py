"""The server answers while its nodes are still loading: the queue at once, and whatever needs the
nodes (their list, a prompt to validate, the packs' files) once they have loaded, never a partial list;
a load that fails gives 503 naming the cause."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest
from aiohttp.test_utils import TestClient, TestServer

from engine.graph.cache import CachePolicy
from engine.graph.context import Services
from engine.graph.executor import Executor
from engine.graph.registry import NodeRegistry
from engine.paths import Folders
from engine.queue import PromptQueue, QueueItem
from tests.server.helpers import TEST_PACK, show_prompt
from web.app import create_app
from web.nodes_loading import ExecutorWhenLoaded, Nodes, NodesLoading
from web.state import ServerConfig

PATIENCE_S = 60  # how long a test waits for an answer it must get (never reached when all is well)


class HeldLoad:
    """A node load that builds the test pack's registry only once the test releases it, or fails."""

    def __init__(self, folders: Folders, config: ServerConfig, failure: Exception | None = None):
        self.folders, self.config, self.failure = folders, config, failure
        self.release = threading.Event()

    def __call__(self) -> Nodes:
        self.release.wait(PATIENCE_S)
        if self.failure is not None:
            raise self.failure
        registry = NodeRegistry(Services(folders=self.folders))
        registry.register_module(TEST_PACK, source="custom_nodes.loom_test_pack")
        js = self.folders.base_dir / "pack_js"
        js.mkdir(exist_ok=True)
        (js / "widget.js").write_text("export const loaded = true;\n")
        self.config.web_extensions["slow_pack"] = js  # as serve's load_nodes puts the packs' JS folders
        return Nodes(registry, Executor(registry, cache=CachePolicy.classic()))


@pytest.fixture
async def loading_server(tmp_path):
    """`await loading_server(failure=None)` -> (client, HeldLoad) on a server whose nodes load in the
    background, held until `load.release.set()`."""
    clients: list[TestClient] = []

    async def start(failure: Exception | None = None) -> tuple[TestClient, HeldLoad]:
        folders = Folders(tmp_path)
        config = ServerConfig(folders=folders)
        load = HeldLoad(folders, config, failure)
        loading = NodesLoading(load)
        queue = PromptQueue(folders.user_dir / "queue.sqlite3")
        client = TestClient(TestServer(create_app(config, loading, ExecutorWhenLoaded(loading), queue),
                                       host="127.0.0.1"))
        await client.start_server()
        loading.start()
        clients.append(client)
        return client, load

    yield start
    for client in clients:
        await client.close()


async def _json(client: TestClient, method: str, path: str, **kwargs) -> tuple[int, object]:
    async with client.request(method, path, **kwargs) as response:
        return response.status, await response.json()


async def test_the_queue_answers_at_once_while_the_nodes_are_still_loading(loading_server):
    client, load = await loading_server()
    assert await _json(client, "GET", "/prompt") == (200, {"exec_info": {"queue_remaining": 0}})
    assert (await _json(client, "GET", "/queue"))[0] == 200
    assert not load.release.is_set()
    load.release.set()


async def test_object_info_asked_during_the_load_answers_the_complete_registry(loading_server):
    client, load = await loading_server()
    asked = asyncio.create_task(_json(client, "GET", "/object_info"))
    one = asyncio.create_task(_json(client, "GET", "/api/object_info/LoomTestAdd"))
    await asyncio.sleep(0.2)
    assert not asked.done() and not one.done()  # waiting: the registry is not built yet
    load.release.set()
    status, info = await asyncio.wait_for(asked, PATIENCE_S)
    assert status == 200 and set(info) == set(TEST_PACK.NODE_CLASS_MAPPINGS)
    status, info = await asyncio.wait_for(one, PATIENCE_S)
    assert status == 200 and list(info) == ["LoomTestAdd"]


async def test_a_prompt_posted_during_the_load_is_accepted_and_runs(loading_server):
    client, load = await loading_server()
    posted = asyncio.create_task(_json(client, "POST", "/prompt?wait=true", json={"prompt": show_prompt(2, 3)}))
    await asyncio.sleep(0.2)
    load.release.set()
    status, answer = await asyncio.wait_for(posted, PATIENCE_S)
    assert status == 200 and answer["history"]["status"]["status_str"] == "success"
    assert answer["history"]["outputs"]["4"] == {"value": [5]}


async def test_a_pack_file_asked_during_the_load_is_served_once_the_pack_has_loaded(loading_server):
    client, load = await loading_server()
    asked = asyncio.create_task(client.get("/extensions/slow_pack/widget.js"))
    await asyncio.sleep(0.2)
    load.release.set()
    response = await asyncio.wait_for(asked, PATIENCE_S)
    assert response.status == 200 and "loaded = true" in await response.text()
    assert await _json(client, "GET", "/extensions") == (200, ["/extensions/slow_pack/widget.js"])


async def test_a_failed_load_answers_503_naming_the_cause_and_the_queue_still_answers(loading_server, caplog):
    client, load = await loading_server(failure=ImportError("No module named 'missing_dependency'"))
    load.release.set()
    for method, path, body in (("GET", "/object_info", None), ("POST", "/prompt", {"prompt": show_prompt()})):
        async with client.request(method, path, json=body) as response:
            text = await response.text()
            assert response.status == 503, text
            assert "ImportError: No module named 'missing_dependency'" in text
    assert (await _json(client, "GET", "/prompt"))[0] == 200
    assert (await client.get("/not_a_route")).status == 404
    assert "the node registry failed to load" in caplog.text


async def test_a_waiter_that_gives_up_before_the_load_starts_does_not_cancel_it(tmp_path):
    folders = Folders(tmp_path)
    load = HeldLoad(folders, ServerConfig(folders=folders))
    load.release.set()
    loading = NodesLoading(load)
    impatient = asyncio.create_task(loading.nodes())
    await asyncio.sleep(0)
    impatient.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await impatient
    await asyncio.sleep(0.01)  # the cancellation reaches the load's own future, if it is ever going to
    loading.start()
    nodes = await asyncio.wait_for(loading.nodes(), PATIENCE_S)
    assert "LoomTestAdd" in nodes.registry


async def test_a_node_error_after_a_background_load_names_files_by_their_folder(loading_server, tmp_path):
    client, load = await loading_server()
    load.release.set()
    (tmp_path / "output" / "clash.txt").mkdir(parents=True)  # the node's open() fails with the full path
    prompt = {"1": {"class_type": "LoomTestWriteText", "inputs": {"value": 1, "name": "clash", "subfolder": ""}}}
    status, answer = await _json(client, "POST", "/prompt?wait=true", json={"prompt": prompt})
    assert status == 200, answer
    [error] = [d for e, d in answer["history"]["status"]["messages"] if e == "execution_error"]
    assert "output/clash.txt" in error["exception_message"] and str(tmp_path) not in error["exception_message"]


async def test_a_prompt_left_queued_waits_for_the_load_before_the_heap_is_frozen(tmp_path, monkeypatch):
    """The worker claims a prompt left from the last run at once; freezing the heap then would leave the
    node registry (loaded afterwards) to every full collection."""
    import web.worker

    loaded_when_tuned: list[bool] = []
    monkeypatch.setattr(web.worker.PromptWorker, "tunes_collector", True)
    folders = Folders(tmp_path)
    config = ServerConfig(folders=folders)
    load = HeldLoad(folders, config)
    loading = NodesLoading(load)
    monkeypatch.setattr(web.worker, "tune_collector", lambda: loaded_when_tuned.append(loading.loaded is not None))
    queue = PromptQueue(folders.user_dir / "queue.sqlite3")
    queue.put(QueueItem(0, "left-from-last-run", show_prompt(2, 3), {}, ["4"]))
    client = TestClient(TestServer(create_app(config, loading, ExecutorWhenLoaded(loading), queue), host="127.0.0.1"))
    await client.start_server()
    try:
        loading.start()
        await asyncio.sleep(0.5)  # the worker has claimed the prompt by now and waits for the nodes
        assert loaded_when_tuned == []
        load.release.set()
        for _ in range(PATIENCE_S * 10):
            _, history = await _json(client, "GET", "/history/left-from-last-run")
            if history:
                break
            await asyncio.sleep(0.1)
        assert history["left-from-last-run"]["status"]["status_str"] == "success"
        assert loaded_when_tuned == [True]
    finally:
        await client.close()
