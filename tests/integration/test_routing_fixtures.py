"""Helpers shared by the routing tests (no tests here): pools, users, a reference rotation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bridge.db import Database
from bridge.routing import pools
from bridge.routing.availability import ActiveUsers
from bridge.routing.models import PoolSpec
from bridge.routing.pools import PoolCache
from bridge.routing.service import RoutingService
from bridge.salesforce.ids import to_18
from bridge.tenants.service import ensure_tenant


def user(n: int) -> str:
    return to_18(f"005000000{n:06d}")


def lead(n: int) -> str:
    return to_18(f"00Q000000{n:06d}")


def make_tenant(db: Database, name: str = "acme") -> int:
    with db.session() as session:
        return ensure_tenant(session, name).id


def make_pool(db: Database, tenant_id: int, name: str, members: Sequence[dict[str, Any]],
              **extra: Any) -> None:  # fmt: skip
    spec = PoolSpec.model_validate({"name": name, "members": list(members), **extra})
    with db.session() as session:
        pools.create(session, tenant_id, spec)


def service(db: Database, client: Any, active: Iterable[str] | None = None,
            **options: Any) -> RoutingService:  # fmt: skip
    """A service without Salesforce; `active` stands in for the active-users list."""
    users = None if active is None else ActiveUsers(lambda: list(active))
    return RoutingService(db, client, pools=PoolCache(db, ttl=60), active_users=users, **options)


def reference(weights: Sequence[int], picks: int, current: list[int] | None = None) -> list[int]:
    """nginx smooth weighted round robin, by the book: the winner's index per pick."""
    cw = list(current or [0] * len(weights))
    total = sum(weights)
    out = []
    for _ in range(picks):
        for i, w in enumerate(weights):
            cw[i] += w
        best = max(range(len(weights)), key=lambda i: (cw[i], -i))
        cw[best] -= total
        out.append(best)
    return out


def two_active_users(sandbox: Any, users: int, seed: int) -> list[str]:
    """Seed the sandbox org with `users` users; the ids of two active ones that are not the
    bridge's integration user (pool members for tests against the sandbox)."""
    sandbox.seed(users=users, seed=seed)
    rows = sandbox.salesforce().query_all("SELECT Id FROM User WHERE IsActive = true")["records"]
    return [r["Id"] for r in rows if r["Id"] != sandbox.integration_user_id][:2]
