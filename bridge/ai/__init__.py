"""AI enrichment and deep research: an OpenAI-compatible chat client, agent prompts, credits."""
