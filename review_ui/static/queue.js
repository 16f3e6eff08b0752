// The review queue: 全选 ticks (or clears) every report that can be confirmed from here.
(function () {
  "use strict";
  const all = document.getElementById("pick-all");
  if (!all) return;
  const boxes = Array.from(document.querySelectorAll("input[name=report]"));
  all.closest("label").hidden = false;  // without this script there is nothing to tick all with
  all.addEventListener("change", () => boxes.forEach((b) => { b.checked = all.checked; }));
  boxes.forEach((b) => b.addEventListener("change", () => {
    const ticked = boxes.filter((x) => x.checked).length;
    all.checked = ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }));
})();
