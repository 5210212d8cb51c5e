"""Workflow definitions (config/workflows.yaml): a name, the object, and ordered steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_PATH = Path(__file__).resolve().parent.parent.parent / "config" / "workflows.yaml"
StepName = Literal["enrich", "match", "push_salesforce", "assign", "push_url"]


class WorkflowConfigError(ValueError):
    """The workflow file is wrong; the message says where."""


class StepDef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StepName
    options: dict[str, Any] = Field(default_factory=dict)


class WorkflowDef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    steps: list[StepDef] = Field(min_length=1)

    @property
    def enriches(self) -> bool:
        return any(s.name == "enrich" for s in self.steps)

    @property
    def routes(self) -> bool:
        return any(s.name == "assign" for s in self.steps)


class WorkflowsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflows: dict[str, WorkflowDef] = Field(default_factory=dict)


def load(path: Path | None = None) -> dict[str, WorkflowDef]:
    path = path or DEFAULT_PATH
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        return WorkflowsFile.model_validate(raw).workflows
    except OSError as exc:
        raise WorkflowConfigError(f"cannot read {path}: {exc.strerror}") from None
    except (yaml.YAMLError, ValidationError) as exc:
        raise WorkflowConfigError(f"{path}: {exc}") from None
