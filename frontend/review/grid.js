// The lung-zone grid of one patient: the patient's right on the left as on a chest diagram, one card
// per video with every rater's score and findings, the consensus, the model's score and what disagrees
// (in words and colour, so it does not rest on colour alone).
import { h, SCORE_MEANINGS, SCORE_NAMES } from "../shared/ui.js";

const score = (value, extra = "") => h(`span.badge.score-${value}${extra}`, { title: SCORE_NAMES[value] }, String(value));

function scoreRow(name, content, cls = "") {
  return h(`div.score-row${cls}`, {}, h("dt", {}, name), h("dd", {}, content));
}

/** Every rater's findings of a video (read-only): "B-lines ✓ · A-lines ✗" per rater, in words too. */
function findingsList(video, raterName, me) {
  if (!video.findings.length) return null;
  const byRater = new Map();
  for (const f of video.findings) {
    if (!byRater.has(f.annotator)) byRater.set(f.annotator, []);
    byRater.get(f.annotator).push(f);
  }
  return h("dl.findings", { "aria-label": `Findings of ${video.original_name}` }, [...byRater].map(([rater, found]) =>
    h("div.finding-row", {}, h("dt", {}, `${raterName.get(rater)?.username ?? rater}${rater === me ? " (you)" : ""}`),
      h("dd", {}, found.map((f) => h(`span.finding.${f.present ? "present" : "absent"}`,
        { title: `${f.name}: ${f.present ? "present" : "absent"}` }, `${f.name} ${f.present ? "✓" : "✗"}`))))));
}

/**
 * ctx: {data, me (user id), saver, onAccept(video, score), onScore(video, score)}
 */
function videoCard(video, ctx) {
  const { data, me, saver } = ctx;
  const raterName = new Map(data.raters.map((r) => [r.id, r]));
  const mine = video.scores.find((s) => s.annotator === me);
  const unsaved = saver.state(video.id);
  const flags = [];
  if (video.raters_disagree) flags.push(h("li.flag-raters", {}, "Raters disagree"));
  if (video.model_disagrees) flags.push(h("li.flag-model", {}, `Model ≠ consensus`));
  const scores = video.scores.map((s) => {
    const rater = raterName.get(s.annotator);
    return scoreRow(`${rater?.username ?? s.annotator}${s.annotator === me ? " (you)" : ""}`,
      [score(s.score, video.raters_disagree ? ".disagree" : ""), h("span.muted", {}, ` ${rater?.role ?? ""} · L${s.validation_level}`)]);
  });
  const consensus = video.consensus !== null ? score(video.consensus, video.model_disagrees ? ".disagree" : "")
    : h("span.muted", {}, video.consensus_tie ? "tie (undefined)" : "no scores");
  const model = video.model ? [score(video.model.score, video.model_disagrees ? ".disagree" : ""),
    h("span.muted", {}, ` p=${Math.max(...video.model.probabilities).toFixed(2)}`)] : h("span.muted", {}, "no prediction");
  const current = unsaved ? unsaved.score : mine?.score;
  const actions = h("div.actions", {},
    video.model && current !== video.model.score
      ? h("button.secondary", { type: "button", "aria-label": `Accept model score ${video.model.score} for ${video.original_name}`,
        onclick: () => ctx.onScore(video, video.model.score, "accepted model score") }, `Accept model (${video.model.score})`)
      : null,
    h("span.your-score", { role: "group", "aria-label": `Your score of ${video.original_name}` },
      h("span.muted", {}, "Your score: "),
      [0, 1, 2, 3].map((value) => h("button.score-button", {
        type: "button", "aria-pressed": String(current === value), "aria-label": `Set your score of ${video.original_name} to ${value}`,
        title: SCORE_MEANINGS[value], onclick: () => ctx.onScore(video, value, video.model && value !== video.model.score
          ? "overrode model score" : ""),
      }, h("span.score-digit", {}, String(value))))),
    // The read-only frame view: the model's per-frame output and everyone's labels (clinicians too).
    h("a.button-link", { href: `/videos/${video.id}/frames/`, "aria-label": `Frames of ${video.original_name}`,
      title: "Frame by frame: the model's scores, crop boxes and masks, everyone's labels" }, "Frames"),
    data.may_annotate ? h("a", { href: `/videos/${video.id}/annotate/` }, "Annotate") : null,
    data.may_validate ? h("a", { href: `/videos/${video.id}/validate/` }, "Validate") : null);
  return h(`article.video-card${video.model_disagrees ? ".model-disagrees" : ""}${video.raters_disagree ? ".raters-disagree" : ""}`,
    { "aria-label": `Video ${video.original_name}`, dataset: { video: String(video.id) } },
    h("header", {}, h("strong", {}, video.original_name), h("span.muted", {}, ` · ${video.frame_count} frames`)),
    h("dl.scores", {}, scores, scoreRow("Consensus", consensus, ".consensus"), scoreRow("Model", model, ".model")),
    findingsList(video, raterName, me),
    flags.length ? h("ul.flags", { "aria-label": "Disagreements" }, flags) : null,
    actions,
    unsaved ? h("p.unsaved", { role: "status" }, unsaved.saving ? "Saving…" : `Unsaved: ${unsaved.error || "waiting"} `,
      unsaved.error ? h("button.link", { type: "button", onclick: () => saver.retryAll() }, "Retry now") : null) : null);
}

/** The grid of zones (two columns: right, left) holding the videos of the chosen exam(s). */
export function zoneGrid(data, videos, ctx) {
  const byZone = new Map(data.zones.map((z) => [z.code, []]));
  for (const video of videos) (byZone.get(video.lung_zone) || byZone.get("")).push(video);
  const cells = data.zones.map((zone) => h(`section.zone${zone.code === "" ? ".unknown" : ""}`,
    { "aria-label": `Zone ${zone.code || "unknown"}: ${zone.label}` },
    h("h3", {}, zone.code ? `${zone.code} · ` : "", h("span.muted", {}, zone.label)),
    byZone.get(zone.code).length ? byZone.get(zone.code).map((v) => videoCard(v, ctx)) : h("p.muted", {}, "No video")));
  return h("div.zone-grid", {}, h("div.side", { "aria-hidden": "true" }, "Right"), h("div.side", { "aria-hidden": "true" }, "Left"), cells);
}
