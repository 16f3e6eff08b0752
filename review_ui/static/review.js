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
  function highlight(start, end) {
    highlightBoxes(start, end);
    source.textContent = text;  // drop the previous mark
    if (start === undefined || start === "" || end === undefined) return;
    start = Number(start); end = Number(end);
    if (!(end > start) || end > text.length) return;
    const range = document.createRange();
    range.setStart(source.firstChild, start);
    range.setEnd(source.firstChild, end);
    const mark = document.createElement("mark");
    range.surroundContents(mark);
    mark.scrollIntoView({block: "center"});
  }

  // Scans: the same evidence as boxes on the page images (OCR lines carry their page and box).
  const pagesView = document.getElementById("page-images");
  const ocrData = document.getElementById("ocr-lines");
  const ocrLines = ocrData ? JSON.parse(ocrData.textContent) : [];
  let lastSpan = null;

  function highlightBoxes(start, end) {
    if (!pagesView) return;
    lastSpan = [start, end];
    pagesView.querySelectorAll(".box").forEach((b) => b.remove());
    if (start === undefined || start === "" || end === undefined) return;
    start = Number(start); end = Number(end);
    let first = null;
    ocrLines.filter((l) => l.box && l.start < end && l.end > start).forEach((l) => {
      const fig = pagesView.querySelector(`.page-image[data-page="${l.page}"]`);
      if (!fig) return;
      const img = fig.querySelector("img");
      const box = document.createElement("div");
      box.className = "box";
      fig.appendChild(box);
      first = first || box;
      const place = () => {
        const [x0, y0, x1, y1] = l.box, w = img.naturalWidth, h = img.naturalHeight;
        Object.assign(box.style, {left: `${100 * x0 / w}%`, top: `${100 * y0 / h}%`,
          width: `${100 * (x1 - x0) / w}%`, height: `${100 * (y1 - y0) / h}%`});
        if (box === first && !pagesView.hidden) box.scrollIntoView({block: "center"});
      };
      if (img.complete && img.naturalWidth) place(); else img.addEventListener("load", place, {once: true});
    });
  }

  document.querySelectorAll(".tab[data-view]").forEach((tab) => tab.addEventListener("click", () => {
    const pages = tab.dataset.view === "pages";
    document.querySelectorAll(".tab[data-view]").forEach((t) => t.classList.toggle("active", t === tab));
    source.hidden = pages;
    pagesView.hidden = !pages;
    pagesView.querySelectorAll("img").forEach((img) => { img.loading = "eager"; });
    if (lastSpan) highlightBoxes(lastSpan[0], lastSpan[1]);
  }));

  function items() { return Array.from(pane.querySelectorAll(".item")); }

  function select(el, focus) {
    if (!el) return;
    if (current) current.classList.remove("selected");
    current = el;
    hideNotice();
    el.classList.add("selected");
    highlight(el.dataset.start, el.dataset.end);
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
  }

  function valid(cell) { cell.classList.remove("invalid"); cell.removeAttribute("aria-invalid"); }

  // A line at the top of the pane about the whole report, e.g. that nothing is left to review.
  function notice(text) {
    let p = document.getElementById("review-notice");
    if (!p) {
      p = document.createElement("p");
      p.id = "review-notice";
      p.setAttribute("role", "status");
      pane.prepend(p);
    }
    p.textContent = text;
    p.hidden = false;
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
    if (form) form.hidden = true;
    el.focus();
  }

  function wire(el) {
    // the confidence bar's width, set here: the page's CSP allows no style attributes in its markup
    el.querySelectorAll(".bar > [data-width]").forEach((bar) => { bar.style.width = `${bar.dataset.width}%`; });
    el.addEventListener("click", (e) => {
      if (e.target.closest("button, input, textarea, select")) return;
      select(el, false);
    });
    el.addEventListener("focusin", () => { if (current !== el) select(el, false); });
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
      if (form) { form.hidden = false; form.querySelector("[name=value]").value = c.dataset.value; }
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

  function recomputeTotals() {
    document.querySelectorAll(".scoretable").forEach((box) => {
      let weight = 0, score = 0;
      box.querySelectorAll("tbody tr").forEach((tr) => {
        const deleted = tr.classList.contains("status-deleted");
        const w = num(tr.querySelector("[name=weight]").value), s = num(tr.querySelector("[name=score]").value);
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
    updateConfirm(data.blockers);
  }
  const undoButton = document.getElementById("undo");
  if (undoButton) undoButton.addEventListener("click", undo);

  // -- keyboard -----------------------------------------------------------------
  const keys = document.getElementById("keys");
  function toggleKeys(show) { keys.hidden = !show; }
  document.getElementById("show-keys").addEventListener("click", () => toggleKeys(true));
  keys.querySelector("[data-close]").addEventListener("click", () => toggleKeys(false));

  document.addEventListener("keydown", (e) => {
    const typing = e.target.closest("input, textarea, select");
    if (e.key === "Escape") {
      if (!keys.hidden) { toggleKeys(false); return; }
      if (typing && current) { cancel(current); return; }
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
  });

  items().forEach(wire);
  recomputeTotals();
  nextFlagged(null, true);
})();
