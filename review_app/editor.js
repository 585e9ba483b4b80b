// The bounding-box editor of the review page.
// Boxes live in the image's own pixels (the SVG viewBox is in image pixels), so what is
// submitted never depends on how large the image is shown. The boundary is small: task data in
// (`ReviewEditor.start(task, hooks)`), the answer out through `hooks.submit`, the task handed
// back through `hooks.release`. A page that embeds `#task-data` gets the local A2I page's hooks.
"use strict";

(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
    "#9a6324", "#469990", "#808000", "#000075", "#e6a100"];
  const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];
  const MIN_DRAW_SCREEN_PX = 4;
  const MAX_ZOOM = 16;
  const TAG_FONT_PX = 12;
  const DUPLICATE_OFFSET = 10;
  const HISTORY_LIMIT = 500; // undo steps kept (each a copy of the boxes)

  // ---- colour: WCAG relative luminance and contrast ----------------------------------------

  function luminance(hex) {
    const channels = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
    const [r, g, b] = channels.map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }

  function contrast(a, b) {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  }

  // Black or white, whichever stands out more against `hex`: the tag's text and the outline's casing.
  // The other one is the halo around both, so every box has a black and a white line: one of them
  // stands out on any image, dark or light.
  const inkOn = (hex) => (contrast(hex, "#000000") >= contrast(hex, "#ffffff") ? "#000000" : "#ffffff");
  const haloOf = (ink) => (ink === "#000000" ? "#ffffff" : "#000000");

  const $ = (id) => document.getElementById(id);

  function svgEl(name, attrs) {
    const el = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
    return el;
  }

  function htmlEl(name, props = {}, ...children) {
    const el = document.createElement(name);
    for (const [key, value] of Object.entries(props)) {
      if (key.startsWith("aria-") || key.startsWith("data-")) el.setAttribute(key, value);
      else el[key] = value;
    }
    el.append(...children);
    return el;
  }

  const clamp = (value, low, high) => Math.min(Math.max(value, low), high);
  const plainBox = ({ label, left, top, width, height }) => ({ label, left, top, width, height });
  const sameBox = (a, b) =>
    a.label === b.label && a.left === b.left && a.top === b.top && a.width === b.width && a.height === b.height;

  // As crowd-bounding-box reports it: true unless exactly the proposed boxes remain, in any order.
  function modified(initial, boxes) {
    const keys = (list) => list.map((b) => JSON.stringify([b.label, b.left, b.top, b.width, b.height])).sort();
    return keys(initial).join("\n") !== keys(boxes).join("\n");
  }

  function start(task, hooks) {
    const svg = $("canvas");
    const photo = $("photo");
    const layer = $("boxes");
    const draft = $("draft");
    const stage = $("stage");
    const list = $("box-list");
    const statusLine = $("status");
    const openedAt = new Date();
    const readOnly = Boolean(task.readOnly);
    const coarse = window.matchMedia("(pointer: coarse)").matches || navigator.maxTouchPoints > 0;
    const handleHitPx = coarse ? 32 : 24;
    const handleMarkPx = coarse ? 14 : 10;
    const shown = task.shownValue ?? task.initialValue ?? [];
    // Boxes as the reviewer left them before a new sign-in (the task page kept them), else the task's.
    const drafted = readOnly ? null : task.draft ?? null;
    // Listeners on the document and the window end with `stop()`, when a page swaps in another task.
    const listening = new AbortController();
    const { signal } = listening;
    const fresh = shown.map((box, i) => ({
      ...plainBox(box),
      score: readOnly ? null : task.initialScores?.[i] ?? null,
      initial: readOnly ? undefined : plainBox(box),
    }));

    const state = {
      boxes: (drafted ?? fresh).map((box, i) => ({ ...box, id: i + 1 })),
      nextId: (drafted ?? fresh).length + 1,
      selected: null,
      label: shown.length ? shown[0].label : task.labels[0],
      drawing: false,
      history: [],
      future: [],
      image: null,
      view: { x: 0, y: 0, w: 1, h: 1 },
      fitted: true,
      spaceHeld: false,
      busy: false,
      allHidden: false,
      tagsHidden: false,
    };
    const startBoxes = fresh.map(plainBox);
    const views = new Map(); // box id -> its SVG group and its row in the box list
    const pointers = new Map(); // touch/pen pointers on the image, for pinch zoom
    let drag = null;
    let pinch = null;
    let handles = null;
    const labelWidths = new Map(); // tag text -> width in screen px at TAG_FONT_PX
    const measure = document.createElement("canvas").getContext("2d");

    // ---- geometry -------------------------------------------------------------------------

    // The image area's size, measured again only when it is resized: reading it for every box would
    // force a layout per box.
    let stageRect = null;
    const stageSize = () => (stageRect ??= svg.getBoundingClientRect());
    const unitsPerPixel = () => state.view.w / (stageSize().width || 1);

    function toImage(clientX, clientY) {
      return new DOMPoint(clientX, clientY).matrixTransform(svg.getScreenCTM().inverse());
    }

    function setView(x, y, w, h) {
      const scaleChanged = Math.abs(w - state.view.w) > 1e-9;
      state.view = { x, y, w, h };
      svg.setAttribute("viewBox", `${x} ${y} ${w} ${h}`);
      $("zoom-level").textContent = `${Math.round((stageSize().width / w) * 100)}%`;
      for (const box of state.boxes) placeTag(box);
      const chosen = byId(state.selected);
      if (scaleChanged && chosen && !readOnly) placeHandles(chosen);
    }

    function fitScale() {
      const { width, height } = stageSize();
      return Math.min(width / state.image.width, height / state.image.height) * 0.97;
    }

    function fit() {
      if (!state.image) return;
      const { width, height } = stageSize();
      const scale = fitScale();
      state.fitted = true;
      setView((state.image.width - width / scale) / 2, (state.image.height - height / scale) / 2,
        width / scale, height / scale);
    }

    function zoomAt(factor, cx, cy) {
      if (!state.image) return;
      const scale = stageSize().width / state.view.w;
      const next = clamp(scale * factor, fitScale() / 2, MAX_ZOOM);
      const f = next / scale;
      const v = state.view;
      state.fitted = false;
      setView(cx - (cx - v.x) / f, cy - (cy - v.y) / f, v.w / f, v.h / f);
    }

    function zoomCentered(factor) {
      const v = state.view;
      zoomAt(factor, v.x + v.w / 2, v.y + v.h / 2);
    }

    function keepScaleOnResize() {
      stageRect = null;
      if (!state.image) return;
      if (state.fitted) return fit();
      const { width, height } = stageSize();
      const v = state.view;
      const upp = v.w / (width || 1);
      setView(v.x + v.w / 2 - (width * upp) / 2, v.y + v.h / 2 - (height * upp) / 2, width * upp, height * upp);
    }

    function cornersToBox(x1, y1, x2, y2) {
      const { width: W, height: H } = state.image;
      const left = Math.round(clamp(Math.min(x1, x2), 0, W));
      const right = Math.round(clamp(Math.max(x1, x2), 0, W));
      const top = Math.round(clamp(Math.min(y1, y2), 0, H));
      const bottom = Math.round(clamp(Math.max(y1, y2), 0, H));
      return { left, top, width: Math.max(right - left, 1), height: Math.max(bottom - top, 1) };
    }

    // Corner and edge moves of a resize; a box dragged past its opposite edge flips over.
    function resized(origin, handle, dx, dy) {
      let [l, t, r, b] = [origin.left, origin.top, origin.left + origin.width, origin.top + origin.height];
      if (handle.includes("w")) l += dx;
      if (handle.includes("e")) r += dx;
      if (handle.includes("n")) t += dy;
      if (handle.includes("s")) b += dy;
      return cornersToBox(l, t, r, b);
    }

    // ---- the boxes' SVG: each box is drawn once and then only updated where it changed -------

    const byId = (id) => state.boxes.find((box) => box.id === id);
    const numberOf = (id) => state.boxes.findIndex((box) => box.id === id) + 1;
    const colorOf = (label) => PALETTE[Math.max(task.labels.indexOf(label), 0) % PALETTE.length];

    function createBoxView(box) {
      const group = svgEl("g", { class: "box", "data-id": box.id });
      const halo = svgEl("rect", { class: "box-halo" });
      const casing = svgEl("rect", { class: "box-casing" });
      const rect = svgEl("rect", { class: "box-rect" });
      const tag = svgEl("g", { class: "box-tag" });
      const tagHalo = svgEl("rect", { class: "tag-halo" });
      const tagBg = svgEl("rect", { class: "tag-bg" });
      const tagText = svgEl("text", { class: "tag-text" });
      tag.append(tagHalo, tagBg, tagText);
      group.append(halo, casing, rect, tag);
      const view = {
        group, halo, casing, rect, tag, tagHalo, tagBg, tagText, row: createRow(box), label: null, number: null,
      };
      views.set(box.id, view);
      return view;
    }

    // Measured on a canvas in the tags' font: no layout, so renumbering 200 tags stays cheap.
    function tagWidth(text) {
      if (!labelWidths.has(text)) {
        const style = getComputedStyle(layer);
        measure.font = `600 ${TAG_FONT_PX}px ${style.fontFamily || "system-ui, sans-serif"}`;
        labelWidths.set(text, measure.measureText(text).width);
      }
      return labelWidths.get(text);
    }

    // The tag sits above the box when there is room in view, else just inside its top edge.
    function placeTag(box) {
      const view = views.get(box.id);
      const u = unitsPerPixel();
      const pad = 3 * u;
      const height = TAG_FONT_PX * u + 2 * pad;
      const y = box.top - height >= state.view.y ? box.top - height : box.top;
      for (const el of [view.tagHalo, view.tagBg]) {
        el.setAttribute("x", box.left);
        el.setAttribute("y", y);
        el.setAttribute("height", height);
        el.setAttribute("width", tagWidth(view.tagText.textContent) * u + 2 * pad);
      }
      view.tagText.setAttribute("x", box.left + pad);
      view.tagText.setAttribute("y", y + pad);
      view.tagText.setAttribute("font-size", TAG_FONT_PX * u);
    }

    function drawBox(box) {
      const view = views.get(box.id) ?? createBoxView(box);
      for (const el of [view.halo, view.casing, view.rect]) {
        el.setAttribute("x", box.left);
        el.setAttribute("y", box.top);
        el.setAttribute("width", box.width);
        el.setAttribute("height", box.height);
      }
      const number = numberOf(box.id);
      if (view.label !== box.label || view.number !== number) {
        const color = colorOf(box.label);
        const ink = inkOn(color);
        view.rect.setAttribute("stroke", color);
        view.casing.setAttribute("stroke", ink);
        view.halo.setAttribute("stroke", haloOf(ink));
        view.tagBg.setAttribute("fill", color);
        view.tagBg.setAttribute("stroke", ink);
        view.tagHalo.setAttribute("stroke", haloOf(ink));
        view.tagText.setAttribute("fill", ink);
        view.tagText.textContent = `${number} ${box.label}`;
        view.group.dataset.label = box.label;
        view.group.dataset.index = number;
        view.label = box.label;
        view.number = number;
      }
      view.group.classList.toggle("hidden-box", Boolean(box.hidden));
      placeTag(box);
      if (box.id === state.selected) placeHandles(box);
      updateRow(box, number);
    }

    // Larger boxes are painted first so a small box inside a large one stays clickable.
    function restack() {
      const order = [...state.boxes].sort((a, b) => b.width * b.height - a.width * a.height);
      for (const box of order) layer.appendChild(views.get(box.id).group);
      if (handles) layer.appendChild(handles.group);
    }

    function createHandles() {
      const group = svgEl("g", { class: "handles" });
      const parts = {};
      for (const handle of HANDLES) {
        const hit = svgEl("rect", { class: "handle", "data-handle": handle });
        const mark = svgEl("rect", { class: "handle-mark" });
        group.append(hit, mark);
        parts[handle] = { hit, mark };
      }
      return { group, parts };
    }

    function placeHandles(box) {
      if (!handles) handles = createHandles();
      if (!handles.group.isConnected) layer.appendChild(handles.group);
      const u = unitsPerPixel();
      const xs = { w: box.left, mid: box.left + box.width / 2, e: box.left + box.width };
      const ys = { n: box.top, mid: box.top + box.height / 2, s: box.top + box.height };
      for (const handle of HANDLES) {
        const hx = handle.includes("w") ? xs.w : handle.includes("e") ? xs.e : xs.mid;
        const hy = handle.includes("n") ? ys.n : handle.includes("s") ? ys.s : ys.mid;
        for (const [el, px] of [[handles.parts[handle].hit, handleHitPx], [handles.parts[handle].mark, handleMarkPx]]) {
          el.setAttribute("x", hx - (px * u) / 2);
          el.setAttribute("y", hy - (px * u) / 2);
          el.setAttribute("width", px * u);
          el.setAttribute("height", px * u);
        }
      }
    }

    function removeHandles() {
      if (handles) handles.group.remove();
    }

    // ---- the box list: one row per box, updated in place so focus never drops ---------------

    function createRow(box) {
      const pick = htmlEl("button", { type: "button", className: "pick", "aria-pressed": "false" });
      pick.addEventListener("click", () => select(box.id));
      const visibility = htmlEl("button", { type: "button", className: "eye", "aria-pressed": "false" },
        htmlEl("span", { "aria-hidden": "true", className: "glyph" }),
        htmlEl("span", { className: "visually-hidden" }));
      visibility.addEventListener("click", () => toggleHidden(box.id));
      const remove = htmlEl("button", { type: "button", className: "remove danger", disabled: readOnly },
        htmlEl("span", { "aria-hidden": "true" }, "×"), htmlEl("span", { className: "visually-hidden" }));
      remove.addEventListener("click", () => deleteBox(box.id, remove));
      const picker = htmlEl("select", { disabled: readOnly });
      for (const label of task.labels) picker.append(new Option(label, label));
      picker.addEventListener("change", () => relabel(box.id, picker.value));
      const coords = htmlEl("div", { className: "coords" });
      const origin = htmlEl("span", { className: "origin" });
      const row = htmlEl("li", { "data-id": box.id },
        htmlEl("span", { className: "swatch" }), pick, visibility, remove, picker, coords, origin);
      return { row, pick, visibility, remove, picker, coords, origin, swatch: row.firstChild };
    }

    function originText(box) {
      if (box.initial === undefined) return readOnly ? "submitted" : "new";
      const score = box.score === null ? "model" : `model ${box.score.toFixed(2)}`;
      return sameBox(box, box.initial) ? score : `${score}, edited`;
    }

    function updateRow(box, number) {
      const { row, pick, visibility, remove, picker, coords, origin, swatch } = views.get(box.id).row;
      pick.textContent = `Box ${number} · ${box.label}`;
      remove.lastChild.textContent = `Delete box ${number}`;
      visibility.lastChild.textContent = `Hide box ${number}`;
      visibility.firstChild.textContent = box.hidden ? "◌" : "◉";
      visibility.setAttribute("aria-pressed", String(Boolean(box.hidden)));
      picker.setAttribute("aria-label", `Label of box ${number}`);
      if (picker.value !== box.label) picker.value = box.label;
      swatch.style.background = colorOf(box.label);
      coords.dataset.box = JSON.stringify(plainBox(box));
      coords.textContent = `x ${box.left}  y ${box.top}  ·  ${box.width} × ${box.height} px`;
      origin.textContent = originText(box);
      row.classList.toggle("hidden-box", Boolean(box.hidden));
    }

    function syncList() {
      let at = list.firstElementChild;
      for (const box of state.boxes) {
        const { row } = views.get(box.id).row;
        if (row !== at) list.insertBefore(row, at);
        else at = at.nextElementSibling;
      }
      while (at) {
        const next = at.nextElementSibling;
        at.remove();
        at = next;
      }
    }

    // Brings the SVG and the list in line with state.boxes after a change to many boxes.
    function refreshAll() {
      const alive = new Set(state.boxes.map((box) => box.id));
      for (const [id, view] of views) {
        if (!alive.has(id)) {
          view.group.remove();
          view.row.row.remove();
          views.delete(id);
        }
      }
      for (const box of state.boxes) drawBox(box);
      restack();
      syncList();
      showSelection();
      refreshControls();
    }

    function showSelection() {
      for (const [id, view] of views) {
        const on = id === state.selected;
        if (view.group.classList.contains("selected") !== on) {
          view.group.classList.toggle("selected", on);
          view.row.row.classList.toggle("selected", on);
          view.row.pick.setAttribute("aria-pressed", String(on));
        }
      }
      const chosen = byId(state.selected);
      if (chosen && !readOnly) placeHandles(chosen);
      else removeHandles();
    }

    function refreshControls() {
      const focused = document.activeElement;
      $("box-count").textContent = String(state.boxes.length);
      for (const id of ["delete", "duplicate"]) $(id).disabled = readOnly || state.selected === null;
      $("undo").disabled = state.history.length === 0;
      $("redo").disabled = state.future.length === 0;
      $("toggle-boxes").setAttribute("aria-pressed", String(state.allHidden));
      $("toggle-tags").setAttribute("aria-pressed", String(state.tagsHidden));
      svg.classList.toggle("boxes-hidden", state.allHidden);
      svg.classList.toggle("tags-hidden", state.tagsHidden);
      for (const input of document.querySelectorAll("#labels input")) input.checked = input.value === state.label;
      $("current-label").textContent = state.label;
      // A button that just became disabled (Undo with nothing left to undo) hands focus to the image,
      // never to the page.
      if (focused?.disabled) svg.focus({ preventScroll: true });
    }

    // ---- edits and history ------------------------------------------------------------------

    const snapshot = () => JSON.stringify(state.boxes);

    function record(before) {
      state.history.push(before);
      if (state.history.length > HISTORY_LIMIT) state.history.shift();
      state.future = [];
    }

    // One box changed (moved, resized, relabelled): redraw it and its row only.
    function changed(box, before) {
      if (before !== undefined) record(before);
      drawBox(box);
      refreshControls();
    }

    function restore(from, to, word) {
      if (!from.length) return;
      to.push(snapshot());
      state.boxes = JSON.parse(from.pop());
      if (!byId(state.selected)) state.selected = null;
      refreshAll();
      announce(`${word}. ${state.boxes.length} boxes.`);
    }

    const undo = () => restore(state.history, state.future, "Undone");
    const redo = () => restore(state.future, state.history, "Redone");

    function editable() {
      if (readOnly) announce("This task is submitted: it can be looked at, not changed.");
      return !readOnly && !state.busy;
    }

    function select(id, { quiet = false } = {}) {
      state.selected = id;
      showSelection();
      refreshControls();
      const box = byId(id);
      if (box && !quiet) announce(`Box ${numberOf(id)} of ${state.boxes.length} selected: ${describe(box)}.`);
    }

    const describe = (box) => `${box.label}, x ${box.left} y ${box.top}, ${box.width} by ${box.height}`;

    function addBox(fields, verb = "Added") {
      const before = snapshot();
      const box = { id: state.nextId++, score: null, ...fields };
      state.boxes.push(box);
      record(before);
      state.selected = box.id;
      drawBox(box);
      restack();
      syncList();
      showSelection();
      refreshControls();
      announce(`${verb} box ${state.boxes.length}: ${describe(box)}.`);
      return box;
    }

    // A box of the current label in the middle of the view: drawing without a pointer.
    function addBoxInView() {
      if (!editable() || !state.image) return;
      const v = state.view;
      const w = Math.max(Math.round(Math.min(v.w, state.image.width) / 4), 1);
      const h = Math.max(Math.round(Math.min(v.h, state.image.height) / 4), 1);
      const cx = clamp(v.x + v.w / 2, w / 2, state.image.width - w / 2);
      const cy = clamp(v.y + v.h / 2, h / 2, state.image.height - h / 2);
      addBox({ label: state.label, ...cornersToBox(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2) });
    }

    function duplicateSelected() {
      const box = byId(state.selected);
      if (!box || !editable()) return;
      const left = clamp(box.left + DUPLICATE_OFFSET, 0, state.image.width - box.width);
      const top = clamp(box.top + DUPLICATE_OFFSET, 0, state.image.height - box.height);
      addBox({ label: box.label, left, top, width: box.width, height: box.height }, "Duplicated as");
    }

    function relabel(id, label) {
      const box = byId(id);
      if (!box || box.label === label || !editable()) return;
      const before = snapshot();
      box.label = label;
      changed(box, before);
      announce(`Box ${numberOf(id)} is now ${label}.`);
    }

    // Deleting from the list keeps focus in the list: on the next row's same button, else the previous.
    function deleteBox(id, focusedControl = null) {
      const box = byId(id);
      if (!box || !editable()) return;
      const at = numberOf(id) - 1;
      const before = snapshot();
      state.boxes = state.boxes.filter((b) => b.id !== id);
      if (state.selected === id) state.selected = null;
      record(before);
      refreshAll();
      announce(`Deleted box ${at + 1} (${box.label}). ${state.boxes.length} boxes left.`);
      if (focusedControl) {
        const neighbour = state.boxes[Math.min(at, state.boxes.length - 1)];
        if (neighbour) views.get(neighbour.id).row.remove.focus();
        else $("boxes-heading").focus();
      }
    }

    function nudge(dx, dy) {
      const box = byId(state.selected);
      if (!box || !editable()) return;
      const left = clamp(box.left + dx, 0, state.image.width - box.width);
      const top = clamp(box.top + dy, 0, state.image.height - box.height);
      if (left === box.left && top === box.top) return;
      const before = snapshot();
      Object.assign(box, { left, top });
      changed(box, before);
      announceSoon(`Box ${numberOf(box.id)} at x ${box.left} y ${box.top}.`);
    }

    // Grows (positive) or shrinks the selected box by its right and bottom edges.
    function resizeBy(dw, dh) {
      const box = byId(state.selected);
      if (!box || !editable()) return;
      const width = clamp(box.width + dw, 1, state.image.width - box.left);
      const height = clamp(box.height + dh, 1, state.image.height - box.top);
      if (width === box.width && height === box.height) return;
      const before = snapshot();
      Object.assign(box, { width, height });
      changed(box, before);
      restack();
      announceSoon(`Box ${numberOf(box.id)} is ${box.width} by ${box.height}.`);
    }

    function toggleHidden(id) {
      const box = byId(id);
      if (!box) return;
      box.hidden = !box.hidden;
      drawBox(box);
      refreshControls();
      announce(`Box ${numberOf(id)} ${box.hidden ? "hidden" : "shown"}.`);
    }

    function toggleAllHidden() {
      state.allHidden = !state.allHidden;
      refreshControls();
      announce(state.allHidden ? "All boxes hidden." : "Boxes shown.");
    }

    function toggleTags() {
      state.tagsHidden = !state.tagsHidden;
      refreshControls();
      announce(state.tagsHidden ? "Box tags hidden, except the selected box's." : "Box tags shown.");
    }

    function chooseLabel(label) {
      state.label = label;
      refreshControls();
      if (state.drawing) setDrawing(true);
      announce(`New boxes: ${label}.`);
    }

    function setDrawing(on) {
      if (on && !editable()) return;
      state.drawing = on;
      stage.classList.toggle("drawing", on);
      $("draw").setAttribute("aria-pressed", String(on));
      if (!on) hideGuides();
      notice(on ? `Drag on the image to draw a “${state.label}” box. Esc to stop.` : "");
    }

    // Selects the next (or previous) box; false when that would run past the list's end.
    function selectNext(step, dryRun = false) {
      if (!state.boxes.length) return false;
      const at = state.boxes.findIndex((b) => b.id === state.selected);
      const next = at === -1 ? (step > 0 ? 0 : state.boxes.length - 1) : at + step;
      if (next < 0 || next >= state.boxes.length) return false;
      if (!dryRun) select(state.boxes[next].id);
      return true;
    }

    // ---- the view: brightness and contrast change what is shown, never the answer -----------

    function applyFilters() {
      const brightness = Number($("brightness").value);
      const contrastValue = Number($("contrast").value);
      photo.style.filter = brightness === 100 && contrastValue === 100
        ? "" : `brightness(${brightness}%) contrast(${contrastValue}%)`;
    }

    function resetFilters() {
      $("brightness").value = "100";
      $("contrast").value = "100";
      applyFilters();
    }

    function showGuides(point) {
      const v = state.view;
      const [across, down] = [$("guide-x"), $("guide-y")];
      across.setAttribute("x1", v.x); across.setAttribute("x2", v.x + v.w);
      across.setAttribute("y1", point.y); across.setAttribute("y2", point.y);
      down.setAttribute("y1", v.y); down.setAttribute("y2", v.y + v.h);
      down.setAttribute("x1", point.x); down.setAttribute("x2", point.x);
      across.setAttribute("visibility", "visible");
      down.setAttribute("visibility", "visible");
    }

    function hideGuides() {
      $("guide-x").setAttribute("visibility", "hidden");
      $("guide-y").setAttribute("visibility", "hidden");
    }

    // ---- messages -------------------------------------------------------------------------

    function notice(text) {
      $("notice").textContent = text;
      $("notice").hidden = !text;
    }

    let announceTimer = null;

    function announce(text, isError = false) {
      clearTimeout(announceTimer);
      statusLine.textContent = text;
      statusLine.classList.toggle("error", isError);
    }

    // For repeated keys (nudges, resizes): one announcement once the keys stop.
    function announceSoon(text) {
      clearTimeout(announceTimer);
      announceTimer = setTimeout(() => announce(text), 400);
    }

    // ---- the label picker: type to filter, arrows and Enter to choose -------------------------

    // A label list longer than its box says how many labels it holds and how to reach them.
    function sayMoreLabels() {
      const group = $("labels");
      const more = $("labels-more");
      const cut = group.scrollHeight > group.clientHeight + 1;
      more.hidden = !cut;
      more.textContent = cut ? `${task.labels.length} labels: scroll the list for more, or press L to type one.` : "";
    }

    function buildLabelRadios() {
      const group = $("labels");
      task.labels.forEach((label, index) => {
        const input = htmlEl("input", { type: "radio", name: "label", value: label });
        input.addEventListener("change", () => chooseLabel(label));
        const row = htmlEl("label", {}, input,
          htmlEl("span", { className: "swatch" }),
          htmlEl("span", {}, label));
        row.querySelector(".swatch").style.background = colorOf(label);
        if (index < 9) row.append(htmlEl("kbd", { className: "key" }, String(index + 1)));
        group.appendChild(row);
      });
    }

    const picker = {
      dialog: $("label-dialog"),
      input: $("label-filter"),
      options: $("label-options"),
      active: 0,
      forBox: null,
      restoreFocus: null,
    };

    function matchingLabels() {
      const text = picker.input.value.trim().toLowerCase();
      const all = task.labels.filter((label) => label.toLowerCase().includes(text));
      return [...all.filter((l) => l.toLowerCase().startsWith(text)), ...all.filter((l) => !l.toLowerCase().startsWith(text))];
    }

    function renderPickerOptions() {
      const labels = matchingLabels();
      picker.active = clamp(picker.active, 0, Math.max(labels.length - 1, 0));
      picker.options.replaceChildren(...labels.map((label, i) => {
        const option = htmlEl("li", { role: "option", id: `label-option-${i}`, "aria-selected": String(i === picker.active) },
          htmlEl("span", { className: "swatch" }), label);
        option.firstChild.style.background = colorOf(label);
        option.addEventListener("click", () => choosePicked(label));
        return option;
      }));
      if (labels.length) {
        picker.input.setAttribute("aria-activedescendant", `label-option-${picker.active}`);
        $(`label-option-${picker.active}`).scrollIntoView({ block: "nearest" });
      } else {
        picker.input.removeAttribute("aria-activedescendant");
        picker.options.append(htmlEl("li", { className: "none" }, "No label matches."));
      }
    }

    function openPicker() {
      picker.forBox = readOnly ? null : state.selected;
      picker.restoreFocus = document.activeElement;
      $("label-dialog-title").textContent = picker.forBox === null
        ? "Label for new boxes" : `Label of box ${numberOf(picker.forBox)}`;
      picker.input.value = "";
      const current = picker.forBox === null ? state.label : byId(picker.forBox).label;
      picker.active = Math.max(task.labels.indexOf(current), 0);
      renderPickerOptions();
      picker.dialog.showModal();
      picker.input.focus();
    }

    function choosePicked(label) {
      picker.dialog.close();
      if (picker.forBox !== null) relabel(picker.forBox, label);
      else chooseLabel(label);
    }

    picker.input.addEventListener("input", () => {
      picker.active = 0;
      renderPickerOptions();
    });
    picker.input.addEventListener("keydown", (event) => {
      const labels = matchingLabels();
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        picker.active = clamp(picker.active + (event.key === "ArrowDown" ? 1 : -1), 0, labels.length - 1);
        renderPickerOptions();
        event.preventDefault();
      } else if (event.key === "Enter") {
        event.preventDefault();
        if (labels.length) choosePicked(labels[picker.active]);
      }
    });
    picker.dialog.addEventListener("close", () => picker.restoreFocus?.focus?.());

    // ---- the confirmation dialog ----------------------------------------------------------

    function confirmAction(text, yes) {
      const dialog = $("confirm-dialog");
      $("confirm-text").textContent = text;
      $("confirm-yes").textContent = yes;
      const focused = document.activeElement;
      dialog.returnValue = "";
      dialog.showModal();
      $("confirm-no").focus();
      return new Promise((resolve) => {
        dialog.addEventListener("close", () => {
          focused?.focus?.();
          resolve(dialog.returnValue === "yes");
        }, { once: true });
      });
    }

    // ---- pointer: select, move, resize, draw, pan, pinch, zoom ------------------------------

    function startPinch() {
      const [a, b] = [...pointers.values()];
      if (drag && (drag.kind === "move" || drag.kind === "resize")) {
        Object.assign(byId(drag.id), plainBox(drag.origin));
        drawBox(byId(drag.id));
      }
      drag = null;
      draft.setAttribute("visibility", "hidden");
      pinch = { distance: Math.hypot(a.x - b.x, a.y - b.y) || 1 };
    }

    function movePinch() {
      const [a, b] = [...pointers.values()];
      const distance = Math.hypot(a.x - b.x, a.y - b.y) || 1;
      const middle = toImage((a.x + b.x) / 2, (a.y + b.y) / 2);
      zoomAt(distance / pinch.distance, middle.x, middle.y);
      pinch.distance = distance;
    }

    svg.addEventListener("pointerdown", (event) => {
      if (!state.image || (event.button !== 0 && event.button !== 1)) return;
      svg.focus({ preventScroll: true });
      svg.setPointerCapture(event.pointerId);
      event.preventDefault();
      if (event.pointerType !== "mouse") {
        pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
        if (pointers.size === 2) return startPinch();
        if (pointers.size > 2) return;
      }
      const point = toImage(event.clientX, event.clientY);
      const handle = event.target.closest("[data-handle]");
      const boxEl = event.target.closest(".box");
      const base = { pointer: event.pointerId, start: point, client: [event.clientX, event.clientY] };
      if (event.button === 1 || state.spaceHeld) {
        drag = { kind: "pan", ...base };
      } else if (state.drawing) {
        drag = { kind: "draw", ...base };
      } else if (handle && !readOnly) {
        const box = byId(state.selected);
        drag = { kind: "resize", handle: handle.dataset.handle, id: box.id, origin: { ...box }, before: snapshot(), ...base };
      } else if (boxEl && !boxEl.classList.contains("hidden-box")) {
        const id = Number(boxEl.dataset.id);
        select(id);
        drag = readOnly ? { kind: "pan", ...base } : { kind: "move", id, origin: { ...byId(id) }, before: snapshot(), ...base };
      } else {
        if (state.selected !== null) select(null);
        drag = { kind: "pan", ...base };
      }
      if (drag.kind === "pan") stage.classList.add("panning");
    });

    svg.addEventListener("pointermove", (event) => {
      if (pointers.has(event.pointerId)) pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
      if (pinch && pointers.size === 2) return movePinch();
      if (state.drawing && (!drag || drag.kind === "draw")) showGuides(toImage(event.clientX, event.clientY));
      if (!drag || event.pointerId !== drag.pointer) return;
      if (drag.kind === "pan") {
        const u = unitsPerPixel();
        const v = state.view;
        const [cx, cy] = drag.client;
        drag.client = [event.clientX, event.clientY];
        state.fitted = false;
        setView(v.x - (event.clientX - cx) * u, v.y - (event.clientY - cy) * u, v.w, v.h);
        return;
      }
      const point = toImage(event.clientX, event.clientY);
      if (drag.kind === "draw") {
        const box = cornersToBox(drag.start.x, drag.start.y, point.x, point.y);
        draft.setAttribute("x", box.left);
        draft.setAttribute("y", box.top);
        draft.setAttribute("width", box.width);
        draft.setAttribute("height", box.height);
        draft.setAttribute("visibility", "visible");
        return;
      }
      const box = byId(drag.id);
      const o = drag.origin;
      const [dx, dy] = [point.x - drag.start.x, point.y - drag.start.y];
      if (drag.kind === "move") {
        box.left = Math.round(clamp(o.left + dx, 0, state.image.width - o.width));
        box.top = Math.round(clamp(o.top + dy, 0, state.image.height - o.height));
      } else {
        Object.assign(box, resized(o, drag.handle, dx, dy));
      }
      drawBox(box);
    });

    function endDrag(event) {
      pointers.delete(event.pointerId);
      if (pinch) {
        if (pointers.size < 2) pinch = null;
        return;
      }
      if (!drag || event.pointerId !== drag.pointer) return;
      const finished = drag;
      drag = null;
      stage.classList.remove("panning");
      if (finished.kind === "draw") {
        draft.setAttribute("visibility", "hidden");
        const point = toImage(event.clientX, event.clientY);
        const u = unitsPerPixel();
        const wide = Math.abs(point.x - finished.start.x) / u >= MIN_DRAW_SCREEN_PX;
        const tall = Math.abs(point.y - finished.start.y) / u >= MIN_DRAW_SCREEN_PX;
        if (wide && tall && event.type === "pointerup") {
          addBox({ label: state.label, ...cornersToBox(finished.start.x, finished.start.y, point.x, point.y) });
        }
      } else if (finished.kind === "move" || finished.kind === "resize") {
        const box = byId(finished.id);
        if (!sameBox(box, finished.origin)) {
          changed(box, finished.before);
          restack();
          announce(`Box ${numberOf(box.id)}: ${describe(box)}.`);
        }
      }
    }

    svg.addEventListener("pointerup", endDrag);
    svg.addEventListener("pointercancel", endDrag);
    svg.addEventListener("pointerleave", () => { if (!drag) hideGuides(); });

    svg.addEventListener("wheel", (event) => {
      event.preventDefault();
      const point = toImage(event.clientX, event.clientY);
      zoomAt(Math.exp(-event.deltaY * 0.0015), point.x, point.y);
    }, { passive: false });

    // ---- keyboard ---------------------------------------------------------------------------

    const onCanvasOrPage = (target) => target === svg || target === document.body;

    // The action a key stands for here, or null to leave the key to the browser.
    // Enter is never an action: only the Submit button or Ctrl+Enter submits.
    function keyAction(event) {
      if (document.querySelector("dialog[open]")) return null;
      const mod = event.ctrlKey || event.metaKey;
      const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      if (mod && key === "Enter") return submit;
      if (mod && key === "z") return event.shiftKey ? redo : undo;
      if (mod && key === "y") return redo;
      const free = onCanvasOrPage(event.target);
      if (event.altKey || event.target.matches?.("select, textarea, input[type=text], input[type=search]")) return null;
      const step = event.shiftKey ? 10 : 1;
      const arrows = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (key in arrows) {
        if (!free || state.selected === null) return null;
        return mod ? () => resizeBy(...arrows[key]) : () => nudge(...arrows[key]);
      }
      if (mod) return null;
      const digit = /^Digit[1-9]$/.test(event.code) ? Number(event.code.slice(5)) : null;
      if (digit !== null && task.labels[digit - 1] !== undefined) {
        const label = task.labels[digit - 1];
        if (event.shiftKey) return state.selected === null ? null : () => relabel(state.selected, label);
        return () => chooseLabel(label);
      }
      switch (key) {
        case "n": return () => setDrawing(!state.drawing);
        case "a": return addBoxInView;
        case "d": return state.selected === null ? null : duplicateSelected;
        case "l": return openPicker;
        case "h": return toggleAllHidden;
        case "t": return toggleTags;
        case "e": return nothingToLabel;
        case "Escape": return () => (state.drawing ? setDrawing(false) : select(null, { quiet: true }));
        case "Delete": case "Backspace":
          return state.selected === null ? null : () => deleteBox(state.selected);
        case "+": case "=": return () => zoomCentered(1.25);
        case "-": case "_": return () => zoomCentered(0.8);
        case "0": return fit;
        case " ": return free ? () => { state.spaceHeld = true; } : null;
        case "Tab":
          return event.target === svg && selectNext(event.shiftKey ? -1 : 1, true)
            ? () => selectNext(event.shiftKey ? -1 : 1) : null;
        default: return null;
      }
    }

    document.addEventListener("keydown", (event) => {
      const action = keyAction(event);
      if (!action) {
        if (event.key === "Enter" && onCanvasOrPage(event.target)) event.preventDefault();
        return;
      }
      event.preventDefault();
      action();
    }, { signal });

    document.addEventListener("keyup", (event) => {
      if (event.key === " ") state.spaceHeld = false;
    }, { signal });

    // ---- submit, nothing to label, skip -------------------------------------------------------

    const dirty = () => modified(startBoxes, state.boxes);

    function answer() {
      const boundingBoxes = state.boxes.map(plainBox);
      const annotatedResult = {
        boundingBoxes,
        inputImageProperties: { width: state.image.width, height: state.image.height },
      };
      if (task.initialValue !== null) annotatedResult.initialValueModified = modified(task.initialValue, boundingBoxes);
      return {
        answerContent: { annotatedResult },
        acceptanceTime: openedAt.toISOString(),
        timeSpentInSeconds: (Date.now() - openedAt.getTime()) / 1000,
      };
    }

    async function hand(work, doing) {
      state.busy = true;
      for (const id of ["submit", "nothing", "skip"]) $(id).disabled = true;
      announce(doing);
      try {
        announce(await work());
      } catch (error) {
        announce(`Not done: ${error.message}`, true);
        state.busy = false;
        for (const id of ["submit", "nothing", "skip"]) $(id).disabled = readOnly;
      }
    }

    // Submit and the keys that submit wait for the image: the answer is in its pixels.
    function imageShown() {
      if (state.image) return true;
      announce(loadFailed ? "The image could not be loaded: try it again before submitting."
        : "The image is still loading: submit once it shows.", loadFailed);
      return false;
    }

    async function submit() {
      if (state.busy || readOnly || !imageShown()) return;
      if (!state.boxes.length && !(await confirmAction(
        "Submit this image with no boxes? Do this only when nothing on it needs a label.",
        "Submit with no boxes"))) return;
      await hand(() => hooks.submit(answer()), "Submitting…");
    }

    // One key for the daily case (only the model's boxes, untouched); a reviewer's own edits are asked about.
    async function nothingToLabel() {
      if (state.busy || readOnly || !imageShown()) return;
      if (state.boxes.length && dirty()) {
        const count = state.boxes.length;
        if (!(await confirmAction(`Remove the ${count} box${count === 1 ? "" : "es"} and submit: nothing to label here?`,
          "Remove and submit"))) return;
      }
      if (state.boxes.length) {
        record(snapshot());
        state.boxes = [];
        state.selected = null;
        refreshAll();
      }
      await hand(() => hooks.submit(answer()), "Submitting: nothing to label…");
    }

    async function skip() {
      if (state.busy || !hooks.release) return;
      if (dirty() && !(await confirmAction("Skip this task? Your changes to it are not kept.", "Skip and discard"))) return;
      await hand(() => hooks.release(), "Handing the task back…");
    }

    window.addEventListener("beforeunload", (event) => {
      if (readOnly || state.busy || !dirty()) return;
      event.preventDefault();
      event.returnValue = "";
    }, { signal });
    // A page brought back by the browser's Back button after its answer went out is reloaded,
    // so the server shows it as submitted (read-only).
    window.addEventListener("pageshow", (event) => {
      if (event.persisted && state.busy) window.location.reload();
    }, { signal });

    // ---- buttons --------------------------------------------------------------------------

    const on = (id, action) => $(id).addEventListener("click", action);
    on("draw", () => setDrawing(!state.drawing));
    on("add", addBoxInView);
    on("duplicate", duplicateSelected);
    on("delete", () => deleteBox(state.selected));
    on("undo", undo);
    on("redo", redo);
    on("relabel", openPicker);
    on("toggle-boxes", toggleAllHidden);
    on("toggle-tags", toggleTags);
    on("zoom-in", () => zoomCentered(1.25));
    on("zoom-out", () => zoomCentered(0.8));
    on("fit", fit);
    on("reset-view", resetFilters);
    on("submit", submit);
    on("nothing", nothingToLabel);
    on("skip", skip);
    on("sheet-toggle", () => {
      const open = document.body.classList.toggle("sheet-open");
      $("sheet-toggle").setAttribute("aria-expanded", String(open));
    });
    $("brightness").addEventListener("input", applyFilters);
    $("contrast").addEventListener("input", applyFilters);
    $("skip").hidden = !hooks.release;

    // ---- start ------------------------------------------------------------------------------

    if (readOnly) {
      document.body.classList.add("read-only");
      for (const id of ["draw", "add", "duplicate", "delete", "undo", "redo", "relabel", "submit", "nothing"]) {
        $(id).disabled = true;
      }
    }
    buildLabelRadios();
    refreshAll();
    const resizing = new ResizeObserver(keepScaleOnResize);
    resizing.observe(stage);
    const labelsShown = new ResizeObserver(sayMoreLabels);
    labelsShown.observe($("labels"));
    document.fonts?.ready.then(() => {
      labelWidths.clear();
      refreshAll();
    });
    // Loading, then the image; a failure says so and offers to try again. Submit waits for it.
    let loadFailed = false;
    const loader = new Image();
    function loadImage() {
      loadFailed = false;
      notice("Loading the image…");
      loader.src = task.imageUrl;
    }
    if (!readOnly) for (const id of ["submit", "nothing"]) $(id).disabled = true;
    loader.addEventListener("load", () => {
      if (signal.aborted) return;
      notice("");
      if (!readOnly) for (const id of ["submit", "nothing"]) $(id).disabled = state.busy;
      state.image = { width: loader.naturalWidth, height: loader.naturalHeight };
      photo.setAttribute("href", task.imageUrl);
      photo.setAttribute("width", state.image.width);
      photo.setAttribute("height", state.image.height);
      const expected = task.imageSize;
      if (!readOnly && expected && (expected.width !== state.image.width || expected.height !== state.image.height)) {
        announce(`The image is ${state.image.width}×${state.image.height} px, the task expected ` +
          `${expected.width}×${expected.height}: submitting will be refused.`, true);
      }
      fit();
      refreshAll();
      svg.dataset.ready = "true";
      if (task.nextImageUrl) new Image().src = task.nextImageUrl;
    });
    loader.addEventListener("error", () => {
      if (signal.aborted) return;
      loadFailed = true;
      const retry = htmlEl("button", { type: "button", id: "retry-image" }, "Try the image again");
      retry.addEventListener("click", loadImage);
      $("notice").replaceChildren("The image could not be loaded. ", retry);
      $("notice").hidden = false;
    });
    loadImage();

    // The editor's listeners and observers end; the page may start another task in its place.
    function stop() {
      listening.abort();
      resizing.disconnect();
      labelsShown.disconnect();
      clearTimeout(announceTimer);
      loader.src = "";
      document.body.classList.remove("read-only", "sheet-open");
    }
    return { answer, state, announce, submit, stop };
  }

  // The local A2I page: answers go to the page's own server, which names the next task.
  async function postJson(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body ?? {}),
    });
    const reply = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(reply.error || `the server answered ${response.status}`);
    return reply;
  }

  function pageHooks(task) {
    return {
      async submit(answerBody) {
        const reply = await postJson(task.submitUrl, answerBody);
        window.location.assign(reply.next);
        return reply.nextTask ? "Saved. Opening the next task…" : "Saved. No tasks left.";
      },
      release: task.releaseUrl ? async () => {
        const reply = await postJson(task.releaseUrl);
        window.location.assign(reply.next);
        return reply.nextTask ? "Skipped. Opening the next task…" : "Skipped. No other task is pending.";
      } : null,
    };
  }

  window.ReviewEditor = { start, contrast, inkOn, palette: PALETTE };
  const embedded = document.getElementById("task-data");
  if (embedded) {
    const task = JSON.parse(embedded.textContent);
    window.reviewEditor = start(task, pageHooks(task));
  }
})();
