"""Where the LLM is: an OpenAI-compatible endpoint, configured by the environment.

`OPENAI_BASE_URL` and `OPENAI_API_KEY` keep their standard names so any
OpenAI-compatible server works (OpenAI, DeepSeek, Qwen/DashScope, GLM, vLLM,
Ollama); the model and the rest are jixiao settings (`JIXIAO_MODEL`, …).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from service.settings import Settings


@dataclass(frozen=True)
class Endpoint:
    base_url: str | None
    api_key: str | None
    model: str


def endpoint(settings: Settings, env: dict[str, str] | None = None) -> Endpoint | None:
    """The configured endpoint, or None when no model is set or there is nowhere to send it."""
    env = dict(os.environ if env is None else env)
    base_url, api_key = env.get("OPENAI_BASE_URL") or None, env.get("OPENAI_API_KEY") or None
    if not settings.model or not (base_url or api_key):
        return None
    return Endpoint(base_url=base_url, api_key=api_key, model=settings.model)


def resolve_engine(settings: Settings, env: dict[str, str] | None = None) -> str:
    """`auto` means the LLM when an endpoint is configured, else the offline rules."""
    if settings.engine != "auto":
        return settings.engine
    return "llm" if endpoint(settings, env) else "rules"
