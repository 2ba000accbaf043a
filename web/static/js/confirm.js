// Forms with data-confirm ask before they are sent (deleting a recording, for instance).

for (const form of document.querySelectorAll("form[data-confirm]:not([data-job-action])")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}
