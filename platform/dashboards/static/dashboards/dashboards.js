/* Gait dashboards: charts (Chart.js 4, vendored), status polling, skeleton replay. No other dependency. */
(function () {
  "use strict";
  var COLORS = ["#2563a8", "#d9822b", "#2e9e6a", "#8e44ad"];
  var GaitDash = {};
  function esc(s) { return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]; }); }
  function fmt(v, d) { return v == null ? "—" : Number(v).toFixed(d); }
  function chart(id, cfg) {
    var el = document.getElementById(id);
    if (!el || !window.Chart) return null;
    cfg.options = Object.assign({responsive: true, maintainAspectRatio: false, animation: false}, cfg.options || {});
    var c = new Chart(el, cfg);
    el.dataset.points = String(cfg.data.datasets.reduce(function (n, ds) { return n + ds.data.filter(function (v) { return v != null; }).length; }, 0));
    return c;
  }
  GaitDash.chart = chart;

  /* ---- home: recent sessions refresh on their own ---- */
  GaitDash.pollStatus = function (url, subjectUrl0) {
    var rows = document.getElementById("recent-rows"), counts = document.getElementById("status-counts");
    var stamp = document.getElementById("refreshed");
    function tick() {
      fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"}).then(function (r) {
        if (!r.ok) throw new Error(r.status); return r.json();
      }).then(function (d) {
        counts.innerHTML = Object.keys(d.counts).map(function (s) { return '<span class="stat"><span class="pill ' + esc(s) + '">' + esc(s) + '</span> <b>' + d.counts[s] + '</b></span>'; }).join("");
        if (d.recent.length) {
          rows.innerHTML = d.recent.map(function (s) {
            var reason = s.status_reason && s.status !== "done" ? '<div class="small muted">' + esc(s.status_reason) + '</div>' : "";
            return '<tr><td>#' + s.id + '</td><td><a href="' + subjectUrl0.replace(/0\/$/, s.subject_id + "/") + '">' + esc(s.pseudonym) + '</a></td><td><span class="pill ' + esc(s.status) + '">' + esc(s.status) + '</span>' + reason + '</td><td class="small when">' + esc(String(s.updated_at).slice(0, 16).replace("T", " ")) + '</td></tr>';
          }).join("");
        }
        stamp.textContent = "updated " + new Date().toLocaleTimeString();
        stamp.dataset.polls = String(1 + Number(stamp.dataset.polls || 0));
      }).catch(function () { stamp.textContent = "offline: retrying"; });
    }
    setInterval(tick, 5000);
    setTimeout(tick, 1000);
  };

  /* ---- cohort health profile ---- */
  GaitDash.cohortCharts = function (data) {
    var profiles = data.profiles;
    var labels = profiles[0].systems.map(function (s) { return s.label; });
    var datasets = [];
    profiles.forEach(function (p, i) {
      var col = COLORS[i % COLORS.length];
      datasets.push({type: "bar", label: p.name + " (mean)", data: p.systems.map(function (s) { return s.n ? s.mean : null; }), backgroundColor: col + "cc", borderColor: col, borderWidth: 1});
      datasets.push({type: "bar", label: p.name + " 95% CI", data: p.systems.map(function (s) { return s.ci_low != null ? [s.ci_low, s.ci_high] : null; }), backgroundColor: col + "33", borderColor: col, borderWidth: 1, barPercentage: 0.25, grouped: true});
    });
    chart("chart-systems", {data: {labels: labels, datasets: datasets}, options: {indexAxis: "y",
      scales: {x: {title: {display: true, text: data.axis}, suggestedMin: -1, suggestedMax: 1}},
      plugins: {tooltip: {callbacks: {label: function (c) { var v = c.raw; return c.dataset.label + ": " + (Array.isArray(v) ? fmt(v[0], 2) + " to " + fmt(v[1], 2) : fmt(v, 2)); }}}}}});
    var all = [].concat.apply([], profiles.map(function (p) { return p.gait_age.map(function (g) { return g.age; }); }));
    var lo = Math.floor(Math.min.apply(null, all.length ? all : [20]) / 5) * 5, hi = Math.ceil(Math.max.apply(null, all.length ? all : [80]) / 5) * 5;
    var scatter = profiles.map(function (p, i) { return {type: "scatter", label: p.name, data: p.gait_age.map(function (g) { return {x: g.age, y: g.gait_age}; }), backgroundColor: COLORS[i % COLORS.length] + "aa", pointRadius: 3}; });
    scatter.push({type: "line", label: "gait age = age", data: [{x: lo, y: lo}, {x: hi, y: hi}], borderColor: "#888", borderDash: [4, 4], pointRadius: 0, borderWidth: 1});
    chart("chart-gaitage", {data: {datasets: scatter}, options: {scales: {x: {type: "linear", title: {display: true, text: "chronological age (years)"}}, y: {title: {display: true, text: "gait age (years)"}}}}});
    // gap histogram on a shared set of bins
    var edges = {};
    profiles.forEach(function (p) { p.gap_hist.labels.forEach(function (l) { edges[l] = true; }); });
    var bins = Object.keys(edges).sort(function (a, b) { return Number(a) - Number(b); });
    chart("chart-gap", {type: "bar", data: {labels: bins.map(function (b) { return b + " y"; }), datasets: profiles.map(function (p, i) {
      var m = {}; p.gap_hist.labels.forEach(function (l, k) { m[l] = p.gap_hist.counts[k]; });
      return {label: p.name, data: bins.map(function (b) { return m[b] || 0; }), backgroundColor: COLORS[i % COLORS.length] + "bb"};
    })}, options: {scales: {x: {title: {display: true, text: "gait-age gap (2-year bins, lower edge)"}}, y: {title: {display: true, text: "subjects"}, beginAtZero: true}}}});
    // features: table + chart of each mean as a position inside its range (0 % = low end, 100 % = high end)
    var body = document.getElementById("features-body");
    var feats = profiles[0].features;
    body.innerHTML = feats.map(function (f, k) {
      var cells = profiles.map(function (p) { var g = p.features[k]; return '<td class="num">' + (g.n ? fmt(g.mean, 2) + " ± " + fmt(g.sd, 2) : "—") + '</td><td class="num">' + (g.n ? fmt(g.outside_pct, 0) + " %" : "—") + "</td>"; }).join("");
      return "<tr><td>" + esc(f.label) + ' <span class="small muted">' + esc(f.unit) + "</span></td><td>" + fmt(f.low, 2) + " – " + fmt(f.high, 2) + "</td>" + cells + "</tr>";
    }).join("");
    var band = {id: "normalBand", beforeDatasetsDraw: function (c) {
      var y = c.scales.y, a = c.chartArea, top = y.getPixelForValue(100), bottom = y.getPixelForValue(0);
      c.ctx.save(); c.ctx.fillStyle = "rgba(46, 158, 106, 0.12)"; c.ctx.fillRect(a.left, top, a.right - a.left, bottom - top); c.ctx.restore();
    }};
    chart("chart-features", {type: "bar", plugins: [band], data: {labels: feats.map(function (f) { return f.label; }), datasets: profiles.map(function (p, i) {
      return {label: p.name + " mean (% of the indicative range)", backgroundColor: COLORS[i % COLORS.length] + "bb",
        data: p.features.map(function (g) { return g.n ? 100 * (g.mean - g.low) / (g.high - g.low) : null; })};
    })}, options: {scales: {y: {title: {display: true, text: "% of the indicative range"}, suggestedMin: -20, suggestedMax: 120}}}});
  };

  /* ---- subject report ---- */
  GaitDash.subjectCharts = function (d) {
    var s = d.sessions || [];
    if (s.length) {
      chart("chart-longitudinal", {type: "line", data: {labels: s.map(function (x) { return x.when; }), datasets: [
        {label: "gait age", data: s.map(function (x) { return x.gait_age; }), borderColor: COLORS[0], backgroundColor: COLORS[0], pointRadius: 4},
        {label: "interval low", data: s.map(function (x) { return x.lower; }), borderColor: COLORS[0] + "44", pointRadius: 0, borderDash: [3, 3], fill: false},
        {label: "interval high", data: s.map(function (x) { return x.upper; }), borderColor: COLORS[0] + "44", pointRadius: 0, borderDash: [3, 3], fill: "-1", backgroundColor: COLORS[0] + "18"},
        {label: "chronological age", data: s.map(function (x) { return x.age; }), borderColor: "#777", pointRadius: 3, borderDash: [6, 3]}]},
        options: {scales: {y: {title: {display: true, text: "years"}}}}});
      chart("chart-speed", {type: "line", data: {labels: s.map(function (x) { return x.when; }), datasets: [
        {label: "walking speed (m/s)", data: s.map(function (x) { return x.walking_speed_m_s; }), borderColor: COLORS[2], backgroundColor: COLORS[2], pointRadius: 4, yAxisID: "y"},
        {label: "cadence (steps/min)", data: s.map(function (x) { return x.cadence_steps_min; }), borderColor: COLORS[1], backgroundColor: COLORS[1], pointRadius: 4, yAxisID: "y1"}]},
        options: {scales: {y: {title: {display: true, text: "m/s"}}, y1: {position: "right", title: {display: true, text: "steps/min"}, grid: {drawOnChartArea: false}}}}});
    }
    var dv = d.deviations || [];
    if (dv.length) {
      chart("chart-deviations", {data: {labels: dv.map(function (p) { return p.label; }), datasets: [
        {type: "bar", label: "interval", data: dv.map(function (p) { return [p.lower, p.upper]; }), backgroundColor: "#2563a833", borderColor: "#2563a8", borderWidth: 1, barPercentage: 0.5},
        {type: "scatter", label: "prediction", data: dv.map(function (p, i) { return {x: p.value, y: p.label}; }), backgroundColor: "#b3261e", pointRadius: 5}]},
        options: {indexAxis: "y", scales: {x: {title: {display: true, text: d.axis}, suggestedMin: -2, suggestedMax: 2}, y: {type: "category"}}}});
    }
    var at = d.attribution || [];
    if (at.length) {
      var parts = ["legs", "arms", "torso", "head"];
      chart("chart-attribution", {type: "bar", data: {labels: at.map(function (a) { return a.label; }), datasets: parts.map(function (k, i) {
        return {label: k, data: at.map(function (a) { return Math.round(100 * a[k]); }), backgroundColor: ["#2e9e6a", "#d9822b", "#2563a8", "#8e44ad"][i]};
      })}, options: {indexAxis: "y", scales: {x: {stacked: true, max: 100, title: {display: true, text: "share of importance (%)"}}, y: {stacked: true}}}});
    }
  };

  /* ---- skeleton replay: orthographic projection of the 3D joints, turned by the slider ---- */
  GaitDash.replay = function () {
    var canvas = document.getElementById("replay");
    if (!canvas) return;
    var ctx = canvas.getContext("2d"), sel = document.getElementById("replay-session"), taskSel = document.getElementById("replay-task");
    var yaw = document.getElementById("replay-yaw"), btn = document.getElementById("replay-play"), info = document.getElementById("replay-info");
    var data = null, frame = 0, playing = true, last = 0;
    function load(task) {
      var url = sel.value + (task ? "?task=" + encodeURIComponent(task) : "");
      info.textContent = "loading…";
      fetch(url, {credentials: "same-origin"}).then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); }).then(function (d) {
        data = d; frame = 0;
        taskSel.innerHTML = d.tasks.map(function (t) { return '<option' + (t === d.task ? " selected" : "") + ">" + esc(t) + "</option>"; }).join("");
        canvas.dataset.frames = String(d.frames.length);
        info.textContent = d.frames.length + " frames at " + d.fps.toFixed(0) + " fps";
      }).catch(function (e) { info.textContent = "could not load the recording (" + e.message + ")"; });
    }
    function draw() {
      var w = canvas.width = canvas.clientWidth * (window.devicePixelRatio || 1), h = canvas.height = canvas.clientHeight * (window.devicePixelRatio || 1);
      ctx.fillStyle = "#0f1b2a"; ctx.fillRect(0, 0, w, h);
      if (!data || !data.frames.length) return;
      var f = data.frames[frame % data.frames.length], a = Number(yaw.value) * Math.PI / 180, ca = Math.cos(a), sa = Math.sin(a);
      var scale = h / 2.6, cx = w / 2, cy = h * 0.45;
      function P(p) { if (!p) return null; var x = p[0] * ca - p[1] * sa, depth = p[0] * sa + p[1] * ca; return [cx + x * scale, cy - p[2] * scale + depth * scale * 0.15]; }
      ctx.strokeStyle = "#2b3f57"; ctx.lineWidth = 1; ctx.beginPath();  // floor grid
      for (var g = -1; g <= 1.001; g += 0.5) { var p1 = P([g, -1, -0.95]), p2 = P([g, 1, -0.95]), p3 = P([-1, g, -0.95]), p4 = P([1, g, -0.95]); ctx.moveTo(p1[0], p1[1]); ctx.lineTo(p2[0], p2[1]); ctx.moveTo(p3[0], p3[1]); ctx.lineTo(p4[0], p4[1]); }
      ctx.stroke();
      ctx.lineWidth = 3 * (window.devicePixelRatio || 1); ctx.lineCap = "round";
      data.bones.forEach(function (b) {
        var p = P(f[b[0]]), q = P(f[b[1]]); if (!p || !q) return;
        var name = data.joints[b[0]]; ctx.strokeStyle = /LEFT/.test(name) ? "#6fb1ff" : /RIGHT/.test(name) ? "#ffb36b" : "#e6edf5";
        ctx.beginPath(); ctx.moveTo(p[0], p[1]); ctx.lineTo(q[0], q[1]); ctx.stroke();
      });
      ctx.fillStyle = "#ffffff";
      f.forEach(function (p) { var q = P(p); if (q) { ctx.beginPath(); ctx.arc(q[0], q[1], 2.5 * (window.devicePixelRatio || 1), 0, 6.283); ctx.fill(); } });
      ctx.fillStyle = "#9fb3c8"; ctx.font = (12 * (window.devicePixelRatio || 1)) + "px sans-serif";
      ctx.fillText(data.task + "  frame " + (frame % data.frames.length + 1) + "/" + data.frames.length + "  (blue: left, orange: right)", 10, 18 * (window.devicePixelRatio || 1));
    }
    function loop(t) {
      if (data && playing && t - last > 1000 / data.fps) { frame = (frame + 1) % data.frames.length; last = t; }
      draw(); requestAnimationFrame(loop);
    }
    sel.addEventListener("change", function () { load(""); });
    taskSel.addEventListener("change", function () { load(taskSel.value); });
    btn.addEventListener("click", function () { playing = !playing; btn.textContent = playing ? "Pause" : "Play"; });
    load("");
    requestAnimationFrame(loop);
  };
  window.GaitDash = GaitDash;
  // Behaviour that pages declare with attributes (the Content-Security-Policy allows no inline handlers).
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("[data-autosubmit]") && e.target.form) { e.target.form.submit(); }
  });
  document.addEventListener("click", function (e) {
    var el = e.target.closest ? e.target.closest("[data-confirm]") : null;
    if (el && !window.confirm(el.getAttribute("data-confirm"))) { e.preventDefault(); }
  });
})();
