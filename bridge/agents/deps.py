"""Building each agent for a run from a process's shared services."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.agents.tables import AgentRun
from bridge.agents.work import Agent, PersonAgent, ResearchAgent
from bridge.ai.service import AiService
from bridge.enrichment.service import EnrichmentService


@dataclass
class AgentServices:
    enrichment: EnrichmentService
    ai: AiService
    enrich_budget: int  # upstream credits per record (BRIDGE_ENRICH_UPSTREAM_MAX_CREDITS)

    def agent_for(self, run: AgentRun) -> Agent:
        if run.agent == "deep-research":
            return ResearchAgent(self.ai, run.options or {}, run.entity_type)
        return PersonAgent(run.agent, self.enrichment, self.enrich_budget)
