// The review page: highlight evidence, act on items, keep score-table totals, keyboard shortcuts.
(function () {
  "use strict";
  const pane = document.getElementById("fields");
  const source = document.getElementById("source");
  if (!pane || !source) return;
  const sha = pane.dataset.sha256;
  const readonly = pane.dataset.readonly === "true";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const text = source.textContent;
  let current = null;

  // -- evidence ---------------------------------------------------------------
  // Offsets from the server count characters (code points); the page's strings count UTF-16 units, in which a
  // character outside the Basic Multilingual Plane (a rare CJK name character) is two. `at` converts.
  const wide = /[\uD800-\uDBFF]/.test(text);
  const units16 = wide ? (() => { const out = [0]; for (const ch of text) out.push(out[out.length - 1] + ch.length); return out; })() : null;
  function at(offset) { return wide ? units16[Math.min(offset, units16.length - 1)] : offset; }
  const chars = wide ? units16.length - 1 : text.length;

  function spanOf(start, end) {
    if (start === undefined || start === null || start === "" || end === undefined) return null;
    start = Number(start); end = Number(end);
    return end > start && end <= chars ? [start, end] : null;
  }

  function contextOf(el) {
    try { return JSON.parse(el.dataset.context || "[]"); } catch (e) { return []; }
  }

  // The evidence marked in the source text: `start`–`end` strongly, the `context` spans (a table value's row
  // label and column header, a row's column headers; a cell's row) lightly; on a scan, boxed on its page too.
  function highlight(start, end, value, context) {
    highlightBoxes(start, end, value, context);
    const main = spanOf(start, end);
    const light = (context || []).map(([s, e]) => spanOf(s, e)).filter(Boolean);
    source.textContent = text;  // drop the previous marks
    if (!main) return;
    const cuts = Array.from(new Set([0, chars, ...main, ...light.flat()])).sort((a, b) => a - b);
    const inside = (o, [s, e]) => s <= o && o < e;
    const out = document.createDocumentFragment();
    let first = null;
    for (let i = 0; i + 1 < cuts.length; i++) {
      const [s, e] = [cuts[i], cuts[i + 1]];
      const piece = document.createTextNode(text.slice(at(s), at(e)));
      if (inside(s, main) || light.some((l) => inside(s, l))) {
        const mark = document.createElement("mark");
        if (!inside(s, main)) mark.className = "context";
        mark.appendChild(piece);
        out.appendChild(mark);
        if (inside(s, main) && !first) first = mark;
      } else out.appendChild(piece);
    }
    source.textContent = "";
    source.appendChild(out);
    if (first) first.scrollIntoView({block: "center"});
  }

  // Scans: the same evidence as boxes on the page images. An OCR line carries its page, its box, and the
  // boxes it was read from (`parts`: offsets within the line, their boxes, and each character's x as the
  // recogniser placed it); a value is boxed on its own characters (shared out by character width where the
  // characters' places are not known: a Chinese character is twice a digit).
  const pageView = document.getElementById("page-view");
  const pagesView = document.getElementById("page-images");
  const pageTools = document.querySelector(".page-tools");
  const ocrData = document.getElementById("ocr-lines");
  const ocrLines = ocrData ? JSON.parse(ocrData.textContent) : [];
  let lastSpan = null;
  let zoom = 1;

  function units(chars) { let u = 0; for (const ch of chars) u += ch.codePointAt(0) < 128 ? 0.5 : 1; return u; }

  // The rectangles [x0, y0, x1, y1] (page pixels) of the characters [start, end) on one OCR line.
  function charBoxes(line, start, end) {
    if (!line.parts || !line.parts.length) return [line.box];
    const out = [];
    line.parts.forEach(([ps, pe, x0, y0, x1, y1, xs]) => {
      const from = line.start + ps, a = Math.max(start, from), b = Math.min(end, line.start + pe);
      if (!(b > a)) return;
      if (xs && xs.length === pe - ps) {  // where the recogniser placed each character
        out.push([xs[a - from][0], y0, xs[b - 1 - from][1], y1]);
        return;
      }
      const piece = Array.from(text.slice(at(from), at(line.start + pe))), whole = units(piece);
      const left = units(piece.slice(0, a - from)), right = units(piece.slice(0, b - from));
      out.push([x0 + (x1 - x0) * left / whole, y0, x0 + (x1 - x0) * right / whole, y1]);
    });
    // parts on one printed line become one box
    const merged = [];
    out.sort((p, q) => p[1] - q[1] || p[0] - q[0]).forEach((r) => {
      const last = merged[merged.length - 1];
      if (last && r[1] < last[3] && r[3] > last[1]) {
        last[0] = Math.min(last[0], r[0]); last[1] = Math.min(last[1], r[1]);
        last[2] = Math.max(last[2], r[2]); last[3] = Math.max(last[3], r[3]);
      } else merged.push(r.slice());
    });
    return merged.length ? merged : [line.box];
  }

  // The number's own characters within its evidence (「全年预算数2946.60万元」 -> 「2946.60」), for a number item.
  function valueSpan(el, start, end) {
    const shown = el && el.querySelector(".value b");
    if (!shown || !el.querySelector(".editor input[inputmode=decimal]")) return null;
    const v = num(shown.textContent);
    if (v === null) return null;
    const re = /\d[\d,，]*(?:\.\d+)?/g, quote = text.slice(at(start), at(end));
    let m;
    while ((m = re.exec(quote)) !== null) {
      if (Math.abs(num(m[0]) - v) < 1e-9) {
        const before = Array.from(quote.slice(0, m.index)).length;  // in characters, as the server counts
        return [start + before, start + before + m[0].length];
      }
    }
    return null;
  }

  // Boxes on the page images: the value's characters, and the rest of its evidence lightly.
  function highlightBoxes(start, end, value, context) {
    if (!pagesView) return;
    lastSpan = [start, end, value, context];
    pagesView.querySelectorAll(".box").forEach((b) => b.remove());
    const main = spanOf(start, end);
    if (!main) return;
    [start, end] = main;
    const strong = value && (value[0] > start || value[1] < end) ? value : null;
    const first = strong ? drawBoxes(strong[0], strong[1], "box") : null;
    const quote = drawBoxes(start, end, strong ? "box context" : "box");
    (context || []).forEach(([s, e]) => drawBoxes(s, e, "box context"));
    showBox(first || quote);
  }

  function drawBoxes(start, end, className) {
    let first = null;
    ocrLines.filter((l) => l.box && l.start < end && l.end > start).forEach((l) => {
      const frame = pagesView.querySelector(`.page-image[data-page="${l.page}"] .page-frame`);
      if (!frame) return;
      const img = frame.querySelector("img");
      charBoxes(l, start, end).forEach(([x0, y0, x1, y1]) => {
        const box = document.createElement("div");
        box.className = className;
        box.dataset.page = l.page;
        frame.appendChild(box);
        first = first || box;
        const place = () => {
          // the page's own pixel size: known from the page record before the image loads
          const w = img.naturalWidth || Number(img.getAttribute("width")), h = img.naturalHeight || Number(img.getAttribute("height"));
          if (!w || !h) return false;
          Object.assign(box.style, {left: `${100 * x0 / w}%`, top: `${100 * y0 / h}%`,
            width: `${100 * (x1 - x0) / w}%`, height: `${100 * (y1 - y0) / h}%`});
          return true;
        };
        if (!place()) img.addEventListener("load", () => { place(); if (box === first) showBox(box); }, {once: true});
      });
    });
    return first;
  }

  function showBox(box) {
    if (!box || pageView.hidden) return;
    const img = box.parentElement.querySelector("img");
    img.loading = "eager";  // the page the value is on, now
    box.scrollIntoView({block: "center", inline: "center"});
  }

  function setZoom(z, anchor) {
    const scroller = pageView.closest(".pane");
    const before = pagesView.getBoundingClientRect();
    const at = anchor || {x: scroller.clientWidth / 2, y: scroller.clientHeight / 2};
    const sr = scroller.getBoundingClientRect();
    // keep the point under the cursor (or the pane's centre) where it is
    const fx = (sr.left + at.x - before.left) / before.width, fy = (sr.top + at.y - before.top) / before.height;
    zoom = Math.min(6, Math.max(0.5, Math.round(z * 100) / 100));
    pagesView.style.setProperty("--zoom", zoom);
    document.getElementById("zoom-level").textContent = `${Math.round(zoom * 100)}%`;
    const after = pagesView.getBoundingClientRect();
    scroller.scrollLeft += after.left + fx * after.width - (sr.left + at.x);
    scroller.scrollTop += after.top + fy * after.height - (sr.top + at.y);
  }

  if (pagesView) {
    document.querySelectorAll("[data-zoom]").forEach((b) => b.addEventListener("click", () => {
      const how = b.dataset.zoom;
      setZoom(how === "in" ? zoom * 1.25 : how === "out" ? zoom / 1.25 : 1);
    }));
    const scroller = pageView.closest(".pane");
    scroller.addEventListener("wheel", (e) => {
      if (pageView.hidden || !(e.ctrlKey || e.metaKey)) return;  // a plain wheel scrolls: that is panning
      e.preventDefault();
      const sr = scroller.getBoundingClientRect();
      setZoom(zoom * (e.deltaY < 0 ? 1.1 : 1 / 1.1), {x: e.clientX - sr.left, y: e.clientY - sr.top});
    }, {passive: false});
    let drag = null;
    pagesView.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = {x: e.clientX, y: e.clientY, left: scroller.scrollLeft, top: scroller.scrollTop};
      pagesView.classList.add("panning");
      pagesView.setPointerCapture(e.pointerId);
    });
    pagesView.addEventListener("pointermove", (e) => {
      if (!drag) return;
      scroller.scrollLeft = drag.left - (e.clientX - drag.x);
      scroller.scrollTop = drag.top - (e.clientY - drag.y);
    });
    const endDrag = () => { drag = null; pagesView.classList.remove("panning"); };
    pagesView.addEventListener("pointerup", endDrag);
    pagesView.addEventListener("pointercancel", endDrag);
  }

  document.querySelectorAll(".tab[data-view]").forEach((tab) => tab.addEventListener("click", () => {
    const pages = tab.dataset.view === "pages";
    document.querySelectorAll(".tab[data-view]").forEach((t) => t.classList.toggle("active", t === tab));
    source.hidden = pages;
    pageView.hidden = !pages;
    if (pageTools) pageTools.hidden = !pages;
    if (lastSpan) highlightBoxes(...lastSpan);
  }));

  function items() { return Array.from(pane.querySelectorAll(".item")); }

  function select(el, focus) {
    if (!el) return;
    if (current) current.classList.remove("selected");
    current = el;
    hideNotice();
    el.classList.add("selected");
    const start = Number(el.dataset.start), end = Number(el.dataset.end);
    highlight(el.dataset.start, el.dataset.end, el.dataset.start ? valueSpan(el, start, end) : null, contextOf(el));
    if (focus !== false) { el.focus({preventScroll: true}); el.scrollIntoView({block: "nearest"}); }
  }

  // -- saving -------------------------------------------------------------------
  function message(el, text, kind) {
    const p = el.querySelector(".message");
    if (!p) return;
    p.textContent = text;
    p.className = "message " + (kind || "");
    p.hidden = !text;
    if (kind === "error") p.scrollIntoView({block: "nearest", inline: "nearest"});
  }

  // A refused save: its message by the item, in view; in a grid row, the cell it names is marked and selected.
  const CELL_LABELS = [["名称", "name"], ["分值", "weight"], ["得分", "score"], ["年初预算", "budget_initial"],
    ["全年预算", "budget_full_year"], ["全年执行", "spending_actual"], ["执行率", "execution_rate"]];

  function refused(el, text) {
    if (el.tagName === "TR") {
      el.querySelectorAll(".invalid").forEach(valid);
      const named = CELL_LABELS.find(([label, name]) => text.startsWith(label) && el.querySelector(`input[name=${name}]`));
      const cell = named ? el.querySelector(`input[name=${named[1]}]`)
        : (el.contains(document.activeElement) && document.activeElement.matches("input") ? document.activeElement : null);
      if (cell) {
        cell.classList.add("invalid");
        cell.setAttribute("aria-invalid", "true");
        cell.focus({preventScroll: true});
        cell.select();
      }
    }
    message(el, text, "error");
    recomputeTotals();  // a refused value counts as what was saved
  }

  function valid(cell) { cell.classList.remove("invalid"); cell.removeAttribute("aria-invalid"); }

  // A line at the top of the pane about the whole report, e.g. that nothing is left to review.
  function notice(text, kind) {
    let p = document.getElementById("review-notice");
    if (!p) {
      p = document.createElement("p");
      p.id = "review-notice";
      p.setAttribute("role", "status");
      pane.prepend(p);
    }
    p.textContent = text;
    p.className = kind || "";
    p.hidden = false;
    p.scrollIntoView({block: "nearest"});
  }

  function hideNotice() {
    const p = document.getElementById("review-notice");
    if (p) p.hidden = true;
  }

  function rowValue(el) {
    const out = {table: el.dataset.table};
    el.querySelectorAll("input[name]").forEach((i) => { out[i.name] = i.value; });
    return out;
  }

  async function save(el, action, value, reason) {
    if (readonly) { message(el, "该报告不在待审核状态，不能修改", "error"); return; }
    if (el.dataset.new) { add(el, value); return; }
    const body = {action: action, version: Number(el.dataset.version), value: value, reason: reason || null};
    const resp = await fetch(`/api/documents/${sha}/items/${encodeURIComponent(el.dataset.item)}`, {
      method: "POST", headers: {"Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json"},
      body: JSON.stringify(body),
    });
    const data = await resp.json().catch(() => ({error: "服务器没有返回有效结果"}));
    if (resp.status === 409 && data.html) {
      const fresh = replace(el, data.html);
      message(fresh, data.error, "error");
      return;
    }
    if (!resp.ok) { refused(el, data.error || "保存失败"); return; }
    const onIt = current === el;  // the reviewer may have moved on (n, j, k) while this was saving
    const fresh = replace(el, data.html);
    updateConfirm(data.blockers);
    message(fresh, "已保存", "ok");
    if (onIt) nextFlagged(fresh);
  }

  // A row the extraction missed, not saved yet: blank cells (a copied row's table and levels kept), 保存 / 取消.
  function makeNew(row, after) {
    row.id = "";
    row.dataset.new = "true";
    if (after) row.dataset.newAfter = after;
    row.removeAttribute("data-start"); row.removeAttribute("data-end");
    row.className = "item row status-new";
    row.querySelectorAll("input").forEach((i) => {
      if (i.name !== "level1" && i.name !== "level2") { i.value = ""; i.title = ""; }
    });
    row.querySelector(".rowstate").innerHTML = '<span class="pill new">新增</span><p class="message" hidden></p>';
    row.querySelector(".rowactions").innerHTML =
      '<button type="button" data-action="save-row" title="Enter">保存</button>' +
      '<button type="button" data-action="cancel" title="Esc">取消</button>';
    return row;
  }

  function startNew(row) {
    wire(row);
    select(row, false);
    const first = row.querySelector("input[name=name]");
    if (first) first.focus();
  }

  // Inserted below a row: a blank copy of it, saved as a new item after it.
  function insertBelow(anchor) {
    if (readonly) { message(anchor, "该报告不在待审核状态，不能修改", "error"); return; }
    const row = makeNew(anchor.cloneNode(true), anchor.dataset.item);
    anchor.after(row);
    startNew(row);
  }

  // A section's 「＋ 新增」 button (also where the extraction found none): a blank row at the end, saved last.
  function addRow(button) {
    if (readonly) return;
    const box = button.closest(".scoretable") || button.closest(".group");
    const row = makeNew(button.closest(".group").querySelector("template.blank-row").content
      .querySelector("tr").cloneNode(true), null);
    if (box.dataset.table) row.dataset.table = box.dataset.table;
    box.querySelector("tbody").append(row);
    startNew(row);
  }
  pane.querySelectorAll("[data-add-row]").forEach((b) => b.addEventListener("click", () => addRow(b)));

  async function add(el, value) {
    const body = {kind: el.dataset.kind, after: el.dataset.newAfter || null, value: value};
    const resp = await fetch(`/api/documents/${sha}/items`, {
      method: "POST", headers: {"Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json"},
      body: JSON.stringify(body),
    });
    const data = await resp.json().catch(() => ({error: "服务器没有返回有效结果"}));
    if (!resp.ok) { refused(el, data.error || "保存失败"); return; }
    const fresh = replace(el, data.html);
    updateConfirm(data.blockers);
    message(fresh, "已新增", "ok");
  }

  // The item as saved, in place of `el`; selected if `el` was (or `follow`), else the selection stays where it is.
  function replace(el, html, follow) {
    const selected = follow || current === el;
    const holder = document.createElement(el.tagName === "TR" ? "tbody" : "div");
    holder.innerHTML = html.trim();
    const fresh = holder.firstElementChild;
    el.replaceWith(fresh);
    wire(fresh);
    if (selected) select(fresh, false);
    recomputeTotals();
    return fresh;
  }

  function updateGroupBadges() {
    pane.querySelectorAll(".group").forEach((group) => {
      const badge = group.querySelector(".group-flagged");
      const n = group.querySelectorAll(".item.status-review").length;
      badge.textContent = `${n} 项待复核`;
      badge.hidden = n === 0;
    });
  }

  function updateConfirm(blockers) {
    updateGroupBadges();
    const badge = document.getElementById("flagged-count");
    const button = document.getElementById("confirm");
    if (badge) {
      badge.textContent = blockers.length ? blockers[0] : "全部已处理，可以确认入库";
      badge.className = "badge " + (blockers.length ? "warn" : "ok");
    }
    if (button) button.disabled = blockers.length > 0;
  }

  // The first item to review after `from` (wrapping round); if none is left, a line says so (not on arrival).
  function nextFlagged(from, arriving) {
    const all = items();
    const start = from ? all.indexOf(from) + 1 : 0;
    const next = all.slice(start).concat(all.slice(0, start)).find((x) => x.classList.contains("status-review"));
    if (next) select(next);
    else if (!arriving) notice("本报告已没有待复核的项目");
  }

  // -- unsaved edits ------------------------------------------------------------------
  // A cell or editor whose text differs from what was saved (its defaultValue, as the server drew it) is
  // marked 未保存 until it is saved or restored (Esc); confirming and leaving the page warn while one is.
  function editables(el) {
    return Array.from(el.querySelectorAll(el.tagName === "TR" ? "input[name]" : ".editor [name=value]"));
  }

  function markDirty(el) {
    let any = false;
    editables(el).forEach((i) => {
      const dirty = i.value !== i.defaultValue;
      i.classList.toggle("dirty", dirty);
      any = any || dirty;
    });
    any = any || Boolean(el.dataset.new);
    el.classList.toggle("unsaved", any);
    let note = el.querySelector(".unsaved-note");
    if (any && !note) {
      note = document.createElement("span");
      note.className = "unsaved-note";
      note.textContent = "未保存";
      (el.querySelector(".rowstate") || el.querySelector(".item-head")).prepend(note);
    }
    if (note) note.hidden = !any;
  }

  function unsaved() { return Array.from(pane.querySelectorAll(".item.unsaved")); }

  // The cell as saved again: what Esc does while typing in it.
  function restore(el, input) {
    (input ? [input] : editables(el)).forEach((i) => { i.value = i.defaultValue; valid(i); });
    markDirty(el);
    recomputeTotals();
  }

  const confirmButton = document.getElementById("confirm");
  if (confirmButton) confirmButton.form.addEventListener("submit", (e) => {
    const left = unsaved();
    if (!left.length) return;
    e.preventDefault();
    select(left[0], false);
    notice(`有 ${left.length} 项修改尚未保存：请先保存（Enter）或按 Esc 撤销修改，再确认入库`, "warn");
    const cell = editables(left[0]).find((i) => i.classList.contains("dirty")) || editables(left[0])[0];
    if (cell) { cell.focus(); cell.scrollIntoView({block: "center"}); }
  });
  window.addEventListener("beforeunload", (e) => {
    if (!unsaved().length) return;
    e.preventDefault();
    e.returnValue = "";  // the browser asks whether to leave with edits unsaved
  });

  // -- editing ------------------------------------------------------------------
  // The number a reviewer would correct in a grid row: the one its issue names (matched on the words the checks
  // use), else the first number cell.
  const ISSUE_CELLS = [["执行数", "spending_actual"], ["年初预算", "budget_initial"], ["全年预算", "budget_full_year"],
    ["总分", "score"], ["得分", "score"], ["分值", "weight"], ["执行率", "execution_rate"]];

  function cellToCorrect(row) {
    if (row.dataset.new) return row.querySelector("input[name=name]");
    const issues = Array.from(row.querySelectorAll(".issues li"), (li) => li.textContent).join("；");
    const named = ISSUE_CELLS.find(([word, name]) => issues.includes(word) && row.querySelector(`input[name=${name}]`));
    return row.querySelector(named ? `input[name=${named[1]}]` : "input.num") || row.querySelector("input");
  }

  function edit(el) {
    if (el.tagName === "TR") {
      const cell = cellToCorrect(el);
      if (cell) { cell.focus(); cell.select(); }
      return;
    }
    const form = el.querySelector(".editor");
    form.hidden = false;
    const input = form.querySelector("[name=value]");
    input.focus();
    if (input.select) input.select();
  }

  function cancel(el) {
    if (el.dataset.new) {
      const anchor = el.dataset.newAfter && pane.querySelector(`[data-item="${el.dataset.newAfter}"]`);
      el.remove();
      recomputeTotals();
      current = null;
      if (anchor) select(anchor);
      return;
    }
    const form = el.querySelector(".editor");
    if (form) { form.hidden = true; restore(el); }
    el.focus();
  }

  function wire(el) {
    // the confidence bar's width, set here: the page's CSP allows no style attributes in its markup
    el.querySelectorAll(".bar > [data-width]").forEach((bar) => { bar.style.width = `${bar.dataset.width}%`; });
    el.addEventListener("click", (e) => {
      if (e.target.closest("button, input, textarea, select")) return;
      select(el, false);
    });
    el.addEventListener("focusin", (e) => {
      if (current !== el) select(el, false);
      const cell = e.target.closest("input[data-start]");
      // a cell of a row: its own characters, its row and the table's column headers lightly
      if (cell) highlight(cell.dataset.start, cell.dataset.end, null,
        (el.dataset.start ? [[Number(el.dataset.start), Number(el.dataset.end)]] : []).concat(contextOf(el)));
    });
    el.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", (e) => {
      e.preventDefault();
      const action = b.dataset.action;
      if (action === "edit") edit(el);
      else if (action === "cancel") cancel(el);
      else if (action === "save-row") save(el, "correct", rowValue(el));
      else if (action === "insert") insertBelow(el);
      else save(el, action);
    }));
    el.querySelectorAll(".candidate").forEach((c) => c.addEventListener("click", () => {
      highlight(c.dataset.start, c.dataset.end);
      const form = el.querySelector(".editor");
      if (form) { form.hidden = false; form.querySelector("[name=value]").value = c.dataset.value; markDirty(el); }
    }));
    const form = el.querySelector(".editor");
    if (form) {
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        save(el, "correct", form.querySelector("[name=value]").value, form.querySelector("[name=reason]").value);
      });
      const area = form.querySelector("textarea");
      if (area) area.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
      });
    }
    editables(el).forEach((i) => i.addEventListener("input", () => markDirty(el)));
    if (el.dataset.new) markDirty(el);
    if (el.tagName === "TR") {
      el.querySelectorAll("input").forEach((i) => {
        i.addEventListener("input", () => { valid(i); recomputeTotals(); });
        i.addEventListener("keydown", (e) => {
          if (e.key === "Enter") { e.preventDefault(); save(el, "correct", rowValue(el)); }
        });
      });
    }
  }

  // -- score-table totals -------------------------------------------------------------
  function num(s) { const v = parseFloat(String(s || "").replace(/[,，\s]/g, "")); return isNaN(v) ? null : v; }
  function fmt(v) { return Number.isInteger(v) ? String(v) : v.toFixed(2).replace(/0+$/, "").replace(/\.$/, ""); }

  // A cell's number for the totals: as typed (a preview until saved), but a refused value counts as what was saved.
  function cellNumber(input) { return num(input.classList.contains("invalid") ? input.defaultValue : input.value); }

  function recomputeTotals() {
    document.querySelectorAll(".scoretable").forEach((box) => {
      let weight = 0, score = 0;
      box.querySelectorAll("tbody tr").forEach((tr) => {
        const deleted = tr.classList.contains("status-deleted");
        const w = cellNumber(tr.querySelector("[name=weight]")), s = cellNumber(tr.querySelector("[name=score]"));
        const level1 = tr.querySelector("[name=level1]").value;
        tr.classList.toggle("over", w !== null && s !== null && s > w);
        if (deleted || level1.startsWith("扣分")) return;
        weight += w || 0; score += s || 0;
      });
      const ew = num(box.dataset.execWeight), es = num(box.dataset.execScore), total = num(box.dataset.total);
      box.querySelector(".sum-weight").textContent = fmt(weight);
      box.querySelector(".sum-score").textContent = fmt(score);
      const notes = [];
      if (ew !== null) {
        const allWeight = weight + ew;
        notes.push(`含预算执行率分值 ${fmt(ew)}：${fmt(allWeight)}` + (Math.abs(allWeight - 100) > 1e-6 ? "（≠ 100）" : " ✓"));
      }
      if (total !== null) {
        const allScore = score + (es || 0);
        const ok = Math.abs(allScore - total) < 1e-6;
        notes.push(`得分${es !== null ? "（含执行率 " + fmt(es) + "）" : ""} ${fmt(allScore)} ${ok ? "=" : "≠"} 表中总分 ${fmt(total)}`);
        box.classList.toggle("mismatch", !ok);
      }
      box.querySelector(".sum-note").textContent = notes.join("；");
    });
  }

  // -- undo ---------------------------------------------------------------------
  async function undo() {
    if (readonly) return;
    const resp = await fetch(`/api/documents/${sha}/undo`, {
      method: "POST", headers: {"X-CSRFToken": csrf, "Accept": "application/json"},
    });
    const data = await resp.json().catch(() => ({error: "服务器没有返回有效结果"}));
    const where = current || items()[0];
    if (!resp.ok) { if (where) message(where, data.error || "撤销失败", "error"); return; }
    const el = pane.querySelector(`[data-item="${data.item}"]`);
    if (data.removed) { if (el) { if (current === el) current = null; el.remove(); } recomputeTotals(); }
    else if (el) { const fresh = replace(el, data.html, true); message(fresh, "已撤销", "ok"); }
    // a bulk accept is undone as one step: every item it changed is drawn again
    (data.items || []).filter((i) => i.item !== data.item).forEach((i) => {
      const other = pane.querySelector(`[data-item="${i.item}"]`);
      if (other) message(replace(other, i.html), "已撤销", "ok");
    });
    updateConfirm(data.blockers);
  }
  const undoButton = document.getElementById("undo");
  if (undoButton) undoButton.addEventListener("click", undo);

  // -- restore a value from the change history ----------------------------------------
  // Saved as a correction (audited like one): a field or list to its old value (none: 未提及), a row to its cells.
  function asTyped(value) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return value === null ? "" : value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, v === null ? "" : String(v)]));
  }

  pane.querySelectorAll("button.restore").forEach((b) => b.addEventListener("click", () => {
    const el = pane.querySelector(`.item[data-item="${b.dataset.item}"]`);
    if (!el) return;
    const value = JSON.parse(b.dataset.value);
    select(el);
    if (value === null) save(el, "not_stated");
    else save(el, "correct", typeof value === "number" ? String(value) : asTyped(value), "恢复修改记录中的值");
  }));

  // -- keyboard -----------------------------------------------------------------
  const keys = document.getElementById("keys");
  function toggleKeys(show) { keys.hidden = !show; }
  document.getElementById("show-keys").addEventListener("click", () => toggleKeys(true));
  keys.querySelector("[data-close]").addEventListener("click", () => toggleKeys(false));

  document.addEventListener("keydown", (e) => {
    const typing = e.target.closest("input, textarea, select");
    if (e.key === "Escape") {
      if (!keys.hidden) { toggleKeys(false); return; }
      if (typing && current) {
        if (current.tagName === "TR" && !current.dataset.new) restore(current, e.target.closest("input"));
        else cancel(current);
        return;
      }
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    const all = items();
    const i = current ? all.indexOf(current) : -1;
    if (e.key === "j") { e.preventDefault(); select(all[Math.min(i + 1, all.length - 1)]); }
    else if (e.key === "k") { e.preventDefault(); select(all[Math.max(i - 1, 0)]); }
    else if (e.key === "n") { e.preventDefault(); nextFlagged(current); }
    else if (e.key === "a" && current) { e.preventDefault(); save(current, "accept"); }
    else if (e.key === "e" && current) { e.preventDefault(); edit(current); }
    else if (e.key === "x" && current && ["field", "list"].includes(current.dataset.kind)) {
      e.preventDefault(); save(current, "not_stated");
    }
    else if (e.key === "u") { e.preventDefault(); undo(); }
    else if (e.key === "?") { e.preventDefault(); toggleKeys(keys.hidden); }
    else if (pageView && !pageView.hidden && ["+", "=", "-", "0"].includes(e.key)) {
      e.preventDefault();
      setZoom(e.key === "0" ? 1 : e.key === "-" ? zoom / 1.25 : zoom * 1.25);
    }
  });

  // 上年数核对: a statement about last year marked in the source text (its table row and column lightly)
  document.querySelectorAll(".prior-source").forEach((b) => b.addEventListener("click", () => {
    let context = [];
    try { context = JSON.parse(b.dataset.context || "[]"); } catch (e) { context = []; }
    highlight(b.dataset.start, b.dataset.end, null, context);
  }));

  items().forEach(wire);
  recomputeTotals();
  nextFlagged(null, true);
})();
