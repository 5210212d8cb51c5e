"""Agent types are system prompts kept as files: `<prompts_dir>/<agent_type>.md`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import config

# A relative prompts directory is the project's (config/agents), wherever the process runs.
PROJECT_ROOT = Path(config.__file__).resolve().parent.parent

AgentType = Literal["general", "funding", "legal"]
AGENT_TYPES: tuple[str, ...] = ("general", "funding", "legal")

JSON_INSTRUCTION = (
    "Answer with one valid JSON object only: no prose before or after it, no code fences."
)
SEARCH_INSTRUCTION = (
    "Numbered web search results are given below the question. Use them, cite them as [n] "
    "where you rely on them, and say when they do not answer part of the question."
)
NO_SEARCH_INSTRUCTION = (
    "No live web search is available for this request: answer from your own knowledge only, "
    "and say which parts you could not verify against current sources."
)


class PromptLibrary:
    """Reads each agent's prompt once; a missing file is a configuration error at first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory if directory.is_absolute() else PROJECT_ROOT / directory
        self._cache: dict[str, str] = {}

    def system_prompt(self, agent_type: str) -> str:
        if agent_type not in AGENT_TYPES:
            raise ValueError(f"unknown agent type {agent_type!r}")
        if agent_type not in self._cache:
            path = self.directory / f"{agent_type}.md"
            self._cache[agent_type] = path.read_text(encoding="utf-8").strip()
        return self._cache[agent_type]
