// Every shortcut of the annotate page, shown by "?" (the key handler in keys.js is the source of truth;
// keep the two in step). The findings' keys depend on the vocabulary: the page sets them once loaded.

import { dialog, h } from "../shared/ui.js";

export const SHORTCUTS = [
  ["Playback", [
    [["Space"], "Play / pause at the video's frame rate"],
    [["←", "J"], "Previous frame (← nudges a selected vertex instead)"],
    [["→", "K"], "Next frame (→ nudges a selected vertex instead)"],
    [["Home", "End"], "First / last frame"],
  ]],
  ["Scoring", [
    [["0", "1", "2", "3"], "Score this frame, or every frame of the selected range"],
    [["Shift+click"], "On the timeline: select the range from the last clicked frame"],
    [["Shift+←", "Shift+→"], "Extend the selected range"],
    [["Esc"], "Clear the selection (or stop drawing)"],
  ]],
  ["Contours", [
    [["D"], "Polygon tool on / off"],
    [["C", "Shift+C"], "Next / previous marker class"],
    [["Click"], "Polygon tool: add a vertex"],
    [["Enter", "Double-click"], "Close the polygon (or click its first vertex)"],
    [["Drag"], "Move a vertex"],
    [["Click edge"], "Insert a vertex on the selected polygon's edge (double-click any edge)"],
    [["Delete", "Alt+click"], "Delete the selected vertex, or the selected polygon"],
    [["Ctrl+Z", "Ctrl+Shift+Z"], "Undo / redo"],
    [["P"], "Copy the previous frame's contours"],
    [["V"], "Hide / show the current marker class"],
  ]],
  ["Contours by keyboard", [
    [["Tab", "Shift+Tab"], "Select the next / previous polygon (on the canvas)"],
    [[",", "."], "Select the previous / next vertex of the selected polygon"],
    [["←", "→", "↑", "↓"], "With a vertex selected: nudge it 1 px (Shift: 10 px)"],
    [["I"], "Insert a vertex after the selected one"],
    [["Delete"], "Delete the selected vertex"],
    [["C"], "Change the selected polygon's class (cycles)"],
  ]],
  ["Tracks", [
    [["L"], "Keyframe: start a track from the selected polygon, or mark / unmark this frame as a keyframe"],
    [["Shift+P"], "Propagate the track's polygon to the next N frames (optical flow; N in the toolbar)"],
    [["A"], "Accept this frame's proposals and go to the next frame"],
    [["Shift+A"], "Accept every proposal of the track"],
    [["X"], "Discard this frame's proposals"],
    [["N"], "The marker left the view here: the track ends, its next keyframe restarts it (again: undo)"],
  ]],
  ["View", [
    [["+", "−", "Wheel"], "Zoom in / out (the wheel at the pointer)"],
    [["F"], "Fit the frame"],
    [["Space+drag", "Drag"], "Pan (drag pans outside the polygon tool)"],
    [["[", "]"], "Brightness down / up"],
    [["{", "}"], "Contrast down / up"],
    [["G"], "Reset brightness and contrast"],
    [["O"], "Other people's contours on / off (each person: the panel)"],
    [["B"], "STN crop boxes"],
    [["M", "U"], "Segmentation mask / uncertainty heat-map"],
  ]],
  ["Other", [
    [["S"], "Save now"],
    [["?"], "This help"],
  ]],
];

let findingRows = [];

/** The "Findings" section: [[key, name], ...] in vocabulary order. */
export function setFindingShortcuts(pairs) {
  findingRows = pairs.map(([key, name]) => [[key.toUpperCase()], `${name}: present / absent (toggles)`]);
}

/** readonly: the frame view, whose keys do not write (no scoring, findings, contours or saving). */
export function showHelp(readonly = false) {
  const all = readonly ? SHORTCUTS.filter(([title]) => !["Scoring", "Contours", "Contours by keyboard", "Tracks", "Other"].includes(title))
    .concat([["Other", [[["?"], "This help"]]]])
    : findingRows.length ? [...SHORTCUTS.slice(0, 2), ["Findings", findingRows], ...SHORTCUTS.slice(2)] : SHORTCUTS;
  const sections = all.map(([title, rows]) => h("section.help-section", {},
    h("h3", {}, title),
    h("dl", {}, rows.flatMap(([keys, text]) => [
      h("dt", {}, keys.flatMap((key, i) => [i ? " " : "", h("kbd", {}, key)])),
      h("dd", {}, text),
    ]))));
  return dialog("Keyboard shortcuts", h("div.help-grid", { id: "annotate-help" }, sections),
    [{ label: "Close", value: true, primary: true }]);
}
