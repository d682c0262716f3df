// The side panel: this frame's score (mine, others', the model's), the video score and findings, the
// contours of this frame with class visibility, and the overlay controls. Plain DOM, refreshed by update().

import { h, SCORE_MEANINGS, SCORE_NAMES, scoreButtonContent } from "../shared/ui.js";

const pct = (p) => `${Math.round(p * 100)}%`;

/** A score as a coloured badge ("—" for none). */
export function scoreBadge(score) {
  if (score === null || score === undefined || score < 0) return h("span.badge", {}, "—");
  return h(`span.badge.score-${score}`, { title: SCORE_MEANINGS[score] }, String(score));
}

export class Panel {
  constructor({ page, data }) {
    this.page = page;
    this.data = data;
    const { model } = data;
    const readonly = page.readonly;
    this.frameButtons = [0, 1, 2, 3].map((score) => h(`button.score-button.score-${score}`, {
      type: "button", "aria-pressed": "false", title: `${SCORE_MEANINGS[score]} (key ${score})`,
      "aria-label": `Score ${SCORE_NAMES[score]}`, onclick: () => page.score(score),
    }, scoreButtonContent(score)));
    this.frameLegend = h("legend", {}, "Frame score");
    this.rangeNote = h("p.muted.range-note", { id: "range-note" });
    this.frameOthers = h("div.others-line");

    this.videoRadios = [0, 1, 2, 3].map((score) => h("input", {
      type: "radio", name: "video-score", value: String(score), id: `video-score-${score}`, disabled: readonly,
      onchange: () => page.setVideoScore(score),
    }));
    this.comment = h("input", { id: "video-comment", type: "text", maxlength: "1000", placeholder: "optional", disabled: readonly,
      onchange: () => page.setVideoScore(page.videoScores.score, this.comment.value) });
    const videoOthers = data.others.filter((o) => o.video_score !== null).map((o) =>
      h("span.other", {}, `${o.annotator.username}: `, scoreBadge(o.video_score)));
    if (model.video) {
      videoOthers.push(h("span.other", {}, "Model: ", scoreBadge(model.video.score),
        ` (${pct(Math.max(...model.video.probabilities))})`));
    }

    this.findingBoxes = data.findings.map((finding) => {
      const key = page.findings.keyFor(finding.code);
      const box = h("input", { type: "checkbox", id: `finding-${finding.code}`, "data-finding": finding.code, disabled: readonly,
        onchange: (event) => page.toggleFinding(finding.code, event.target.checked) });
      return h("label.finding-option", { for: box.id, title: finding.description || finding.name },
        box, finding.name, key ? h("kbd", { "aria-hidden": "true" }, key.toUpperCase()) : null);
    });
    const findingOthers = data.others.filter((o) => Object.keys(o.findings || {}).length).map((o) =>
      h("span.other", {}, `${o.annotator.username}: `, Object.entries(o.findings).map(([code, present]) =>
        `${page.findings.name(code)} ${present ? "✓" : "✗"}`).join(", ")));

    this.classToggles = data.segmentation_classes.map((cls) => h("label.class-toggle", {},
      h("input", { type: "checkbox", checked: true, "data-class": String(cls.index),
        onchange: (event) => page.editor.toggleClass(cls.index, event.target.checked) }),
      h("span.swatch", { style: { background: page.editor.colour(cls.index) } }), cls.name));
    this.contourList = h("ul.contour-list", { "aria-label": "My polygons on this frame" });
    this.othersBox = page.others.any ? h("fieldset.other-contours", {}, h("legend", {}, "Others' contours (O)"),
      h("ul.other-contour-list", { "aria-label": "Other people's polygons on this frame" })) : null;

    this.element = h("aside.annotate-side", { "aria-label": "Labels of this frame and video" },
      h("fieldset", {}, this.frameLegend,
        readonly ? null : h("div.score-buttons", { role: "group", "aria-label": "Score this frame (keys 0–3)" }, this.frameButtons),
        this.rangeNote, this.frameOthers),
      h("fieldset", {}, h("legend", {}, "Video score"),
        readonly ? null : h("div.video-score", { role: "radiogroup", "aria-label": "Video score" }, this.videoRadios.map((radio, score) =>
          h("label.video-score-option", { for: radio.id, title: SCORE_MEANINGS[score] }, radio, scoreBadge(score), ` ${SCORE_NAMES[score].split(" · ")[1]}`))),
        readonly ? null : [h("label", { for: "video-comment" }, "Comment"), this.comment],
        videoOthers.length ? h("div.others-line", {}, videoOthers) : null,
        readonly ? null : h("div.findings", { role: "group", "aria-label": "Findings in this video (checked: present, "
          + "unchecked: absent, dash: not stated)" }, h("span.findings-title", {}, "Findings"), this.findingBoxes),
        findingOthers.length ? h("div.others-line.finding-others", {}, findingOthers) : null,
        readonly && !videoOthers.length && !findingOthers.length
          ? h("p.muted", {}, "No video score or findings stated yet.") : null),
      readonly ? null : h("fieldset", {}, h("legend", {}, "Contours"),
        h("div.class-toggles", { role: "group", "aria-label": "Show marker classes (V: the current one)" }, this.classToggles),
        this.contourList),
      this.othersBox,
      this._overlayControls(),
      data.others.length || model.visible ? null
        : h("p.muted.blind-note", {}, "Blind annotation: other people's labels and the model's output are hidden."));
  }

