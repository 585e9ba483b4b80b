// The bounding-box editor of the local review page.
// Boxes live in the image's own pixels (the SVG viewBox is in image pixels), so what is
// submitted never depends on how large the image is shown.
"use strict";

(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
    "#9a6324", "#469990", "#808000", "#000075", "#e6a100"];
  const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];
  const MIN_DRAW_SCREEN_PX = 4;
  const MAX_ZOOM = 16;

  const $ = (id) => document.getElementById(id);
  const task = JSON.parse($("task-data").textContent);
  const svg = $("canvas");
  const photo = $("photo");
  const layer = $("boxes");
  const draft = $("draft");
  const stage = $("stage");
  const statusLine = $("status");
  const openedAt = new Date();

  const state = {
    boxes: (task.initialValue ?? []).map((box, i) => ({
      id: i + 1,
      label: box.label,
      left: box.left, top: box.top, width: box.width, height: box.height,
      score: task.initialScores[i] ?? null,
      initial: { label: box.label, left: box.left, top: box.top, width: box.width, height: box.height },
    })),
    nextId: (task.initialValue ?? []).length + 1,
    selected: null,
    label: task.initialValue?.length ? task.initialValue[0].label : task.labels[0],
    drawing: false,
    history: [],
    image: null,
    view: { x: 0, y: 0, w: 1, h: 1 },
    fitted: true,
    spaceHeld: false,
    busy: false,
  };
  let drag = null;

  // ---- geometry -------------------------------------------------------------------------

  const clamp = (value, low, high) => Math.min(Math.max(value, low), high);
  const stageSize = () => svg.getBoundingClientRect();
  const unitsPerPixel = () => state.view.w / stageSize().width;

  function toImage(event) {
    const point = new DOMPoint(event.clientX, event.clientY);
    return point.matrixTransform(svg.getScreenCTM().inverse());
  }

  function setView(x, y, w, h) {
    state.view = { x, y, w, h };
    svg.setAttribute("viewBox", `${x} ${y} ${w} ${h}`);
    $("zoom-level").textContent = `${Math.round((stageSize().width / w) * 100)}%`;
    render();
  }

  function fitScale() {
    const { width, height } = stageSize();
    return Math.min(width / state.image.width, height / state.image.height) * 0.97;
  }

  function fit() {
    if (!state.image) return;
    const { width, height } = stageSize();
    const scale = fitScale();
    const w = width / scale;
    const h = height / scale;
    state.fitted = true;
    setView((state.image.width - w) / 2, (state.image.height - h) / 2, w, h);
  }

  function zoomAt(factor, cx, cy) {
    if (!state.image) return;
    const { width } = stageSize();
    const scale = width / state.view.w;
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
    if (!state.image) return;
    if (state.fitted) return fit();
    const { width, height } = stageSize();
    const v = state.view;
    const upp = v.w / (width || 1);
    const cx = v.x + v.w / 2;
    const cy = v.y + v.h / 2;
    const w = width * upp;
    const h = height * upp;
    setView(cx - w / 2, cy - h / 2, w, h);
  }

  // ---- boxes and history ----------------------------------------------------------------

  const byId = (id) => state.boxes.find((box) => box.id === id);
  const colorOf = (label) => PALETTE[Math.max(task.labels.indexOf(label), 0) % PALETTE.length];
  const snapshot = () => JSON.stringify(state.boxes);
  const sameBox = (a, b) =>
    a.label === b.label && a.left === b.left && a.top === b.top && a.width === b.width && a.height === b.height;

  function remember(before) {
    state.history.push(before);
    update();
  }

  function undo() {
    if (!state.history.length) return;
    state.boxes = JSON.parse(state.history.pop());
    if (!byId(state.selected)) state.selected = null;
    announce("Undone.");
    update();
  }

  function select(id) {
    state.selected = id;
    update();
  }

  // The label new boxes get; the key shortcuts also relabel the selected box with it.
  function chooseLabel(label, relabelSelected) {
    state.label = label;
    if (relabelSelected && state.selected !== null) relabel(state.selected, label);
    update();
    if (state.drawing) setDrawing(true);
  }

  function relabel(id, label) {
    const box = byId(id);
    if (!box || box.label === label) return;
    const before = snapshot();
    box.label = label;
    remember(before);
  }

  function deleteBox(id) {
    const box = byId(id);
    if (!box) return;
    const before = snapshot();
    state.boxes = state.boxes.filter((b) => b.id !== id);
    if (state.selected === id) state.selected = null;
    announce(`Deleted a ${box.label} box.`);
    remember(before);
  }

  function nudge(dx, dy) {
    const box = byId(state.selected);
    if (!box) return;
    const before = snapshot();
    const left = clamp(box.left + dx, 0, state.image.width - box.width);
    const top = clamp(box.top + dy, 0, state.image.height - box.height);
    if (left === box.left && top === box.top) return;
    box.left = left;
    box.top = top;
    remember(before);
  }

  function setDrawing(on) {
    state.drawing = on;
    stage.classList.toggle("drawing", on);
    $("draw").setAttribute("aria-pressed", String(on));
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

  // Corner and edge moves of a resize; a box dragged past its opposite edge flips over.
  function resized(origin, handle, dx, dy) {
    let l = origin.left;
    let t = origin.top;
    let r = origin.left + origin.width;
    let b = origin.top + origin.height;
    if (handle.includes("w")) l += dx;
    if (handle.includes("e")) r += dx;
    if (handle.includes("n")) t += dy;
    if (handle.includes("s")) b += dy;
    return cornersToBox(l, t, r, b);
  }

  function cornersToBox(x1, y1, x2, y2) {
    const { width: W, height: H } = state.image;
    const left = Math.round(clamp(Math.min(x1, x2), 0, W));
    const right = Math.round(clamp(Math.max(x1, x2), 0, W));
    const top = Math.round(clamp(Math.min(y1, y2), 0, H));
    const bottom = Math.round(clamp(Math.max(y1, y2), 0, H));
    return { left, top, width: Math.max(right - left, 1), height: Math.max(bottom - top, 1) };
  }

  // ---- drawing the SVG and the side panel -------------------------------------------------

  function svgEl(name, attrs) {
    const el = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
    return el;
  }

  // Larger boxes are painted first so a small box inside a large one stays clickable;
  // the selected box's handles go on top of everything.
  function render() {
    const u = unitsPerPixel();
    layer.replaceChildren();
    const numbered = state.boxes.map((box, index) => ({ box, number: index + 1 }));
    numbered.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
    for (const { box, number } of numbered) {
      const color = colorOf(box.label);
      const group = svgEl("g", {
        class: box.id === state.selected ? "box selected" : "box",
        "data-id": box.id, "data-index": number, "data-label": box.label,
      });
      group.appendChild(svgEl("rect", {
        class: "box-rect", x: box.left, y: box.top, width: box.width, height: box.height, stroke: color,
      }));
      const tag = svgEl("g", { class: "box-tag" });
      const fontSize = 12 * u;
      const pad = 3 * u;
      const tagHeight = fontSize + 2 * pad;
      const above = box.top - tagHeight >= state.view.y;
      const ty = above ? box.top - tagHeight : box.top;
      const background = svgEl("rect", { x: box.left, y: ty, height: tagHeight, fill: color });
      const text = svgEl("text", { x: box.left + pad, y: ty + pad, "font-size": fontSize });
      text.textContent = `${number} ${box.label}`;
      tag.append(background, text);
      group.appendChild(tag);
      layer.appendChild(group);
      background.setAttribute("width", text.getComputedTextLength() + 2 * pad);
    }
    const chosen = byId(state.selected);
    if (chosen) layer.appendChild(handlesFor(chosen, 9 * u));
  }

  function handlesFor(box, size) {
    const group = svgEl("g", { class: "handles" });
    const xs = { w: box.left, mid: box.left + box.width / 2, e: box.left + box.width };
    const ys = { n: box.top, mid: box.top + box.height / 2, s: box.top + box.height };
    for (const handle of HANDLES) {
      const hx = handle.includes("w") ? xs.w : handle.includes("e") ? xs.e : xs.mid;
      const hy = handle.includes("n") ? ys.n : handle.includes("s") ? ys.s : ys.mid;
      group.appendChild(svgEl("rect", {
        class: "handle", "data-handle": handle,
        x: hx - size / 2, y: hy - size / 2, width: size, height: size,
      }));
    }
    return group;
  }

  function originText(box) {
    if (box.initial === undefined) return "new";
    const score = box.score === null ? "model" : `model ${box.score.toFixed(2)}`;
    return sameBox(box, box.initial) ? score : `${score}, edited`;
  }

  function renderPanel() {
    const list = $("box-list");
    list.replaceChildren();
    state.boxes.forEach((box, index) => {
      const n = index + 1;
      const item = document.createElement("li");
      item.className = box.id === state.selected ? "selected" : "";
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colorOf(box.label);
      const pick = document.createElement("button");
      pick.type = "button";
      pick.className = "pick";
      pick.setAttribute("aria-pressed", String(box.id === state.selected));
      pick.setAttribute("aria-label", `Select box ${n}: ${box.label}`);
      pick.append(`${n} · ${box.label} `);
      const origin = document.createElement("span");
      origin.className = "origin";
      origin.textContent = originText(box);
      pick.append(origin);
      pick.addEventListener("click", () => select(box.id));
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "remove danger";
      remove.textContent = "×";
      remove.setAttribute("aria-label", `Delete box ${n}`);
      remove.addEventListener("click", () => deleteBox(box.id));
      const picker = document.createElement("select");
      picker.setAttribute("aria-label", `Label of box ${n}`);
      for (const label of task.labels) picker.append(new Option(label, label, false, label === box.label));
      picker.addEventListener("change", () => relabel(box.id, picker.value));
      const coords = document.createElement("div");
      coords.className = "coords";
      coords.dataset.box = JSON.stringify({
        label: box.label, left: box.left, top: box.top, width: box.width, height: box.height,
      });
      coords.textContent = `x ${box.left}  y ${box.top}  ·  ${box.width} × ${box.height} px`;
      item.append(swatch, pick, remove, document.createElement("span"), picker, coords);
      list.appendChild(item);
    });
    $("box-count").textContent = String(state.boxes.length);
    $("delete").disabled = state.selected === null;
    $("undo").disabled = state.history.length === 0;
    for (const input of document.querySelectorAll("#labels input")) input.checked = input.value === state.label;
  }

  function update() {
    render();
    renderPanel();
  }

  function buildLabelPicker() {
    const group = $("labels");
    task.labels.forEach((label, index) => {
      const row = document.createElement("label");
      const input = document.createElement("input");
      input.type = "radio";
      input.name = "label";
      input.value = label;
      input.setAttribute("aria-label", label);
      input.addEventListener("change", () => chooseLabel(label, false));
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colorOf(label);
      const name = document.createElement("span");
      name.textContent = label;
      row.append(input, swatch, name);
      if (index < 9) {
        const key = document.createElement("kbd");
        key.className = "key";
        key.textContent = String(index + 1);
        row.append(key);
      }
      group.appendChild(row);
    });
  }

  function notice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }

  function announce(text, isError = false) {
    statusLine.textContent = text;
    statusLine.classList.toggle("error", isError);
  }

  // ---- pointer: select, move, resize, draw, pan, zoom -------------------------------------

  svg.addEventListener("pointerdown", (event) => {
    if (!state.image || (event.button !== 0 && event.button !== 1)) return;
    svg.focus({ preventScroll: true });
    const point = toImage(event);
    const handle = event.target.closest("[data-handle]");
    const boxEl = event.target.closest(".box");
    const base = { pointer: event.pointerId, start: point, client: [event.clientX, event.clientY] };
    if (event.button === 1 || state.spaceHeld) {
      drag = { kind: "pan", ...base };
    } else if (state.drawing) {
      drag = { kind: "draw", ...base };
    } else if (handle) {
      const box = byId(state.selected);
      drag = { kind: "resize", handle: handle.dataset.handle, id: box.id, origin: { ...box }, before: snapshot(), ...base };
    } else if (boxEl) {
      const id = Number(boxEl.dataset.id);
      select(id);
      drag = { kind: "move", id, origin: { ...byId(id) }, before: snapshot(), ...base };
    } else {
      if (state.selected !== null) select(null);
      drag = { kind: "pan", ...base };
    }
    if (drag.kind === "pan") stage.classList.add("panning");
    svg.setPointerCapture(event.pointerId);
    event.preventDefault();
  });

  svg.addEventListener("pointermove", (event) => {
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
    const point = toImage(event);
    const dx = point.x - drag.start.x;
    const dy = point.y - drag.start.y;
    if (drag.kind === "draw") {
      const box = cornersToBox(drag.start.x, drag.start.y, point.x, point.y);
      for (const key of ["left", "top", "width", "height"]) {
        draft.setAttribute({ left: "x", top: "y" }[key] || key, box[key]);
      }
      draft.setAttribute("visibility", "visible");
    } else {
      const box = byId(drag.id);
      const o = drag.origin;
      if (drag.kind === "move") {
        box.left = Math.round(clamp(o.left + dx, 0, state.image.width - o.width));
        box.top = Math.round(clamp(o.top + dy, 0, state.image.height - o.height));
      } else {
        Object.assign(box, resized(o, drag.handle, dx, dy));
      }
      render();
    }
  });

  function endDrag(event) {
    if (!drag || event.pointerId !== drag.pointer) return;
    const finished = drag;
    drag = null;
    stage.classList.remove("panning");
    if (finished.kind === "draw") {
      draft.setAttribute("visibility", "hidden");
      const point = toImage(event);
      const u = unitsPerPixel();
      const wide = Math.abs(point.x - finished.start.x) / u >= MIN_DRAW_SCREEN_PX;
      const tall = Math.abs(point.y - finished.start.y) / u >= MIN_DRAW_SCREEN_PX;
      if (wide && tall) {
        const before = snapshot();
        const box = { id: state.nextId++, label: state.label, score: null,
          ...cornersToBox(finished.start.x, finished.start.y, point.x, point.y) };
        state.boxes.push(box);
        state.selected = box.id;
        announce(`Added a ${box.label} box.`);
        remember(before);
      }
    } else if (finished.kind === "move" || finished.kind === "resize") {
      if (!sameBox(byId(finished.id), finished.origin)) remember(finished.before);
      else update();
    }
  }

  svg.addEventListener("pointerup", endDrag);
  svg.addEventListener("pointercancel", endDrag);

  svg.addEventListener("wheel", (event) => {
    event.preventDefault();
    const point = toImage(event);
    zoomAt(Math.exp(-event.deltaY * 0.0015), point.x, point.y);
  }, { passive: false });

  // ---- keyboard ---------------------------------------------------------------------------

  const onCanvasOrPage = (target) => target === svg || target === document.body;

  // The action a key stands for here, or null to leave the key to the browser.
  function keyAction(event) {
    const mod = event.ctrlKey || event.metaKey;
    if (mod && event.key === "Enter") return submit;
    if (mod && event.key.toLowerCase() === "z") return undo;
    if (mod || event.altKey || event.target instanceof HTMLSelectElement) return null;
    const free = onCanvasOrPage(event.target);
    const step = event.shiftKey ? 10 : 1;
    const arrows = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    const label = /^[1-9]$/.test(event.key) ? task.labels[Number(event.key) - 1] : undefined;
    if (label) return () => chooseLabel(label, true);
    switch (event.key) {
      case "n": case "N": return () => setDrawing(!state.drawing);
      case "Escape": return () => (state.drawing ? setDrawing(false) : select(null));
      case "Delete": case "Backspace":
        return state.selected === null ? null : () => deleteBox(state.selected);
      case "+": case "=": return () => zoomCentered(1.25);
      case "-": case "_": return () => zoomCentered(0.8);
      case "0": return fit;
      case "Enter": return free ? submit : null;
      case " ": return free ? () => { state.spaceHeld = true; } : null;
      case "Tab":
        return event.target === svg && selectNext(event.shiftKey ? -1 : 1, true)
          ? () => selectNext(event.shiftKey ? -1 : 1) : null;
      default:
        return free && event.key in arrows && state.selected !== null ? () => nudge(...arrows[event.key]) : null;
    }
  }

  document.addEventListener("keydown", (event) => {
    const action = keyAction(event);
    if (!action) return;
    event.preventDefault();
    action();
  });

  document.addEventListener("keyup", (event) => {
    if (event.key === " ") state.spaceHeld = false;
  });

  // ---- buttons and submit -----------------------------------------------------------------

  $("draw").addEventListener("click", () => setDrawing(!state.drawing));
  $("delete").addEventListener("click", () => deleteBox(state.selected));
  $("undo").addEventListener("click", undo);
  $("zoom-in").addEventListener("click", () => zoomCentered(1.25));
  $("zoom-out").addEventListener("click", () => zoomCentered(0.8));
  $("fit").addEventListener("click", fit);
  $("submit").addEventListener("click", submit);

  // As crowd-bounding-box reports it: true unless exactly the proposed boxes remain, in any order.
  function modified(initial, boxes) {
    const keys = (list) => list.map((b) => JSON.stringify([b.label, b.left, b.top, b.width, b.height])).sort();
    return keys(initial).join("\n") !== keys(boxes).join("\n");
  }

  async function submit() {
    if (state.busy || !state.image) return;
    state.busy = true;
    $("submit").disabled = true;
    announce("Submitting…");
    const boundingBoxes = state.boxes.map(({ label, left, top, width, height }) => ({ label, left, top, width, height }));
    const annotatedResult = {
      boundingBoxes,
      inputImageProperties: { width: state.image.width, height: state.image.height },
    };
    if (task.initialValue !== null) annotatedResult.initialValueModified = modified(task.initialValue, boundingBoxes);
    const answer = {
      answerContent: { annotatedResult },
      acceptanceTime: openedAt.toISOString(),
      timeSpentInSeconds: (Date.now() - openedAt.getTime()) / 1000,
    };
    try {
      const response = await fetch(task.submitUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(answer),
      });
      const reply = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(reply.error || `the server answered ${response.status}`);
      announce(reply.nextTask ? "Saved. Opening the next task…" : "Saved. No tasks left.");
      window.location.assign(reply.next);
    } catch (error) {
      announce(`Not saved: ${error.message}`, true);
      state.busy = false;
      $("submit").disabled = false;
    }
  }

  // ---- start ------------------------------------------------------------------------------

  buildLabelPicker();
  update();
  new ResizeObserver(keepScaleOnResize).observe(stage);
  const loader = new Image();
  loader.addEventListener("load", () => {
    state.image = { width: loader.naturalWidth, height: loader.naturalHeight };
    photo.setAttribute("href", task.imageUrl);
    photo.setAttribute("width", state.image.width);
    photo.setAttribute("height", state.image.height);
    const expected = task.imageSize;
    if (expected && (expected.width !== state.image.width || expected.height !== state.image.height)) {
      announce(`The image is ${state.image.width}×${state.image.height} px, the task expected ` +
        `${expected.width}×${expected.height}: submitting will be refused.`, true);
    }
    fit();
    update();
    svg.dataset.ready = "true";
  });
  loader.addEventListener("error", () => notice("The image could not be loaded."));
  loader.src = task.imageUrl;
})();
