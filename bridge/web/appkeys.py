"""Typed keys for the resources the app factory opens (so handlers need not import app.py)."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiohttp import web

from bridge.db import Database
from config.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", aioredis.Redis)
DB = web.AppKey("db", Database)
# The process's one lazily opened gateway; None when no Salesforce sign-in is configured.
SALESFORCE = web.AppKey("salesforce", object)
