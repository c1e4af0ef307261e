"""The optional LLM task planner (never required): an OpenAI-compatible model proposes steps from a schema built
from the skill catalogue and the scene; the deterministic parser grounds and checks them. docs/LLM_PLANNER.md."""
from planners.llm.config import LlmConfig
from planners.llm.planner import LlmPlanner, build_schema

__all__ = ["LlmConfig", "LlmPlanner", "build_schema"]
