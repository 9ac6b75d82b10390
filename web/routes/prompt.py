"""POST /prompt (queue a workflow, API or canvas format; optionally wait for it) and GET /prompt."""

from __future__ import annotations

import asyncio
import uuid

from aiohttp import web

from engine.graph.model_sources import explain_missing_models
from engine.graph.ui_format import is_ui_workflow, ui_to_api
from engine.graph.validation import ValidationResult, validate_prompt
from engine.queue import PromptQueue, QueueItem
from web.nodes_loading import needs_nodes
from web.openapi import documented
from web.schemas import (
    HistoryEntry,
    PromptInfo,
    PromptRequest,
    PromptResponse,
    PromptState,
    bad_request,
    parse_model,
    read_json,
)
from web.state import NODES, PROMPT_TRANSFORMERS, QUEUE, WORKER
from web.webhook import WEBHOOK_KEY, webhook_problem

routes = web.RouteTableDef()


async def _read_request(request: web.Request) -> PromptRequest:
    data = await read_json(request)
    for transform in request.app.get(PROMPT_TRANSFORMERS, ()):
        data = transform(data)
    if not isinstance(data, dict) or "prompt" not in data:
        raise bad_request("no_prompt", "No prompt provided", "the body needs a 'prompt' object")
    return parse_model(PromptRequest, data)


def _to_api(body: PromptRequest, registry) -> tuple[dict, str | None]:
    """The API-format prompt, converting a canvas workflow (kept as extra_pnginfo.workflow)."""
    if not is_ui_workflow(body.prompt):
        return body.prompt, None
    try:
        prompt = ui_to_api(body.prompt, registry)
    except Exception as exc:  # noqa: BLE001 - any way a client's canvas graph is broken is a 400, not a 500
        raise bad_request("invalid_workflow", "Could not convert the canvas workflow",
                          f"{type(exc).__name__}: {exc}") from None
    body.extra_data.setdefault("extra_pnginfo", {}).setdefault("workflow", body.prompt)
    return prompt, "ui"


def _checked(body: PromptRequest, registry, as_sent: bool) -> tuple[dict, str | None, ValidationResult]:
    """(API prompt, "ui" when converted, validation); run in a thread: both walk the whole graph. `as_sent`:
    the body is the JSON the client sent, no node pack's prompt handler changed it."""
    prompt, converted = _to_api(body, registry)
    if body.partial_execution_targets is not None and not body.partial_execution_targets:
        raise bad_request("prompt_no_outputs", "Prompt has no outputs", "partial_execution_targets is empty")
    checked = validate_prompt(prompt, registry, body.partial_execution_targets,
                              parsed_json=as_sent and converted is None)
    pnginfo = body.extra_data.get("extra_pnginfo")
    explain_missing_models(checked.node_errors, pnginfo.get("workflow") if isinstance(pnginfo, dict) else None)
    return prompt, converted, checked


def _queue_item(body: PromptRequest, prompt: dict, checked: ValidationResult, queue: PromptQueue) -> QueueItem:
    """The item to queue: the client's id and priority or fresh ones; a webhook must be allowed. It carries
    the validation along, so the worker need not validate the prompt again."""
    if WEBHOOK_KEY in body.extra_data and (problem := webhook_problem(body.extra_data[WEBHOOK_KEY])):
        raise bad_request("invalid_webhook", "Webhook not allowed", problem)
    number = body.number if body.number is not None else queue.next_number(body.front)
    outputs = list(checked.good_outputs)
    extra_data = dict(body.extra_data)
    if body.client_id:
        extra_data["client_id"] = body.client_id
    return QueueItem(number, body.prompt_id or str(uuid.uuid4()), prompt, extra_data, outputs, prepared=checked)


def _put(request: web.Request, item: QueueItem) -> None:
    try:
        request.app[QUEUE].put(item)
    except ValueError as exc:
        raise bad_request("duplicate_prompt_id", "This prompt_id is already used", str(exc)) from None
    request.app[WORKER].broadcast_status()


async def _put_and_wait(request: web.Request, item: QueueItem) -> HistoryEntry:
    """Queue `item` and answer its history entry once it has finished."""
    worker = request.app[WORKER]
    finished = worker.wait_for(item.prompt_id)  # before queueing: a quick prompt cannot finish unseen
    try:
        _put(request, item)
        return HistoryEntry.model_validate(await finished)
    finally:
        worker.forget_waiter(item.prompt_id, finished)


@routes.post("/prompt")
@needs_nodes
@documented(request=PromptRequest, response=PromptResponse,
            query={"wait": "true: answer once the prompt has finished, with its history entry"})
async def post_prompt(request: web.Request) -> web.Response:
    """Queue a prompt; 400 with node_errors when no output can run."""
    body = await _read_request(request)
    as_sent = not any(request.app.get(PROMPT_TRANSFORMERS, ()))  # a false transformer changes nothing
    prompt, converted, checked = await asyncio.to_thread(_checked, body, request.app[NODES].registry, as_sent)
    if not checked.ok:
        error = checked.error or {"type": "invalid_prompt", "message": "Prompt is invalid", "details": "",
                                  "extra_info": {}}
        return web.json_response({"error": error, "node_errors": checked.node_errors}, status=400)
    item = _queue_item(body, prompt, checked, request.app[QUEUE])
    answer = PromptResponse(prompt_id=item.prompt_id, number=item.number, node_errors=checked.node_errors,
                            converted_from=converted)
    if request.query.get("wait", "").lower() in ("1", "true", "yes"):
        answer.history = await _put_and_wait(request, item)
    else:
        _put(request, item)
    return web.json_response(answer.model_dump(exclude_none=True))


@routes.get("/prompt")
@documented(response=PromptInfo)
async def get_prompt(request: web.Request) -> web.Response:
    """How many prompts are pending or running."""
    return web.json_response({"exec_info": {"queue_remaining": request.app[QUEUE].remaining()}})


@routes.get("/prompt/{prompt_id}")
@documented(response=PromptState)
async def prompt_state(request: web.Request) -> web.Response:
    """Where one prompt is: pending, running, done (see /history/{prompt_id}) or unknown."""
    prompt_id = request.match_info["prompt_id"]
    state = request.app[QUEUE].state_of(prompt_id) or "unknown"
    return web.json_response({"prompt_id": prompt_id, "state": state})
