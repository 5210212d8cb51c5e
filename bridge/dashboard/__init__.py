"""The ops dashboard: a server-rendered page at /dashboard behind an API-key sign-in."""
