// Small DOM helpers shared by every page: an element builder, toasts, modal dialogs, formatting.

/** h("button.primary", {onclick}, "Save") → element. Attributes starting with "on" become listeners. */
export function h(tag, attrs = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const element = document.createElement(name || "div");
  if (classes.length) element.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value);
    else if (key === "style" && typeof value === "object") Object.assign(element.style, value);
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(key, "");
    else element.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** A short message in the corner; kind = info | success | error. Errors stay until dismissed. */
export function toast(message, kind = "info", { timeout = 4000 } = {}) {
  const host = document.getElementById("toasts");
  if (!host) return;
  const item = h(`div.toast.${kind}`, { role: kind === "error" ? "alert" : "status" }, message);
  const close = h("button.link", { "aria-label": "Dismiss", onclick: () => item.remove() }, "×");
  item.append(close);
  host.append(item);
  if (kind !== "error") setTimeout(() => item.remove(), timeout);
}

/**
 * A modal dialog with buttons; resolves to the value of the chosen button (Escape → null).
 * buttons: [{label, value, primary}]
 */
export function dialog(title, body, buttons = [{ label: "OK", value: true, primary: true }]) {
  return new Promise((resolve) => {
    const element = h("dialog.modal", { "aria-labelledby": "dialog-title" },
      h("h2", { id: "dialog-title" }, title),
      h("div.dialog-body", {}, body),
      h("div.dialog-actions", {}, buttons.map((button) =>
        h(`button${button.primary ? ".primary" : ""}`, {
          type: "button", dataset: { value: String(button.value) },
          onclick: () => { element.close(); resolve(button.value); },
        }, button.label))));
    element.addEventListener("cancel", () => resolve(null));
    element.addEventListener("close", () => element.remove());
    document.body.append(element);
    element.showModal();
    element.querySelector("button.primary, button")?.focus();
  });
}

/** Mark the page as loaded (tests and screen readers wait on aria-busy). */
export function ready(root = document.getElementById("app")) {
  root?.setAttribute("aria-busy", "false");
}

/** Show an error in the page body instead of leaving a blank screen. */
export function fail(error, root = document.getElementById("app")) {
  console.warn(error);
  if (root) {
    root.replaceChildren(h("p.error", { role: "alert" }, `Could not load this page: ${error.message || error}`));
    ready(root);
  }
}

export const SCORE_COLOURS = ["#2f6fde", "#f2c200", "#f07f0f", "#d62828"];  // score 0..3: blue, yellow, orange, red
// The 0–3 LUS score (Soldati et al. 2020): a short label for buttons, the full meaning for tooltips.
export const SCORE_LABELS = ["Normal, A-lines", "Indented, B-lines", "Broken, small consol.", "White lung"];
export const SCORE_MEANINGS = [
  "0: continuous, regular pleural line with horizontal A-lines",
  "1: indented pleural line; vertical artefacts (B-lines) below it",
  "2: broken pleural line; small consolidations or white areas below it",
  "3: dense, large white lung, with or without consolidations",
];
export const SCORE_NAMES = SCORE_LABELS.map((label, score) => `${score} · ${label}`);

/** The 0–3 score buttons' content: the digit and its short meaning (the tooltip has the full one). */
export function scoreButtonContent(score) {
  return [h("span.score-digit", {}, String(score)), h("span.score-label", {}, SCORE_LABELS[score])];
}

/** The frame number people see and URLs carry: counted from 1. The API and exports keep the stored
 * 0-based `index`; convert only here, at the edge (frameIndex is the inverse). */
export const frameNumber = (index) => index + 1;
export const frameIndex = (number) => number - 1;

export function formatDate(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

/** How pages name a patient: the code alone when it says "patient" already ("patient_10", not "patient
 * patient_10"), else "patient P1" ("Patient P1" with `title`). */
export function patientLabel(code, { title = false } = {}) {
  const text = String(code ?? "");
  if (/^patient/i.test(text)) return text;
  return `${title ? "Patient" : "patient"} ${text}`;
}
