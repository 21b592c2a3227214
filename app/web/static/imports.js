// The import job page: polls the job's status every two seconds while it runs, updates the
// progress, and reloads the page once the job has ended (to show the row report). Without
// script, the page's own link refreshes it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("import-progress");
  if (!box || box.dataset.finished === "true") return;
  const labels = JSON.parse(box.dataset.labels);
  const poll = async () => {
    try {
      const response = await fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const job = await response.json();
        if (job.status === "done" || job.status === "failed") {
          window.location.reload();
          return;
        }
        document.getElementById("import-status").textContent = labels[job.status] || job.status;
        document.getElementById("import-processed").textContent = job.processed_rows;
        document.getElementById("import-total").textContent = job.total_rows === null ? "?" : job.total_rows;
        document.getElementById("import-bar").value = job.progress;
      }
    } catch (error) {
      // a network hiccup: try again at the next tick
    }
    window.setTimeout(poll, 2000);
  };
  window.setTimeout(poll, 1000);
});
