// The training job page: live progress, polled from data-url until the job is final (no inline script).
(function () {
  const box = document.getElementById("job-status");
  if (!box) return;
  function show(s) {
    document.getElementById("job-state").textContent = s.state;
    const p = s.progress || {};
    let text = p.stage || "";
    if (p.target) text += " · " + p.target;
    if (p.fold) text += " · fold " + p.fold + "/" + p.folds + (p.seed ? " (repeat " + p.seed + ")" : "");
    if (p.eta_s !== undefined && p.eta_s !== null) text += " · about " + Math.round(p.eta_s) + " s left";
    document.getElementById("job-progress").textContent = text;
    const bar = document.getElementById("job-bar");
    bar.max = p.total || 1; bar.value = p.done || 0;
    document.getElementById("job-reason").textContent = s.reason || "";
    document.getElementById("job-log").textContent = s.logs.map(l => l.at + " " + l.message).join("\n");
    if (s.predictor_version) document.getElementById("job-predictor").innerHTML =
      '<a href="../../#version-' + s.predictor_version + '">predictor version ' + s.predictor_version + '</a>';
    return ["succeeded", "failed", "cancelled"].includes(s.state);
  }
  function poll() {
    fetch(box.dataset.url, {credentials: "same-origin"}).then(r => r.json()).then(s => { if (!show(s)) setTimeout(poll, 1500); })
      .catch(() => setTimeout(poll, 5000));
  }
  if (!["succeeded", "failed", "cancelled"].includes(document.getElementById("job-state").textContent)) setTimeout(poll, 1500);
})();
