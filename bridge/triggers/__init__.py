"""Triggers: how records reach the bridge (signed callouts, Outbound Messages, SOQL polling)."""
