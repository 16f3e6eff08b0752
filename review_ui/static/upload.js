// The upload page: drag and drop into the file input; each chosen file checked against the server's rules
// (the names of the kinds it reads, the size limit: the form's data attributes) before anything is sent;
// the rest sent with XMLHttpRequest, with its progress; job states refresh without reload.
// Without this script the form posts as it is, and the server checks everything (it does anyway).
(function () {
  "use strict";
  const drop = document.getElementById("dropzone");
  const input = document.getElementById("files");
  const chosen = document.getElementById("chosen");
  const form = document.getElementById("upload-form");

  // -- the checks before sending ------------------------------------------------------------------

  function rulesOf(el) {
    return {suffixes: (el.dataset.suffixes || "").split(",").filter(Boolean),
            maxBytes: Number(el.dataset.maxBytes), maxMb: el.dataset.maxMb};
  }

  function sizeOf(bytes) {
    const mb = bytes / 1024 / 1024;
    return mb >= 0.1 ? `${mb.toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
  }

  // Why a file is not sent (in Chinese), or null: a name none of the kinds we read has, too large, empty.
  function refusal(file, rules) {
    const dot = file.name.lastIndexOf(".");
    const suffix = dot > 0 ? file.name.slice(dot).toLowerCase() : "";
    const allowed = `可上传的类型：${rules.suffixes.join(" ")}`;
    if (!rules.suffixes.includes(suffix)) {
      return suffix ? `不支持的文件类型（${suffix}），未上传；${allowed}`
        : `文件名没有扩展名，无法判断文件类型，未上传；${allowed}`;
    }
    if (rules.maxBytes && file.size > rules.maxBytes) {
      return `文件过大（${sizeOf(file.size)}），超过上限 ${rules.maxMb} MB，未上传`;
    }
    if (file.size === 0) return "文件为空，未上传";
    return null;
  }

  function sortFiles(files, rules) {
    const ok = [], refused = [];
    files.forEach((file) => {
      const why = refusal(file, rules);
      if (why) refused.push({file, why}); else ok.push(file);
    });
    return {ok, refused};
  }

  function resultItem(cls, name, text) {
    const li = document.createElement("li");
    li.className = cls;
    const b = document.createElement("b");
    b.textContent = name;
    li.append(b, `：${text}`);
    return li;
  }

  function showRefused(refused) {
    const list = document.getElementById("upload-refused");
    if (list) list.replaceChildren(...refused.map((r) => resultItem("rejected", r.file.name, r.why)));
  }

  function say(text) {
    const status = document.getElementById("upload-status");
    if (status) status.textContent = text || "";
  }

  function showChosen() {
    if (!chosen || !input) return;
    const files = Array.from(input.files);
    const names = files.map((f) => f.name);
    chosen.textContent = names.length ? `已选择 ${names.length} 个文件：${names.join("、")}` : "";
    if (form) {
      const {ok, refused} = sortFiles(files, rulesOf(form));
      showRefused(refused);
      say(refused.length && files.length ? `其中 ${refused.length} 个文件不会上传（原因见下），其余 ${ok.length} 个可以上传` : "");
    }
  }

  if (drop && input) {
    ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => {
      e.preventDefault(); drop.classList.add("over");
    }));
    ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => {
      e.preventDefault(); drop.classList.remove("over");
    }));
    drop.addEventListener("drop", (e) => { input.files = e.dataTransfer.files; showChosen(); });
    input.addEventListener("change", showChosen);
  }

  // -- sending, with progress -----------------------------------------------------------------------

  function showProgress(fraction, what) {
    const box = document.getElementById("upload-progress");
    if (!box) return;
    const percent = Math.round(Math.min(Math.max(fraction, 0), 1) * 100);
    box.hidden = false;
    box.querySelector("progress").value = percent;
    box.querySelector(".percent").textContent = `${percent}%`;
    if (what !== undefined) box.querySelector(".what").textContent = what;
  }

  // Files in requests the server takes whole (MAX_CONTENT_LENGTH, with room for each part's headers).
  function requests(files, limit) {
    const out = [];
    let current = [], size = 0;
    files.forEach((file) => {
      const cost = file.size + 2048;
      if (current.length && size + cost > limit) { out.push(current); current = []; size = 0; }
      current.push(file); size += cost;
    });
    if (current.length) out.push(current);
    return out;
  }

  // One POST of the form with these files; the server answers with a redirect to the upload page (followed
  // here), whose results and job list this page takes. Resolves to the request (null on a network error).
  function post(files, onProgress) {
    return new Promise((resolve) => {
      const body = new FormData();
      body.append("csrf_token", form.querySelector("input[name=csrf_token]").value);
      files.forEach((file) => body.append("files", file, file.name));
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.responseType = "document";
      xhr.setRequestHeader("Accept", "text/html");
      xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
      xhr.addEventListener("load", () => resolve(xhr));
      xhr.addEventListener("error", () => resolve(null));
      xhr.send(body);
    });
  }

  // What an answer without results says (an error page: its message).
  function errorOf(doc, status) {
    const message = doc && doc.querySelector(".error-page p");
    return message ? message.textContent : `上传失败（HTTP ${status}），请刷新页面后重试`;
  }

  async function upload(files, refusedCount) {
    const button = form.querySelector("button[type=submit]");
    const results = document.getElementById("upload-results");
    const limit = Number(form.dataset.maxRequestBytes || 0) - 65536;
    const total = files.reduce((n, f) => n + f.size, 0) || 1;
    let sent = 0, answer = null, stopped = false;
    button.disabled = true;
    results.replaceChildren();
    showProgress(0, `正在上传 ${files.length} 个文件…`);
    for (const batch of requests(files, limit > 0 ? limit : Infinity)) {
      const bytes = batch.reduce((n, f) => n + f.size, 0);
      const xhr = await post(batch, (part) => {
        showProgress((sent + part * bytes) / total, part >= 1 ? "已发送，服务器正在检查文件…" : undefined);
      });
      sent += bytes;
      const doc = xhr && xhr.response;
      const items = doc ? Array.from(doc.querySelectorAll("#upload-results li")) : [];
      if (!items.length) {
        say(xhr ? errorOf(doc, xhr.status) : "网络中断，上传未完成，请重试");
        stopped = true;
        break;
      }
      results.append(...items.map((li) => document.importNode(li, true)));
      answer = doc;
    }
    const panel = answer && answer.getElementById("jobs-panel");
    const here = document.getElementById("jobs-panel");
    if (panel && here) here.replaceWith(document.importNode(panel, true));
    showProgress(stopped ? sent / total : 1, stopped ? "上传未完成" : "上传完成");
    if (!stopped) say(refusedCount ? `${refusedCount} 个文件未上传（原因见下）` : "");
    button.disabled = false;
    input.value = "";
    if (chosen) chosen.textContent = "";
  }

  if (form && input) {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const files = Array.from(input.files);
      const {ok, refused} = sortFiles(files, rulesOf(form));
      showRefused(refused);
      if (!files.length) { say(form.dataset.noFile); return; }
      if (!ok.length) { say("所选文件都不能上传（原因见下），没有发送任何文件"); return; }
      say(refused.length ? `${refused.length} 个文件未上传（原因见下），其余 ${ok.length} 个正在上传` : "");
      upload(ok, refused.length);
    });
  }

  // The 替换 form of a failed job: the new file checked as the upload form checks it.
  document.querySelectorAll("form.replace-form").forEach((replace) => {
    const file = replace.querySelector("input[type=file]");
    const note = replace.querySelector(".replace-refused");
    function check() {
      const picked = file.files[0];
      const why = picked ? refusal(picked, rulesOf(replace)) : replace.dataset.noFile;
      note.textContent = why ? (picked ? `${picked.name}：${why}` : why) : "";
      return !why;
    }
    file.addEventListener("change", check);
    replace.addEventListener("submit", (e) => { if (!check()) e.preventDefault(); });
  });

  // 删除 asks first.
  document.addEventListener("submit", (e) => {
    const target = e.target;
    if (target.matches && target.matches("form[data-confirm]") && !window.confirm(target.dataset.confirm)) {
      e.preventDefault();
    }
  });

  // -- job states -----------------------------------------------------------------------------------

  // The 重试 (and 删除) forms of a row that failed while the page was open, as _jobs.html renders them for a
  // failed job, carrying the page's CSRF token (the meta tag of base.html).
  function actionForm(action, label) {
    const made = document.createElement("form");
    made.method = "post";
    made.action = action;
    const token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = document.querySelector("meta[name=csrf-token]").content;
    const button = document.createElement("button");
    button.textContent = label;
    made.append(token, button);
    return made;
  }

  function retryForm(action) {
    return actionForm(action, "重试");
  }

  function removeForm(row) {
    const remove = actionForm(row.dataset.removeUrl, "删除");
    remove.className = "remove";
    remove.dataset.confirm = `删除“${row.dataset.name}”？该任务和保存的文件将一并删除，不能恢复`;
    return remove;
  }

  // Rows (or the job page) whose state can still change are polled every 2 seconds.
  const LIVE = ["queued", "extracting"];
  async function poll() {
    const rows = Array.from(document.querySelectorAll("[data-sha256]"))
      .filter((el) => LIVE.includes(el.dataset.state || el.textContent.trim()) || el.id === "job-state");
    const shas = rows.map((el) => el.dataset.sha256);
    if (!shas.length) return;
    const resp = await fetch(`/api/jobs?sha256=${shas.join(",")}`, {headers: {"Accept": "application/json"}});
    if (!resp.ok) return;
    const states = await resp.json();
    let finishedOnJobPage = false;
    rows.forEach((el) => {
      const s = states[el.dataset.sha256];
      if (!s) return;
      if (el.id === "job-state") {
        if (el.textContent.trim() !== s.label && !LIVE.includes(s.state)) finishedOnJobPage = true;
        el.textContent = s.label; el.className = `state state-${s.state}`;
        const progress = document.getElementById("job-progress");
        if (progress) progress.textContent = s.progress || "—";
        return;
      }
      el.dataset.state = s.state;
      const pill = el.querySelector(".state");
      pill.textContent = s.label; pill.className = `state state-${s.state}`;
      el.querySelector(".error").textContent = s.error || "";
      el.querySelector(".progress").textContent = s.progress || "";
      el.querySelector(".unit").textContent = s.unit_name || "";
      el.querySelector(".year").textContent = s.fiscal_year || "";
      el.querySelector(".flagged").textContent = ["review", "confirmed"].includes(s.state) ? s.flagged : "";
      const slot = el.querySelector(".remove-slot");
      if (s.state === "failed") {
        el.querySelector(".retry").replaceChildren(retryForm(el.dataset.retryUrl));
        if (slot && el.dataset.removeUrl) slot.replaceChildren(removeForm(el));
      } else if (!LIVE.includes(s.state)) {
        el.querySelector(".retry").replaceChildren();
        if (slot) slot.replaceChildren();
      }
    });
    if (finishedOnJobPage) window.location.reload();
  }
  setInterval(poll, 2000);
})();
