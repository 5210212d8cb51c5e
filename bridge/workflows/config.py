"""Workflow definitions (config/workflows.yaml): a name, the object, and ordered steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bridge.workflows import convert

DEFAULT_PATH = Path(__file__).resolve().parent.parent.parent / "config" / "workflows.yaml"
StepName = Literal["enrich", "match", "push_salesforce", "assign", "convert", "push_url"]
# A converted Lead refuses writes (CANNOT_UPDATE_CONVERTED_LEAD): these must come before.
NOT_AFTER_CONVERT = frozenset({"push_salesforce", "assign"})


class WorkflowConfigError(ValueError):
    """The workflow file is wrong; the message says where."""


class StepDef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StepName
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _options(self) -> StepDef:
        if self.name == "convert":  # a bad policy fails at start-up, not on the first job
            convert.convert_request(self.options)
        return self


class WorkflowDef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    steps: list[StepDef] = Field(min_length=1)

    @model_validator(mode="after")
    def _convert_placement(self) -> WorkflowDef:
        names = [s.name for s in self.steps]
        if "convert" not in names:
            return self
        if self.object != "Lead":
            raise ValueError(f"the convert step converts Leads; this workflow's object is "
                             f"{self.object}")  # fmt: skip
        after = NOT_AFTER_CONVERT.intersection(names[names.index("convert") + 1 :])
        if after:
            raise ValueError(f"{sorted(after)} must come before convert: a converted Lead "
                             "cannot be written to")  # fmt: skip
        return self

    @property
    def enriches(self) -> bool:
        return any(s.name == "enrich" for s in self.steps)

    @property
    def routes(self) -> bool:
        """An assign step, or a convert step picking the owner from a pool (+1 credit once)."""
        return any(
            s.name == "assign" or (s.name == "convert" and convert.routes(s.options))
            for s in self.steps
        )


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
