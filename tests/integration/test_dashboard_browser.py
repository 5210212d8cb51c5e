"""The dashboard in a real headless Chromium (Debian's `chromium` + `chromium-driver`, driven
by Selenium): sign in, charts drawn from seeded logs, key numbers in the DOM, the cookie's
flags, the auto-refresh, a screenshot, sign-out.

Chromium is installed on demand when missing on a CI machine where we are root (CI=true);
elsewhere the test is skipped with the command to install it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bridge.app import create_app
from bridge.db import Database
from bridge.db.base import utcnow
from bridge.deadletters import service as deadletters
from bridge.logs.service import record_action
from bridge.metrics import counters
from bridge.metrics.recorder import RECORDER
from bridge.salesforce.usage import ApiUsage
from bridge.tenants import service as tenants
from bridge.triggers.tables import PollState
from config.settings import Settings

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"
A, B, C = "0055g00000AAAAA", "0055g00000BBBBB", "0055g00000CCCCC"


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    missing = not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER))
    can_install = os.environ.get("CI") == "true" and os.geteuid() == 0 and shutil.which("apt-get")
    if missing and can_install:
        subprocess.run(
            ["bash", "-c", INSTALL], check=False, timeout=900,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )  # fmt: skip
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        pytest.skip(f"Chromium is not installed (run: {INSTALL})")
    pytest.importorskip("selenium")
    return CHROMIUM, DRIVER


def seed(db: Database, tenant_id: int) -> None:
    now = utcnow()
    with db.session() as s:
        n = 0
        for pool, user, count in (("inbound", A, 3), ("inbound", B, 2), ("enterprise", C, 1)):
            for _ in range(count):
                n += 1
                record_action(s, tenant_id=tenant_id, object="Lead", object_id=f"00Q{n:012d}",
                              action="assign", pool=pool, assigned_to=user, sequence=n,
                              timestamp=now - timedelta(days=n % 3, minutes=5))  # fmt: skip
        record_action(s, tenant_id=tenant_id, object="Lead", object_id="00Q000000000042",
                      action="convert", timestamp=now - timedelta(hours=2))  # fmt: skip
        record_action(s, tenant_id=tenant_id, object="Lead", object_id="00Q000000000099",
                      action="error", reason="INVALID_CROSS_REFERENCE_KEY on OwnerId",
                      request_id="req-route-error-1",
                      timestamp=now - timedelta(minutes=1))  # fmt: skip
        # The last poll drained everything 95 s ago: that is the lag (not the watermark's age).
        s.add(PollState(tenant_id=tenant_id, object="Lead",
                        last_poll_time=now - timedelta(seconds=95),
                        watermark_ts=now - timedelta(seconds=900),
                        records_processed=12))  # fmt: skip
        s.add(PollState(tenant_id=tenant_id, object="Contact", last_poll_time=now,
                        last_error="SalesforceError: REQUEST_LIMIT_EXCEEDED"))  # fmt: skip
        deadletters.record(s, task_name="triggers.process_batch", task_id="t-1", args=[],
                           kwargs={}, error="TransientError: UNABLE_TO_LOCK_ROW", attempts=9,
                           tenant_id=tenant_id, request_id="req-dead-letter-1")  # fmt: skip


def drive(base: str, key: str, shot: Path, profile: Path, db: Database, tenant_id: int) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1400,1800",
                f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    try:
        wait = WebDriverWait(driver, 20)
        driver.get(f"{base}/dashboard")
        assert driver.current_url.endswith("/dashboard/login")
        # A wrong key is refused on the form.
        driver.find_element(By.ID, "api_key").send_keys("brk_0000000000000000_" + "x" * 43)
        driver.find_element(By.ID, "sign-in").click()
        wait.until(ec.presence_of_element_located((By.ID, "login-error")))
        assert "not valid" in driver.find_element(By.ID, "login-error").text
        driver.find_element(By.ID, "api_key").send_keys(key)
        driver.find_element(By.ID, "sign-in").click()
        wait.until(lambda d: d.execute_script("return document.body.dataset.rendered === '1'"))
        assert driver.current_url.endswith("/dashboard")

        text = lambda element_id: driver.find_element(By.ID, element_id).text  # noqa: E731
        assert text("total-assign") == "6"
        assert text("total-convert") == "1"
        assert text("total-error") == "1"
        assert text("total-actions") == "8"
        assert text("dead-letters-open") == "1"
        assert text("queue-queued") == "4" and text("queue-unacked") == "0"
        assert text("sf-used") == "1250" and text("sf-limit") == "15000"
        failures = driver.find_element(By.ID, "failures").text
        assert "req-route-error-1" in failures and "req-dead-letter-1" in failures
        assert "INVALID_CROSS_REFERENCE_KEY" in failures
        polling = driver.find_element(By.ID, "polling").text
        assert "Contact error" in polling and "Lead ok" in polling
        lag = driver.find_element(By.CSS_SELECTOR, "tr[data-object='Lead'] .lag").text
        assert 90 <= int(lag.split()[0]) < 200

        # The charts were drawn by Chart.js from the seeded numbers, and painted pixels.
        bars = driver.execute_script(
            "const c = Chart.getChart('chart-assignments');"
            "return {labels: c.data.labels, sets: c.data.datasets.map(d => [d.label, d.data])};"
        )
        assert bars["labels"] == [C, A, B]
        assert bars["sets"] == [["enterprise", [1, 0, 0]], ["inbound", [0, 3, 2]]]
        per_day = driver.execute_script(
            "const c = Chart.getChart('chart-actions'); const out = {};"
            "c.data.datasets.forEach(d => out[d.label] = d.data.reduce((a, b) => a + b, 0));"
            "return out;"
        )
        assert per_day == {"assign": 6, "convert": 1, "error": 1}
        painted = driver.execute_script(
            "const c = document.getElementById('chart-assignments');"
            "const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            "let n = 0; for (let i = 3; i < px.length; i += 4) { if (px[i] > 0) n++; } return n;"
        )
        assert painted > 1000

        # The session cookie: HttpOnly, Secure, SameSite=Strict, invisible to scripts.
        cookie = driver.get_cookie("bridge_dashboard")
        assert cookie and cookie["httpOnly"] and cookie["secure"]
        assert cookie["sameSite"] == "Strict" and key not in cookie["value"]
        assert "bridge_dashboard" not in driver.execute_script("return document.cookie")

        # New work shows up without a reload (refresh every 2 s).
        with db.session() as s:
            record_action(s, tenant_id=tenant_id, object="Lead", object_id="00Q000000000777",
                          action="assign", pool="inbound", assigned_to=B)  # fmt: skip
        wait.until(lambda d: d.find_element(By.ID, "total-assign").text == "7")
        driver.save_screenshot(str(shot))

        driver.find_element(By.ID, "sign-out").click()
        wait.until(lambda d: d.current_url.endswith("/dashboard/login"))
        driver.get(f"{base}/dashboard")
        assert driver.current_url.endswith("/dashboard/login")
    finally:
        driver.quit()


async def test_dashboard_in_chromium(
    chromium: Any, settings: Settings, db: Database, tmp_path: Path
) -> None:
    created = tenants.create_key(db, "acme")
    seed(db, created.tenant_id)
    other = tenants.create_key(db, "globex")
    seed(db, other.tenant_id)  # another tenant's numbers never appear
    # Queue depth and the Salesforce usage reading come from the shared stores.
    import redis

    broker = redis.Redis.from_url(settings.broker_url)
    broker.lpush("celery", "a", "b", "c", "d")
    usage = ApiUsage()
    usage.observe_header("api-usage=1250/15000")
    RECORDER.drain()
    counters.salesforce_usage(usage)
    RECORDER.flush(broker)
    broker.close()

    app = create_app(settings.model_copy(update={"dashboard_refresh_seconds": 2}))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        base = f"http://localhost:{server.port}"
        shot = tmp_path / "dashboard.png"
        await asyncio.to_thread(
            drive, base, created.key, shot, tmp_path / "profile", db, created.tenant_id
        )
        assert shot.stat().st_size > 20_000
    finally:
        await server.close()
