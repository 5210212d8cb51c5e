"""Tenants, their API keys and the Salesforce orgs they own."""
