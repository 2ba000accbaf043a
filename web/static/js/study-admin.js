// The study's administration page: a form shows only the fields its account choice needs
// (a new account asks for a name and an agreement of labels; "no account" asks nothing),
// an interview lists only the sessions of its counsellor, and a one-time password copies
// with one click. Without JavaScript every field shows and the server sorts it out.

function follow(form) {
  const fields = form.querySelectorAll("[data-new-only]");
  const accountFields = form.querySelector("[data-account-fields]");
  const update = () => {
    const chosen = form.querySelector('input[name="account"]:checked');
    const account = chosen ? chosen.value : "existing";
    for (const field of fields) field.hidden = account !== "new";
    if (accountFields) accountFields.hidden = account === "none";
    const username = form.elements.namedItem("username");
    if (username) username.required = account !== "none";
  };
  form.addEventListener("change", update);
  update();
}

function filterSessions(form) {
  const select = form.querySelector("[data-interview-counsellor]");
  if (!select) return;
  const update = () => {
    for (const label of form.querySelectorAll("label[data-counsellor]")) {
      const mine = select.value !== "" && label.dataset.counsellor === select.value;
      label.hidden = !mine;
      if (!mine) label.querySelector("input").checked = false;
    }
  };
  select.addEventListener("change", update);
  update();
}

for (const form of document.querySelectorAll("form[data-account-form]")) follow(form);
for (const form of document.querySelectorAll("form[data-interview-form]")) filterSessions(form);

for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(button.dataset.copy);
      button.textContent = button.dataset.copied;
    } catch {
      const code = button.parentElement.querySelector("code");
      if (code) window.getSelection().selectAllChildren(code);
    }
  });
}
