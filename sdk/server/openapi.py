"""The OpenAPI 3.1 description of the job API, written by hand (served at /openapi.json).

The task list and each task's arguments are read from the Client's signatures (protocol.py),
so the schema cannot drift from what the server accepts.
"""

from __future__ import annotations

from functools import cache

from reelpoet.sdk import __version__
from reelpoet.sdk.client import TASK_METHODS
from reelpoet.sdk.server.protocol import MEDIA_ARGUMENTS, allowed_parameters

_ERROR = {"$ref": "#/components/schemas/Error"}
_JOB = {"$ref": "#/components/schemas/Job"}
_JSON_SCHEMA = {
    "prompt": {"type": "string"},
    "seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 60},
    "aspect": {"type": "number", "minimum": 0.2, "maximum": 5},
    "head": {"type": "boolean"},
    "seed": {"type": "integer", "minimum": 0},
    "temperature": {"type": "number", "minimum": 0, "maximum": 10},
    "top_k": {"type": "integer", "minimum": 0},
    "top_p": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "guidance_scale": {"type": "number", "minimum": 0, "maximum": 20},
    "mask": {
        "type": "array",
        "items": {"type": "integer"},
        "minItems": 4,
        "maxItems": 4,
        "description": "a box x0, y0, x1, y1 in source pixels (or upload a mask)",
    },
}


def _errors(*codes: int) -> dict:
    text = {
        401: "missing or wrong token",
        404: "no such job for this token",
        413: "upload too large",
        422: "invalid request or media",
        429: "queue full or token at its limit (see Retry-After)",
    }
    return {
        str(c): {"description": text[c], "content": {"application/json": {"schema": _ERROR}}}
        for c in codes
    }


def _task_params() -> dict:
    """Each task's JSON arguments, as a oneOf keyed by the task."""
    variants = []
    for task in TASK_METHODS:
        allowed, required = allowed_parameters(task)
        json_names = sorted(n for n in allowed if n not in MEDIA_ARGUMENTS or n == "mask")
        variants.append(
            {
                "title": task,
                "type": "object",
                "properties": {n: _JSON_SCHEMA[n] for n in json_names},
                "required": sorted(n for n in required if n not in MEDIA_ARGUMENTS),
                "additionalProperties": False,
            }
        )
    return {"oneOf": variants}


def _job_path(summary: str, response: dict, codes=(401, 404)) -> dict:
    parameters = [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "summary": summary,
        "parameters": parameters,
        "responses": {**response, **_errors(*codes)},
    }


@cache
def openapi_schema() -> dict:
    job_json = {"content": {"application/json": {"schema": _JOB}}}
    upload = {"type": "string", "format": "binary"}
    submit_body = {
        "type": "object",
        "required": ["task"],
        "properties": {
            "task": {"type": "string", "enum": list(TASK_METHODS)},
            "params": {"type": "string", "description": "JSON object: the task's arguments"},
            **{name: upload for name in MEDIA_ARGUMENTS},
        },
    }
    submit = {
        "summary": "Submit a job",
        "description": "Uploads (source, image, mask) are a media file or a .npz of arrays.",
        "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}],
        "requestBody": {"content": {"multipart/form-data": {"schema": submit_body}}},
        "responses": {
            "201": {"description": "queued", **job_json},
            "200": {"description": "the job this Idempotency-Key already made", **job_json},
            **_errors(401, 413, 422, 429),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "reelpoet job API", "version": __version__},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "type": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
                "Job": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "task": {"type": "string"},
                        "state": {
                            "enum": [
                                "queued",
                                "running",
                                "succeeded",
                                "failed",
                                "cancelled",
                                "interrupted",
                            ]
                        },
                        "progress": {
                            "type": "object",
                            "properties": {
                                "done": {"type": "integer"},
                                "total": {"type": "integer"},
                            },
                        },
                        "error": {"type": ["object", "null"]},
                        "result": {"type": ["string", "null"]},
                        "expired": {
                            "type": "boolean",
                            "description": "the result was deleted after the server's keep "
                            "time (GET .../result answers 410)",
                        },
                        "attempts": {
                            "type": "integer",
                            "description": "times a worker started the job: more than 1 when a "
                            "server restart ran it again",
                        },
                    },
                },
                "TaskParams": _task_params(),
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/jobs": {"post": submit},
            "/v1/jobs/{job_id}": {
                "get": _job_path(
                    "Status and progress", {"200": {"description": "the job", **job_json}}
                ),
                "delete": _job_path("Cancel", {"202": {"description": "cancelling", **job_json}}),
            },
            "/v1/jobs/{job_id}/events": {
                "get": _job_path(
                    "The status as server-sent events until the job ends",
                    {"200": {"description": "SSE", "content": {"text/event-stream": {}}}},
                )
            },
            "/v1/jobs/{job_id}/result": {
                "get": _job_path(
                    "The result: frames, fps, audio, sample_rate, metadata (or score) as .npz",
                    {"200": {"description": ".npz", "content": {"application/x-npz": {}}}},
                    (401, 404, 422),
                )
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "security": [],
                    "responses": {"200": {"description": "alive"}},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: workers running and room in the queue",
                    "security": [],
                    "responses": {"200": {"description": "ready"}, "503": {"description": "busy"}},
                }
            },
        },
    }
