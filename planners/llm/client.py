"""One chat-completions request to an OpenAI-compatible server, with the reply's content or a one-line TaskError.

Plain urllib: no dependency. The response is read up to a size limit and a deadline for the whole request;
redirects are refused (a model server has no reason to send the plan request elsewhere), and a server on
this machine is reached without the environment's proxy.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from planners.llm.config import LlmConfig
from planners.llm.validate import show
from planners.plan import TaskError

#: far more than any valid plan (a few hundred bytes); a larger reply is refused unread
MAX_RESPONSE_BYTES = 256 * 1024
_CHUNK = 16 * 1024
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        raise urllib.error.HTTPError(req.full_url, code, f"redirect to {newurl} refused", headers, fp)


def _opener(url: str) -> urllib.request.OpenerDirector:
    handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
    if urlsplit(url).hostname in _LOOPBACK:
        handlers.append(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener(*handlers)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(text: str | bytes) -> Any:
    """json.loads without NaN/Infinity (also as 1e999) and duplicate keys; ValueError (or RecursionError for
    absurd nesting) when the text is not such JSON."""
    def finite(literal: str) -> float:
        value = float(literal)
        if value in (float("inf"), float("-inf")):
            raise ValueError(f"{literal} is not a finite number")
        return value

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate key(s) {', '.join(sorted({k for k in keys if keys.count(k) > 1}))}")
        return dict(pairs)

    return json.loads(text, parse_constant=_reject_constant, parse_float=finite, object_pairs_hook=no_duplicates)


def _read(response: Any, deadline: float, endpoint: str) -> bytes:
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > MAX_RESPONSE_BYTES:
        raise TaskError(f"the LLM endpoint {endpoint} sent {int(length)} bytes, more than {MAX_RESPONSE_BYTES}: "
                        f"refused unread, nothing was run")
    body = b""
    while chunk := response.read(_CHUNK):
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise TaskError(f"the LLM endpoint {endpoint} sent more than {MAX_RESPONSE_BYTES} bytes: refused, "
                            f"nothing was run")
        if time.monotonic() > deadline:
            raise TimeoutError
    return body


def _error_detail(err: urllib.error.HTTPError) -> str:
    """A little of an error body (Ollama says which model is missing there), one line, quoted."""
    try:
        detail = err.read(300).decode("utf-8", "replace") if err.fp is not None else ""
    except OSError:
        detail = ""
    return f": {show(' '.join(detail.split()), 120)}" if detail.strip() else ""


def chat(config: LlmConfig, messages: list[dict[str, str]], schema: dict[str, Any], name: str) -> str:
    """POST the messages with the JSON schema the reply must follow; the assistant message's content."""
    endpoint = config.endpoint
    body = {"model": config.model, "messages": messages, "temperature": 0,
            "response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": schema,
                                                                       "strict": True}}}
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    request = urllib.request.Request(endpoint, data=json.dumps(body).encode(), headers=headers, method="POST")
    deadline = time.monotonic() + config.timeout_s
    try:
        with _opener(endpoint).open(request, timeout=config.timeout_s) as response:
            raw = _read(response, deadline, endpoint)
    except TaskError:  # from _read: already says what went wrong
        raise
    except urllib.error.HTTPError as err:
        raise TaskError(f"the LLM endpoint {endpoint} answered HTTP {err.code} ({err.reason}){_error_detail(err)}; "
                        f"nothing was run") from None
    except urllib.error.URLError as err:
        if isinstance(err.reason, TimeoutError):  # a connect that timed out
            raise _timeout(config) from None
        raise TaskError(f"cannot reach the LLM endpoint {endpoint} ({err.reason}); nothing was run") from None
    except TimeoutError:  # socket.timeout is TimeoutError: a read that timed out, or the deadline passed
        raise _timeout(config) from None
    except (OSError, ValueError) as err:  # a connection reset mid-body, a malformed status line
        raise TaskError(f"the LLM endpoint {endpoint} failed ({type(err).__name__}: {err}); "
                        f"nothing was run") from None
    return _content(raw, endpoint)


def _timeout(config: LlmConfig) -> TaskError:
    return TaskError(f"the LLM endpoint {config.endpoint} did not answer within {config.timeout_s:g} s; "
                     f"nothing was run")


def _content(raw: bytes, endpoint: str) -> str:
    """The assistant's content from a chat-completion body, or TaskError for any other shape."""
    def bad(why: str) -> TaskError:
        return TaskError(f"the LLM endpoint {endpoint} sent {why}, not a chat completion; nothing was run")

    try:
        reply = strict_json(raw)
    except (ValueError, RecursionError):
        raise bad("a body that is not JSON") from None
    choices = reply.get("choices") if isinstance(reply, dict) else None
    if not (isinstance(choices, list) and choices and isinstance(choices[0], dict)):
        raise bad("a reply without choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise bad("a choice without a message")
    refusal = message.get("refusal")  # OpenAI's field for a model that declines
    if isinstance(refusal, str) and refusal.strip():
        raise TaskError(f"the LLM refused the task: {show(' '.join(refusal.split()), 200)}; nothing was run")
    if choices[0].get("finish_reason") == "length":
        raise TaskError("the LLM's answer was cut off at its length limit; nothing was run")
    content = message.get("content")
    if not isinstance(content, str):
        raise bad("a message without text content")
    return content
