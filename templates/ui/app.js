// Switchyard console: the only script. Pages work without it; it adds copy buttons and live
// previews.
"use strict";
document.querySelectorAll("[data-copy]").forEach((button) => {
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const status = document.querySelector(".copy-status");
  const say = (text) => { if (status) status.textContent = text; };
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      say("Copied to the clipboard.");
    } catch (_) {
      // No clipboard access (e.g. plain HTTP on another host): select it for Ctrl+C instead.
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      say("Selected: press Ctrl+C (⌘C) to copy.");
    }
  });
});
// The schedule form's next due times, when an answer carries them (other forms' do not).
const showDueTimes = (due) => {
  const list = document.getElementById("due-times");
  if (!list || !Array.isArray(due)) return;
  list.replaceChildren(...due.map((time) => {
    const item = document.createElement("li");
    const stamp = document.createElement("time");
    stamp.dateTime = time.utc;
    stamp.textContent = time.local;
    item.append(stamp);
    return item;
  }));
};
// The webhook and schedule forms' live preview: as the form changes (debounced), it is posted
// to the preview endpoint, which answers what it would send; only the latest answer is shown.
document.querySelectorAll("form[data-preview]").forEach((form) => {
  const output = document.getElementById("preview-output");
  const status = document.getElementById("preview-status");
  if (!output || !status) return;
  let timer = null;
  let latest = 0;
  const refresh = async () => {
    const asked = ++latest;
    const body = new URLSearchParams(new FormData(form));
    try {
      const response = await fetch(form.dataset.preview, {
        method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (asked !== latest) return;
      if (!response.ok) { status.textContent = `No preview (HTTP ${response.status}).`; return; }
      const answer = await response.json();
      showDueTimes(answer.due);
      if (answer.text !== null) {
        output.textContent = answer.text;
        status.textContent = "Updated as you type.";
      } else {
        status.textContent = answer.error ? answer.error.message : "No preview.";
      }
    } catch (_) {
      if (asked === latest) status.textContent = "No preview: the server cannot be reached.";
    }
  };
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
});