  _overlayControls() {
    const { page } = this;
    const overlays = page.overlays;
    if (!this.data.model.visible) return null;
    const toggle = (kind, label, enabled) => h("label.overlay-toggle", {},
      h("input", { type: "checkbox", "data-overlay": kind, disabled: !enabled,
        onchange: (event) => page.setOverlay(kind, event.target.checked) }), label);
    this.overlayBoxes = toggle("boxes", "STN crop boxes (B)", overlays.hasBoxes);
    this.overlayMask = toggle("mask", "Segmentation mask (M)", overlays.hasMasks);
    this.overlayUncertainty = toggle("uncertainty", "Uncertainty heat-map (U)", overlays.hasUncertainty());
    this.opacity = h("input", { id: "overlay-opacity", type: "range", min: "0", max: "1", step: "0.05",
      value: String(overlays.opacity), oninput: (event) => page.setOpacity(Number(event.target.value)) });
    return h("fieldset", {}, h("legend", {}, "Model overlays"),
      this.overlayBoxes, this.overlayMask, this.overlayUncertainty,
      h("label", { for: "overlay-opacity" }, "Mask opacity"), this.opacity,
      overlays.hasMasks ? null : h("p.muted", {}, "No segmentation predictions for this video yet."),
      overlays.hasBoxes ? null : h("p.muted", {}, "No crop boxes for this video."));
  }

  syncOverlays() {
    const show = this.page.overlays.show;
    for (const [element, kind] of [[this.overlayBoxes, "boxes"], [this.overlayMask, "mask"],
      [this.overlayUncertainty, "uncertainty"]]) {
      if (element) element.querySelector("input").checked = show[kind];
    }
  }

  /** Each other person with polygons on this video: show/hide, their Dice on this frame, Accept. */
  _updateOthers(index) {
    if (!this.othersBox) return;
    const { others, readonly } = this.page;
    const agreement = others.agreement(index);
    const fmt = (value) => (value === null || value === undefined ? "—" : value.toFixed(2));
    const rows = others.people.map((person) => {
      const polygons = others.polygons(person.id, index);
      const name = `${person.username} (L${person.validation_level})`;
      return h("li", { dataset: { person: String(person.id) } },
        h("label.other-toggle", {}, h("input", { type: "checkbox", checked: others.shown.has(person.id),
          "aria-label": `Show ${person.username}'s contours`,
          onchange: (event) => this.page.toggleOthers(person.id, event.target.checked) }), name),
        h("span.muted", {}, polygons.length ? ` · ${polygons.length} polygon${polygons.length === 1 ? "" : "s"}` : " · none here"),
        agreement && agreement.dice[person.id] !== undefined
          ? h("span.dice", { title: "Dice against the consensus of the others' contours on this frame" },
            ` · Dice ${fmt(agreement.dice[person.id])}`) : null,
        !readonly && polygons.length ? h("button.link.accept-contours", { type: "button",
          "aria-label": `Accept ${person.username}'s contours on this frame as mine`,
          onclick: () => this.page.acceptContours(person.id) }, "Accept") : null);
    });
    const note = agreement
      ? h("li.muted.consensus-note", {}, `Consensus of ${agreement.raters} people`
        + (agreement.mine !== null ? ` · my Dice ${fmt(agreement.mine)} (at page load)` : ""))
      : h("li.muted.consensus-note", {}, "Dice: fewer than two people contoured this frame.");
    this.othersBox.querySelector("ul").replaceChildren(...rows, note);
  }

  update() {
    const { page } = this;
    const index = page.current;
    const mine = page.scores.scores[index];
    this.frameLegend.textContent = `Frame ${index + 1} score`;
    this.frameButtons.forEach((button, score) => button.setAttribute("aria-pressed", String(mine === score)));
    const selection = page.timeline.selection;
    this.rangeNote.textContent = selection && selection[1] > selection[0]
      ? `Range selected: frames ${selection[0] + 1}–${selection[1] + 1} (${selection[1] - selection[0] + 1}); a score key scores them all.`
      : "";
    const others = page.otherRows.map((row) => h("span.other", {}, `${row.label}: `, scoreBadge(row.values[index])));
    const prediction = page.predictionAt(index);
    if (prediction) {
      others.push(h("span.other", {}, "Model: ", scoreBadge(prediction.score),
        ` (${prediction.probabilities.map((p, k) => `${k}: ${pct(p)}`).join(", ")})`));
    }
    this.frameOthers.replaceChildren(...others);

    const video = page.videoScores;
    this.videoRadios.forEach((radio, score) => { radio.checked = video.score === score; });
    this.findingBoxes.forEach((label) => {
      const box = label.querySelector("input");
      const present = page.findings.present.get(box.dataset.finding);
      box.checked = present === true;
      box.indeterminate = present === null || present === undefined;
      label.dataset.state = present === true ? "present" : present === false ? "absent" : "unstated";
    });
    if (document.activeElement !== this.comment) this.comment.value = video.comment;

    this._updateOthers(index);
    const items = page.editor.items();
    const selectedKey = page.editor.selected?.key;
    this.contourList.replaceChildren(...(items.length ? items.map((item, n) => {
      const cls = this.data.segmentation_classes.find((c) => c.index === item.cls);
      return h("li", { class: item.key === selectedKey ? "selected" : "" },
        h("button.link.contour-select", { type: "button", "aria-pressed": String(item.key === selectedKey),
          onclick: () => page.editor.select(item.key) },
          h("span.swatch", { style: { background: page.editor.colour(item.cls) } }),
          `${cls ? cls.name : `class ${item.cls}`} · ${item.vertices.length} vertices`),
        h("button.link.danger", { type: "button", "aria-label": `Delete polygon ${n + 1}`,
          onclick: () => page.editor.deletePolygon(item.key) }, "Delete"));
    }) : [h("li.muted", {}, "No polygons on this frame.")]));
    this.classToggles.forEach((label) => {
      const input = label.querySelector("input");
      input.checked = !page.editor.hidden.has(Number(input.dataset.class));
    });
  }
}
