// Live progress of a training job on its admin page: state over the websocket, loss/F1 curves as SVG.
(function () {
  "use strict";
  const panel = document.getElementById("live-progress");
  if (!panel) return;
  const field = (name) => panel.querySelector(`[data-field="${name}"]`);
  const final = new Set(["succeeded", "failed", "cancelled"]);

  function line(points, width, height, maxY, colour) {
    if (points.length === 0) return "";
    const n = Math.max(points.length - 1, 1);
    const path = points.map((y, i) => `${(40 + (i / n) * (width - 60)).toFixed(1)},${(height - 20 - (y / maxY) * (height - 40)).toFixed(1)}`);
    return `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${path.join(" ")}"/>`;
  }

  function drawChart(history) {
    const losses = history.map((r) => r.train_loss).filter((v) => typeof v === "number");
    const f1 = history.map((r) => r.val_f1_weighted ?? r.train_f1_weighted).filter((v) => typeof v === "number");
    const maxLoss = Math.max(1e-6, ...losses);
    field("chart").innerHTML =
      `<rect x="40" y="20" width="540" height="180" fill="none" stroke="#ccc"/>` +
      line(losses, 600, 220, maxLoss, "#d62728") + line(f1, 600, 220, 1, "#1f77b4") +
      `<text x="45" y="15" font-size="12" fill="#d62728">training loss (max ${maxLoss.toFixed(3)})</text>` +
      `<text x="300" y="15" font-size="12" fill="#1f77b4">weighted F1 (0–1)</text>` +
      `<text x="45" y="215" font-size="11" fill="#666">epochs: ${history.length}</text>`;
  }

  function render(job) {
    const p = job.progress || {};
    field("status").textContent = job.status;
    if (p.epoch) {
      const done = ((p.epoch - 1) + (p.steps ? p.step / p.steps : 0)) / (p.epochs || 1);
      field("bar").value = job.status === "succeeded" ? 1 : Math.min(done, 1);
      field("summary").textContent = `epoch ${p.epoch}/${p.epochs}, step ${p.step}/${p.steps}` +
        (typeof p.loss === "number" ? `, loss ${p.loss.toFixed(4)}` : "") +
        (p.resumed_from_epoch ? ` (resumed after epoch ${p.resumed_from_epoch})` : "");
    } else if (job.status === "queued") {
      field("summary").textContent = "queued, waiting for a worker";
    }
    if (job.error) field("summary").textContent = job.error.split("\n")[0];
    if (job.log_tail) field("log").textContent = job.log_tail;
    drawChart(p.history || []);
  }

  function connect(attempt) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/jobs/${panel.dataset.jobId}/`);
    socket.onopen = () => { field("connection").textContent = "(live)"; };
    socket.onmessage = (event) => render(JSON.parse(event.data).job);
    socket.onclose = () => {
      field("connection").textContent = "(reconnecting…)";
      if (!final.has(field("status").textContent)) setTimeout(() => connect(attempt + 1), Math.min(1000 * 2 ** attempt, 10000));
      else field("connection").textContent = "";
    };
  }
  connect(0);
})();
