// Buttons that act on the processing job (<form data-job-action>, e.g. retry, cancel): POST
// to the JSON API (data-api), then reload the page; a refusal shows the server's message in
// place. Without JavaScript the form posts to the page route, which redirects back.

import { post } from "./api.js";

function bind(form) {
  const button = form.querySelector("button");
  const problem = form.querySelector("[data-job-error]");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    button.disabled = true;
    problem.hidden = true;
    try {
      await post(form.dataset.api || form.action, form.dataset.msgFailed);
    } catch (error) {
      problem.textContent = error.message;
      problem.hidden = false;
      button.disabled = false;
      return;
    }
    window.location.reload();
  });
}

for (const form of document.querySelectorAll("form[data-job-action]")) bind(form);
