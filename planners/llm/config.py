"""Where the optional LLM planner finds its model: an OpenAI-compatible endpoint, from code or the environment."""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

#: the environment variables LlmConfig.from_env reads (docs/LLM_PLANNER.md)
ENV_URL, ENV_MODEL, ENV_API_KEY, ENV_TIMEOUT = ("SKILL_STACK_LLM_URL", "SKILL_STACK_LLM_MODEL",
                                                "SKILL_STACK_LLM_API_KEY", "SKILL_STACK_LLM_TIMEOUT")
#: llama.cpp's server ignores the model name; Ollama and vLLM need the name they serve
DEFAULT_MODEL = "default"
DEFAULT_TIMEOUT_S = 30.0
MAX_TIMEOUT_S = 600.0
#: a task of more steps than this is refused (the rendered plan must also fit the parser's task length)
DEFAULT_MAX_STEPS = 6
MAX_STEPS_LIMIT = 10


@dataclass(frozen=True)
class LlmConfig:
    """An OpenAI-compatible chat-completions endpoint.

    base_url: the API root, ending where '/chat/completions' is appended (http://127.0.0.1:8080/v1 for
    llama.cpp's llama-server, http://127.0.0.1:11434/v1 for Ollama, http://127.0.0.1:8000/v1 for vLLM); http or
    https only. model: the model name the server expects. api_key: sent as 'Authorization: Bearer' when set
    (never printed). timeout_s: for the whole request, connecting to the last byte. max_steps: the most steps
    the model may plan for one task (1..10).
    Raises ValueError (one line) for a value that cannot work.
    """

    base_url: str
    model: str = DEFAULT_MODEL
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_steps: int = DEFAULT_MAX_STEPS

    def __post_init__(self) -> None:
        url = urlsplit(self.base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"the LLM URL must be http:// or https:// with a host, e.g. http://127.0.0.1:8080/v1; "
                             f"got {self.base_url!r}")
        if url.query or url.fragment or any(c.isspace() for c in self.base_url):
            raise ValueError(f"the LLM URL must be a plain API root without a query or spaces, got {self.base_url!r}")
        if not self.model.strip() or len(self.model) > 200 or not self.model.isprintable():
            raise ValueError(f"the LLM model name must be 1-200 printable characters, got {self.model!r}")
        if not (isinstance(self.timeout_s, (int, float)) and math.isfinite(self.timeout_s)
                and 0 < self.timeout_s <= MAX_TIMEOUT_S):
            raise ValueError(f"the LLM timeout must be a number of seconds in (0, {MAX_TIMEOUT_S:g}], "
                             f"got {self.timeout_s!r}")
        if not (isinstance(self.max_steps, int) and 1 <= self.max_steps <= MAX_STEPS_LIMIT):
            raise ValueError(f"max_steps must be 1-{MAX_STEPS_LIMIT}, got {self.max_steps!r}")

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LlmConfig | None:
        """The configuration in SKILL_STACK_LLM_URL / _MODEL / _API_KEY / _TIMEOUT; None when no URL is set.
        Raises ValueError (one line, naming the variable) for a value that cannot work."""
        env = os.environ if environ is None else environ
        url = env.get(ENV_URL, "").strip()
        if not url:
            return None
        timeout = env.get(ENV_TIMEOUT, "").strip()
        try:
            timeout_s = float(timeout) if timeout else DEFAULT_TIMEOUT_S
        except ValueError:
            raise ValueError(f"{ENV_TIMEOUT} must be a number of seconds, got {timeout!r}") from None
        try:
            return cls(base_url=url, model=env.get(ENV_MODEL, "").strip() or DEFAULT_MODEL,
                       api_key=env.get(ENV_API_KEY, "").strip() or None, timeout_s=timeout_s)
        except ValueError as err:
            raise ValueError(f"{err} (from the environment: {ENV_URL}, {ENV_MODEL}, {ENV_TIMEOUT})") from None
