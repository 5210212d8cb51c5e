"""Form submissions: validated, enriched within a time budget, and dispositioned."""
