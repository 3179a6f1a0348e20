// Copy buttons of the staff app. Without JavaScript the buttons stay hidden and the text is
// selectable; with it, a button[data-copy] copies the element it names and announces the
// outcome in the role=status element named by data-status.
(() => {
  "use strict";
  async function copy(source) {
    const text = "value" in source ? source.value : source.textContent;
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // No clipboard API (an insecure origin, say): select and copy the old way.
      source.focus();
      if (source.select) source.select();
      return document.execCommand("copy");
    }
  }
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      const status = document.getElementById(button.dataset.status);
      if (!source || !status) return;
      const done = await copy(source);
      status.textContent = "";
      // A fresh text each time, so a second click is announced too.
      window.setTimeout(() => {
        status.textContent = done ? button.dataset.copied : button.dataset.failed;
      }, 50);
    });
  }
})();
