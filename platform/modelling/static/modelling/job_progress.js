// Live progress of a training job on its admin page: state over the websocket, loss/F1 curves as SVG.
(function () {
  "use strict";
  const panel = document.getElementById("live-progress");
  if (!panel) return;
  const field = (name) => panel.querySelector(`[data-field="${name}"]`);
  const final = new Set(["succeeded", "failed", "cancelled"]);

  function line(points, width, height, low, high, colour) {
    if (points.length === 0) return "";
    const n = Math.max(points.length - 1, 1);
    const span = Math.max(high - low, 1e-9);
    const path = points.map((y, i) =>
      `${(40 + (i / n) * (width - 60)).toFixed(1)},${(height - 20 - ((y - low) / span) * (height - 40)).toFixed(1)}`);
    return `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${path.join(" ")}"/>`;
  }

  function drawChart(history) {
    // The loss is drawn over its own range; the quality line is validation F1 when there is
    // validation data, training accuracy otherwise (both 0–1).
    const losses = history.map((r) => r.train_loss).filter((v) => typeof v === "number");
    const hasVal = history.some((r) => typeof r.val_f1_weighted === "number");
    const quality = history.map((r) => (hasVal ? r.val_f1_weighted : r.train_accuracy)).filter((v) => typeof v === "number");
    const low = losses.length ? Math.min(...losses) : 0;
    const high = losses.length ? Math.max(...losses) : 1;
    const qualityName = hasVal ? "validation weighted F1" : "training accuracy";
    field("chart").innerHTML =
      `<rect x="40" y="20" width="540" height="180" fill="none" stroke="#ccc"/>` +
      line(losses, 600, 220, low, high, "#d62728") + line(quality, 600, 220, 0, 1, "#1f77b4") +
      `<text x="45" y="15" font-size="12" fill="#d62728">training loss (${low.toFixed(3)}–${high.toFixed(3)})</text>` +
      `<text x="300" y="15" font-size="12" fill="#1f77b4">${qualityName} (0–1)</text>` +
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
