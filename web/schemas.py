"""Request and response bodies of the HTTP API as pydantic models.

Handlers parse bodies through `parse_body`, so a malformed body is a 400 that names the field;
/openapi.json is generated from the same models. Field names follow the ComfyUI wire format.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from web.bodies import BodyError, loads_strict, read_limited

M = TypeVar("M", bound=BaseModel)


class _Open(BaseModel):
    """Unknown keys are kept: clients send more than we read."""

    model_config = ConfigDict(extra="allow")


class PromptRequest(_Open):
    prompt: dict[str, Any] = Field(description="API-format prompt, or a UI-format workflow (nodes + links)")
    client_id: str | None = Field(None, description="websocket clientId that receives this prompt's events")
    prompt_id: str | None = Field(None, description="client-chosen id; a fresh UUID when absent")
    number: float | None = Field(None, description="priority: lower runs first")
    front: bool = Field(False, description="jump ahead of every queued prompt")
    extra_data: dict[str, Any] = Field(default_factory=dict, description="extra_pnginfo, client data")
    partial_execution_targets: list[str] | None = Field(None, description="run only these output nodes")


class HistoryStatus(BaseModel):
    status_str: str
    completed: bool
    messages: list[list[Any]]


class HistoryEntry(BaseModel):
    prompt: list[Any]
    outputs: dict[str, Any]
    status: HistoryStatus
    meta: dict[str, Any] = Field(default_factory=dict)


class PromptResponse(BaseModel):
    prompt_id: str
    number: float
    node_errors: dict[str, Any]
    converted_from: Literal["ui"] | None = Field(None, description="set when a UI-format workflow was converted")
    history: HistoryEntry | None = Field(None, description="with ?wait=true: the finished history entry")


class ErrorInfo(BaseModel):
    type: str
    message: str
    details: str = ""
    extra_info: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    error: ErrorInfo
    node_errors: dict[str, Any] = Field(default_factory=dict)


class ExecInfo(BaseModel):
    queue_remaining: int


class PromptInfo(BaseModel):
    exec_info: ExecInfo


class PromptState(BaseModel):
    prompt_id: str
    state: Literal["pending", "running", "done", "unknown"]


class QueueResponse(BaseModel):
    queue_running: list[list[Any]] = Field(description="(number, prompt_id, prompt, extra_data, outputs)")
    queue_pending: list[list[Any]]
    paused: bool = Field(False, description="no new prompt starts while paused")


class _BulkEdit(_Open):
    clear: bool = False
    delete: list[str] = Field(default_factory=list)


class QueueEdit(_BulkEdit):
    pause: bool | None = Field(None, description="true: start no new prompt until false")


class HistoryEdit(_BulkEdit):
    delete_files: bool = Field(False, description="also delete the output/temp files the entries list")


class InterruptRequest(_Open):
    prompt_id: str | None = Field(None, description="interrupt only this prompt (cancels it if pending)")


class FreeRequest(_Open):
    unload_models: bool = False
    free_memory: bool = False


class FileRef(BaseModel):
    """A file in one of the input/output/temp folders (also the /upload response)."""

    name: str
    subfolder: str = ""
    type: Literal["input", "output", "temp"] = "input"


class OriginalRef(_Open):
    filename: str
    subfolder: str = ""
    type: Literal["input", "output", "temp"] = "input"


class DeletedResponse(BaseModel):
    deleted: FileRef


class Features(_Open):
    supports_preview_metadata: bool
    max_upload_size: int


def bad_request(type_: str, message: str, details: str = "", **extra_info: Any) -> web.HTTPBadRequest:
    """A 400 carrying the ComfyUI error shape."""
    body = ErrorResponse(error=ErrorInfo(type=type_, message=message, details=details, extra_info=extra_info))
    return web.HTTPBadRequest(text=body.model_dump_json(), content_type="application/json")


def validation_error(exc: ValidationError) -> web.HTTPBadRequest:
    """Turn pydantic's errors into a 400 that names each bad field."""
    fields = [{"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]} for e in exc.errors()]
    details = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return bad_request("invalid_request", "Request body failed validation", details, errors=fields)


def parse_model(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


async def read_json(request: web.Request) -> Any:
    """The JSON body (an empty body is `{}`); 413 past --max-prompt-size, 400 when it does not parse
    or holds what Loom refuses (NaN, huge integers, deep nesting)."""
    from web.state import CONFIG

    raw = await read_limited(request, request.app[CONFIG].max_prompt_bytes, "--max-prompt-size")
    if not raw.strip():
        return {}
    try:
        return loads_strict(raw)
    except BodyError as exc:
        raise bad_request("invalid_json", "Request body is not valid JSON", str(exc)) from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    """Read the JSON body (empty = `{}`) as `model`."""
    return parse_model(model, await read_json(request))
