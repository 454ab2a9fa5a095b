// The console's only script: bar charts from data-* attributes (Chart.js, when installed) and live import progress.
(function () {
  "use strict";

  var PALETTE = ["#1f6feb", "#d1242f", "#8250df", "#1a7f37", "#bf8700", "#57606a"];

  function drawCharts() {
    if (typeof Chart === "undefined") return; // the table beside each chart says the same
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      // data-values: one series; data-series: {name: [values]} drawn stacked, with a legend
      var series = canvas.dataset.series ? JSON.parse(canvas.dataset.series) : null;
      var datasets = series
        ? Object.keys(series).map(function (name, i) {
            return { label: name, data: series[name], backgroundColor: PALETTE[i % PALETTE.length], maxBarThickness: 48 };
          })
        : [{ data: JSON.parse(canvas.dataset.values), backgroundColor: PALETTE[0], maxBarThickness: 48 }];
      new Chart(canvas, {
        type: canvas.dataset.chart,
        data: { labels: JSON.parse(canvas.dataset.labels), datasets: datasets },
        options: {
          animation: false,
          plugins: { legend: { display: !!series } },
          scales: { x: { stacked: !!series }, y: { stacked: !!series, beginAtZero: true, ticks: { precision: 0 } } },
        },
      });
    });
  }

  var FINAL = ["completed", "completed_with_errors", "failed"];

  function followImport() {
    var box = document.getElementById("import-progress");
    if (!box) return;
    var labels = JSON.parse(box.dataset.stateLabels);
    var state = document.getElementById("import-state");
    var bar = document.getElementById("import-bar");
    function show(job) {
      box.querySelectorAll("[data-field]").forEach(function (el) {
        el.textContent = String(job[el.dataset.field]);
      });
      state.dataset.state = job.state;
      state.textContent = labels[job.state] || job.state;
      bar.max = Math.max(job.orders, 1);
      bar.value = job.orders_processed + job.dead_lettered;
    }
    function poll() {
      fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          // signed out (401) or gone (404): the page itself says so (the sign-in page, the not-found page)
          if (r.status === 401 || r.status === 404) {
            window.location.reload();
            return null;
          }
          return r.ok ? r.json() : Promise.reject(r.status);
        })
        .then(function (job) {
          if (job === null) return;
          show(job);
          if (FINAL.indexOf(job.state) < 0) setTimeout(poll, 500);
        })
        .catch(function () { setTimeout(poll, 2000); });
    }
    if (FINAL.indexOf(state.dataset.state) < 0) poll();
  }

  // A search form marked data-live-target re-runs as the person types: the page is fetched and only the target
  // element is swapped (no eval, no inline script: the Content-Security-Policy holds).
  function liveSearch() {
    var form = document.querySelector("form[data-live-target]");
    if (!form) return;
    var timer = null;
    var shown = new URLSearchParams(new FormData(form)).toString();
    function run() {
      var query = new URLSearchParams(new FormData(form)).toString();
      if (query === shown || !form.elements.value.value.trim()) return;
      shown = query;
      var url = form.action + "?" + query;
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          if (query !== shown) return; // a later keystroke won
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(form.dataset.liveTarget);
          var current = document.getElementById(form.dataset.liveTarget);
          if (fresh && current) {
            current.replaceWith(fresh);
            history.replaceState(null, "", url);
            drawCharts();
          }
        });
    }
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(run, 400);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    followImport();
    liveSearch();
  });
})();
