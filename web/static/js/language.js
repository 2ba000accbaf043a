// The header's language switch applies a choice at once; without JavaScript, its button does.

for (const form of document.querySelectorAll("form[data-language-switch]")) {
  const select = form.querySelector("select");
  if (!select) continue;
  const button = form.querySelector("[data-language-submit]");
  if (button) button.hidden = true;
  select.addEventListener("change", () => form.requestSubmit());
}
