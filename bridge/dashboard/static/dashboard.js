// Draws the dashboard's charts from the server-rendered data, then refreshes everything from
// /dashboard/data every N seconds (no inline script: the page's CSP allows only this origin).
(function () {
  "use strict";
  var script = document.getElementById("dashboard-script");
  var refreshMs = 1000 * Number(script.getAttribute("data-refresh-seconds") || 15);
  var palette = ["#1d4ed8", "#059669", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#4b5563", "#db2777"];
  var charts = {};

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value === null || value === undefined ? "n/a" : String(value); }
  }

  function assignmentData(panels) {
    var members = [];
    panels.assignments.forEach(function (pool) {
      pool.members.forEach(function (m) { if (members.indexOf(m.user) < 0) { members.push(m.user); } });
    });
    var datasets = panels.assignments.map(function (pool, i) {
      var counts = {};
      pool.members.forEach(function (m) { counts[m.user] = m.count; });
      return {
        label: pool.pool,
        data: members.map(function (u) { return counts[u] || 0; }),
        backgroundColor: palette[i % palette.length]
      };
    });
    return { labels: members, datasets: datasets };
  }

  function actionData(panels) {
    var series = panels.actions_over_time.series;
    return {
      labels: panels.actions_over_time.days,
      datasets: Object.keys(series).map(function (action, i) {
        return { label: action, data: series[action], backgroundColor: palette[i % palette.length] };
      })
    };
  }

  function draw(id, data, stacked) {
    if (charts[id]) {
      charts[id].data = data;
      charts[id].update();
      return;
    }
    charts[id] = new Chart(document.getElementById(id), {
      type: "bar",
      data: data,
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { x: { stacked: stacked }, y: { stacked: stacked, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom" } }
      }
    });
  }

  function rows(tbodySelector, items, render, emptyText, columns, decorate) {
    var tbody = document.querySelector(tbodySelector);
    tbody.textContent = "";
    if (!items.length) {
      var tr = tbody.insertRow();
      var td = tr.insertCell();
      td.colSpan = columns;
      td.className = "muted";
      td.textContent = emptyText;
      return;
    }
    items.forEach(function (item) {
      var tr = tbody.insertRow();
      render(item).forEach(function (cell) {
        var td = tr.insertCell();
        td.textContent = cell.text;
        if (cell.cls) { td.className = cell.cls; }
        if (cell.title) { td.title = cell.title; }
      });
      if (decorate) { decorate(tr, item); }
    });
  }

  function render(panels) {
    text("generated-at", panels.generated_at);
    text("total-actions", panels.totals.actions);
    text("total-assign", panels.totals.assign || 0);
    text("total-convert", panels.totals.convert || 0);
    text("total-error", panels.totals.error || 0);
    text("queue-queued", panels.queue.available ? panels.queue.queued : "n/a");
    text("queue-unacked", panels.queue.available ? panels.queue.unacked : "n/a");
    text("dead-letters-open", panels.dead_letters_open);
    document.getElementById("assignments-empty").hidden = panels.assignments.length > 0;
    draw("chart-assignments", assignmentData(panels), true);
    draw("chart-actions", actionData(panels), true);
    var sf = panels.salesforce;
    var box = document.getElementById("salesforce");
    box.textContent = "";
    var p = document.createElement("p");
    if (sf.available) {
      p.innerHTML = '<span id="sf-used"></span> of <span id="sf-limit"></span> calls (<span id="sf-share"></span> %)';
      box.appendChild(p);
      var meter = document.createElement("meter");
      meter.id = "sf-meter"; meter.min = 0; meter.max = sf.limit; meter.value = sf.used;
      box.appendChild(meter);
      var seen = document.createElement("p");
      seen.className = "muted";
      seen.textContent = "as of " + sf.observed_at;
      box.appendChild(seen);
      text("sf-used", sf.used);
      text("sf-limit", sf.limit);
      text("sf-share", (sf.share * 100).toFixed(1));
    } else {
      p.className = "muted";
      p.id = "sf-unavailable";
      p.textContent = "Not available. " + sf.message;
      box.appendChild(p);
    }
    rows("#polling tbody", panels.polling, function (r) {
      return [
        { text: r.object },
        { text: r.status, cls: "status-" + r.status, title: r.last_error || "" },
        { text: (r.lag_seconds === null ? "–" : Math.round(r.lag_seconds)) + " s", cls: "lag" },
        { text: r.last_poll_time || "never" },
        { text: String(r.records_processed) }
      ];
    }, "No object polled yet.", 5, function (tr, r) { tr.dataset.object = r.object; });
    var failures = panels.failures.dead_letters.map(function (d) {
      return { _row: "dead-letter", cells: [d.at, "dead letter (" + d.status + ")", d.task, d.request_id || "–", d.error] };
    }).concat(panels.failures.route_logs.map(function (r) {
      return { _row: "route-error", cells: [r.at, "route log error", r.object + " " + r.object_id, r.request_id || "–", r.reason || ""] };
    }));
    rows("#failures tbody", failures, function (f) {
      return f.cells.map(function (c, i) { return { text: c, cls: i === 3 ? "request-id" : "" }; });
    }, "No failures.", 5, function (tr, f) { tr.className = f._row; });
  }

  function refresh() {
    fetch("/dashboard/data" + window.location.search, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (resp) {
        if (resp.status === 401) { window.location.assign("/dashboard/login"); return null; }
        return resp.ok ? resp.json() : null;
      })
      .then(function (panels) { if (panels) { render(panels); document.body.dataset.refreshed = String(Date.now()); } })
      .catch(function () { /* keep the last data; try again at the next tick */ })
      .finally(function () { window.setTimeout(refresh, refreshMs); });
  }

  render(JSON.parse(document.getElementById("initial-data").textContent));
  document.body.dataset.rendered = "1";
  window.setTimeout(refresh, refreshMs);
})();
