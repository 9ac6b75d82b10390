"""POST /prompt (queue a workflow, API or canvas format; optionally wait for it) and GET /prompt."""

from __future__ import annotations

import asyncio
import json
import uuid

from aiohttp import web

from engine.graph.ui_format import is_ui_workflow, ui_to_api
from engine.graph.validation import validate_prompt
from engine.queue import QueueItem
from web.openapi import documented
from web.schemas import (
    HistoryEntry,
    PromptInfo,
    PromptRequest,
    PromptResponse,
    PromptState,
    bad_request,
    parse_model,
)
from web.state import QUEUE, REGISTRY, WORKER
from web.webhook import WEBHOOK_KEY, webhook_problem

routes = web.RouteTableDef()


async def _read_request(request: web.Request) -> PromptRequest:
    try:
        data = json.loads(await request.read() or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request("invalid_json", "Request body is not valid JSON", str(exc)) from None
    if not isinstance(data, dict) or "prompt" not in data:
        raise bad_request("no_prompt", "No prompt provided", "the body needs a 'prompt' object")
    return parse_model(PromptRequest, data)


def _to_api(body: PromptRequest, registry) -> tuple[dict, str | None]:
    """The API-format prompt, converting a canvas workflow (kept as extra_pnginfo.workflow)."""
    if not is_ui_workflow(body.prompt):
        return body.prompt, None
    try:
        prompt = ui_to_api(body.prompt, registry)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise bad_request("invalid_workflow", "Could not convert the canvas workflow", str(exc)) from None
    body.extra_data.setdefault("extra_pnginfo", {}).setdefault("workflow", body.prompt)
    return prompt, "ui"


@routes.post("/prompt")
@documented(request=PromptRequest, response=PromptResponse,
            query={"wait": "true: answer once the prompt has finished, with its history entry"})
async def post_prompt(request: web.Request) -> web.Response:
    """Queue a prompt; 400 with node_errors when no output can run."""
    body = await _read_request(request)
    registry, queue, worker = request.app[REGISTRY], request.app[QUEUE], request.app[WORKER]
    prompt, converted = await asyncio.to_thread(_to_api, body, registry)
    if body.partial_execution_targets is not None and not body.partial_execution_targets:
        raise bad_request("prompt_no_outputs", "Prompt has no outputs", "partial_execution_targets is empty")
    checked = await asyncio.to_thread(validate_prompt, prompt, registry, body.partial_execution_targets)
    if not checked.ok:
        error = checked.error or {"type": "invalid_prompt", "message": "Prompt is invalid", "details": "",
                                  "extra_info": {}}
        return web.json_response({"error": error, "node_errors": checked.node_errors}, status=400)

    if WEBHOOK_KEY in body.extra_data and (problem := webhook_problem(body.extra_data[WEBHOOK_KEY])):
        raise bad_request("invalid_webhook", "Webhook not allowed", problem)
    prompt_id = body.prompt_id or str(uuid.uuid4())
    number = body.number if body.number is not None else queue.next_number(body.front)
    extra_data = dict(body.extra_data)
    if body.client_id:
        extra_data["client_id"] = body.client_id
    wait = request.query.get("wait", "").lower() in ("1", "true", "yes")
    future = worker.wait_for(prompt_id) if wait else None
    try:
        queue.put(QueueItem(number, prompt_id, prompt, extra_data, list(checked.good_outputs)))
    except ValueError as exc:
        if future is not None:
            worker.forget_waiter(prompt_id, future)
        raise bad_request("duplicate_prompt_id", "This prompt_id is already used", str(exc)) from None
    worker.broadcast_status()
    answer = PromptResponse(prompt_id=prompt_id, number=number, node_errors=checked.node_errors,
                            converted_from=converted)
    if future is not None:
        try:
            answer.history = HistoryEntry.model_validate(await future)
        finally:
            worker.forget_waiter(prompt_id, future)
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
