// The upload page: drag and drop into the file input; job states refresh without reload.
(function () {
  "use strict";
  const drop = document.getElementById("dropzone");
  const input = document.getElementById("files");
  const chosen = document.getElementById("chosen");

  function showChosen() {
    if (!chosen || !input) return;
    const names = Array.from(input.files).map((f) => f.name);
    chosen.textContent = names.length ? `已选择 ${names.length} 个文件：${names.join("、")}` : "";
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

  // The 重试 form of a row that failed while the page was open, as _jobs.html renders it for a failed job,
  // carrying the page's CSRF token (the meta tag of base.html).
  function retryForm(action) {
    const form = document.createElement("form");
    form.method = "post";
    form.action = action;
    const token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = document.querySelector("meta[name=csrf-token]").content;
    const button = document.createElement("button");
    button.textContent = "重试";
    form.append(token, button);
    return form;
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
      if (s.state === "failed") el.querySelector(".retry").replaceChildren(retryForm(el.dataset.retryUrl));
      else if (!LIVE.includes(s.state)) el.querySelector(".retry").replaceChildren();
    });
    if (finishedOnJobPage) window.location.reload();
  }
  setInterval(poll, 2000);
})();
