// Keyboard shortcuts of the annotate page (listed for people in help.js). Keys typed into form fields,
// and Space/Enter on a focused button, keep their usual meaning.

import { ZOOM_STEP } from "./canvas.js";
import { showHelp } from "./help.js";
import { cyclePolygon, cycleVertex, insertVertex, nudgeVertex, vertexSelected } from "./vertex-keys.js";

export function bindKeys(page) {
  const keys = { spaceDown: false, spaceUsed: false };
  page.keys = keys;
  const classes = page.data.segmentation_classes.map((c) => c.index);
  const cycleClass = (delta) => {
    const at = classes.indexOf(page.editor.cls);
    page.editor.setClass(classes[(at + delta + classes.length) % classes.length]);
  };

  document.addEventListener("keydown", (event) => {
    if (document.querySelector("dialog[open]")) return;
    const target = event.target instanceof Element ? event.target : document.body;
    if (target.closest("input, textarea, select, [contenteditable='true']")) {
      if (event.key === "Escape") target.blur();
      return;
    }
    const onControl = target.closest("button, a, summary");
    const ctrl = event.ctrlKey || event.metaKey;
    const key = event.key;
    const handled = () => event.preventDefault();

    // The read-only frame view keeps moving, viewing and overlay keys, none that would write.
    if (page.readonly && (ctrl || /^[0-3dcpsilaxnDCPSILAXN,.]$/.test(key) || key === "Tab" || key === "Enter" || key === "Delete"
      || key === "Backspace" || (key.length === 1 && page.findings.codeForKey(key)))) return;
    if (ctrl) {
      if (key.toLowerCase() === "z") { handled(); if (event.shiftKey) page.editor.redo(); else page.editor.undo(); }
      else if (key.toLowerCase() === "y") { handled(); page.editor.redo(); }
      return;  // other Ctrl shortcuts belong to the browser
    }
    if (event.altKey) return;  // Alt+digit switches browser tabs on Linux: nothing here uses Alt
    switch (key) {
      case " ":
        if (onControl) return;
        handled();
        if (!event.repeat) { keys.spaceDown = true; keys.spaceUsed = false; }
        return;
      case "ArrowLeft": case "ArrowRight": case "ArrowUp": case "ArrowDown": {
        // with a vertex selected the arrows nudge it (Shift: 10 px); else left/right step frames
        const step = event.shiftKey ? 10 : 1;
        const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[key];
        if (!page.readonly && vertexSelected(page.editor)) { handled(); nudgeVertex(page.editor, d[0], d[1]); return; }
        if (key === "ArrowUp" || key === "ArrowDown") return;
        handled(); page.step(key === "ArrowLeft" ? -1 : 1, event.shiftKey); return;
      }
      case "j": case "J":
        handled(); page.step(-1, event.shiftKey); return;
      case "k": case "K":
        handled(); page.step(1, event.shiftKey); return;
      case "Tab":
        if (onControl || target.closest("dialog, .annotate-side")) return;  // focus moves as usual there
        if (cyclePolygon(page.editor, event.shiftKey ? -1 : 1)) handled();
        return;
      case ",": handled(); cycleVertex(page.editor, -1); return;
      case ".": handled(); cycleVertex(page.editor, 1); return;
      case "i": case "I": handled(); insertVertex(page.editor); return;
      case "l": case "L": handled(); page.tracks.toggleKeyframe(); return;
      case "n": case "N": handled(); page.tracks.toggleGap(); return;
      case "a": handled(); page.tracks.accept(false); return;
      case "A": handled(); page.tracks.accept(true); return;
      case "x": case "X": handled(); page.tracks.discard(); return;
      case "Home": handled(); page.step(-page.count, event.shiftKey); return;
      case "End": handled(); page.step(page.count, event.shiftKey); return;
      case "0": case "1": case "2": case "3":
        handled(); page.score(Number(key)); return;
      case "Escape":
        if (!page.editor.cancel() && page.timeline.selection) page.timeline.select(page.current, -1);
        return;
      case "d": case "D": handled(); page.editor.setTool(page.editor.tool === "draw" ? "view" : "draw"); return;
      case "c": case "C": handled(); cycleClass(event.shiftKey ? -1 : 1); return;
      case "v": case "V": {
        handled();
        const cls = page.editor.cls;
        page.editor.toggleClass(cls, page.editor.hidden.has(cls));
        return;
      }
      case "Enter":
        if (onControl) return;
        handled(); page.editor.close(); return;
      case "Delete": case "Backspace": handled(); page.editor.deleteSelection(); return;
      case "p": handled(); page.editor.copyPrevious(); return;
      case "P": handled(); page.tracks.propagate(); return;
      case "+": case "=": handled(); page.view.zoomAt(ZOOM_STEP); return;
      case "-": case "_": handled(); page.view.zoomAt(1 / ZOOM_STEP); return;
      case "f": case "F": handled(); page.view.fit(); return;
      case "[": handled(); page.stepWindow("brightness", -1); return;
      case "]": handled(); page.stepWindow("brightness", 1); return;
      case "{": handled(); page.stepWindow("contrast", -1); return;
      case "}": handled(); page.stepWindow("contrast", 1); return;
      case "g": case "G": handled(); page.view.setWindow(1, 1); return;
      case "o": case "O": handled(); page.toggleOthers(); return;
      case "b": case "B": handled(); page.setOverlay("boxes"); return;
      case "m": case "M": handled(); page.setOverlay("mask"); return;
      case "u": case "U": handled(); page.setOverlay("uncertainty"); return;
      case "s": case "S": handled(); page.saver.flush(); return;
      case "?": handled(); showHelp(page.readonly); return;
      default: {
        const finding = key.length === 1 ? page.findings.codeForKey(key) : undefined;
        if (finding) { handled(); page.toggleFinding(finding); }
      }
    }
  });

  // A Space released while the window had no focus never sends keyup.
  window.addEventListener("blur", () => { keys.spaceDown = false; });

  document.addEventListener("keyup", (event) => {
    if (event.key !== " " || !keys.spaceDown) return;
    keys.spaceDown = false;
    // Space alone plays or pauses; Space held while dragging only pans.
    if (!keys.spaceUsed) page.togglePlay();
  });
}
