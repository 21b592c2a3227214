// The web workspace's little script: everything works without it; it only helps.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // After a refused form, move the keyboard focus to the first field marked wrong.
  const invalid = document.querySelector("[aria-invalid=true]");
  if (invalid) invalid.focus();
  // Buttons that end something ask first: <button data-confirm="…">.
  document.querySelectorAll("button[data-confirm]").forEach((button) => {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  });
});
