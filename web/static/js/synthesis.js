// The synthesis page's form: columns ordered by drag and drop (SortableJS), added and
// removed, and every change applied at once (the GET form is submitted: the page, its
// table and its download links follow). Without this module the form still works: the
// recordings' numbers are typed in order.

import Sortable from "../vendor/sortable-1.15.6.esm.js";

for (const form of document.querySelectorAll("[data-synthesis-form]")) {
  const list = form.querySelector("[data-columns]");
  const input = form.querySelector("[data-columns-input]");
  const add = form.querySelector("[data-add-column]");
  form.querySelector("[data-columns-text]").hidden = true;
  form.querySelector("[data-submit]").hidden = true;

  const apply = () => {
    // "," is "no column"; an empty value would mean "every recording".
    input.value = [...list.querySelectorAll("li[data-id]")].map((li) => li.dataset.id).join(",") || ",";
    form.requestSubmit();
  };
  // The pointer-driven drag (not the browser's native one): the same with a mouse, a pen or a finger.
  Sortable.create(list, { handle: ".code-handle", animation: 150, forceFallback: true, onEnd: apply });
  list.addEventListener("click", (event) => {
    const button = event.target.closest("[data-remove]");
    if (!button) return;
    button.closest("li").remove();
    apply();
  });
  if (add) {
    add.addEventListener("change", () => {
      if (!add.value) return;
      input.value = [...input.value.split(","), add.value].filter(Boolean).join(",");
      form.requestSubmit();
    });
  }
  for (const select of form.querySelectorAll("select[name]")) select.addEventListener("change", () => form.requestSubmit());
}
