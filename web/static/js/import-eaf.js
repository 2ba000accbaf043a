// The ELAN import page: the chosen file goes to the API for a preview (nothing is written);
// each tier gets a choice of layer (or, for a dependent tier, its parent's note or a field),
// each vocabulary a codebook, as the server proposes; "Importer" sends the file again with
// the mapping, and the page shows what was created and what was not, with the reason.

import { detailOf, tokenHeaders } from "./api.js";

const form = document.querySelector("[data-eaf-form]");

function word(name, values = {}) {
  const element = document.querySelector(`template[data-words]`).content.querySelector(
    `[data-word="${name}"]`,
  );
  let text = element ? element.textContent : name;
  for (const [key, value] of Object.entries(values)) text = text.replaceAll(`{${key}}`, String(value));
  return text;
}

function wordsOf(attribute, key) {
  const element = document
    .querySelector("template[data-words]")
    .content.querySelector(`[${attribute}="${key}"]`);
  return element ? element.textContent : key;
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.append(td);
  return td;
}

function choice(templateName) {
  return document.querySelector(`template[${templateName}]`).content.firstElementChild.cloneNode(true);
}

async function send(file, mapping) {
  const body = new FormData();
  body.append("file", file);
  if (mapping) body.append("mapping", JSON.stringify(mapping));
  let response;
  try {
    response = await fetch(`/api/v1/recordings/${form.dataset.recording}/import/eaf`, {
      method: "POST",
      headers: { Accept: "application/json", ...tokenHeaders() },
      credentials: "same-origin",
      body,
    });
  } catch {
    throw new Error(form.dataset.failed);
  }
  const text = await response.text();
  if (!response.ok) throw new Error(detailOf(text, `${form.dataset.failed} (${response.status})`));
  return JSON.parse(text);
}

function showError(message) {
  const error = form.querySelector("[data-error]");
  error.textContent = message;
  error.hidden = !message;
}

function setStatus(text) {
  form.querySelector("[data-status]").textContent = text;
}

function showPreview(preview) {
  const media = preview.media.map((m) => m.url.split(/[\\/]/).pop()).join(", ") || word("none");
  form.querySelector("[data-file-facts]").textContent = word("facts", {
    format: preview.format || "?",
    tiers: preview.tiers.length,
    media,
  });
  const tiers = form.querySelector("[data-tiers]");
  tiers.replaceChildren();
  for (const tier of preview.tiers) {
    const row = document.createElement("tr");
    row.dataset.tier = tier.id;
    const name = cell(row, tier.id, "tier-name");
    if (tier.parent) {
      const small = document.createElement("small");
      small.className = "muted";
      small.textContent = ` ${word("dependent", { parent: tier.parent })}`;
      name.append(document.createElement("br"), small);
    }
    const kind = [tier.linguistic_type, tier.constraint].filter(Boolean).join(" · ");
    const typeCell = cell(row, kind);
    if (tier.vocabulary) {
      const small = document.createElement("small");
      small.className = "muted";
      small.textContent = word("vocabulary", { name: tier.vocabulary });
      typeCell.append(document.createElement("br"), small);
    }
    cell(row, String(tier.annotations), "number");
    cell(row, tier.first_values.filter(Boolean).join(" · "), "values");
    const select = choice("data-layer-choice");
    select.dataset.tierChoice = tier.id;
    if (!tier.parent) select.querySelector("[data-dependent-only]").remove();
    select.value = tier.suggested || "";
    if (select.value !== (tier.suggested || "")) select.value = "";
    row.append(document.createElement("td"));
    row.lastElementChild.append(select);
    tiers.append(row);
  }
  const vocabularies = form.querySelector("[data-vocabularies]");
  vocabularies.replaceChildren();
  for (const vocabulary of preview.vocabularies) {
    const row = document.createElement("tr");
    row.dataset.vocabulary = vocabulary.id;
    const name = cell(row, vocabulary.id);
    if (vocabulary.description && vocabulary.description !== vocabulary.id) {
      const small = document.createElement("small");
      small.className = "muted";
      small.textContent = vocabulary.description;
      name.append(document.createElement("br"), small);
    }
    const shown = vocabulary.entries.slice(0, 8).map((e) => e.value);
    if (vocabulary.entries.length > shown.length) shown.push("…");
    cell(row, `${vocabulary.entries.length} : ${shown.join(" · ")}`, "values");
    const select = choice("data-book-choice");
    select.dataset.vocabularyChoice = vocabulary.id;
    select.value = vocabulary.suggested == null ? "" : String(vocabulary.suggested);
    row.append(document.createElement("td"));
    row.lastElementChild.append(select);
    vocabularies.append(row);
  }
  form.querySelector("[data-vocabularies-block]").hidden = preview.vocabularies.length === 0;
  form.querySelector("[data-preview]").hidden = false;
}

function mappingOf() {
  const tiers = {};
  for (const select of form.querySelectorAll("[data-tier-choice]")) {
    tiers[select.dataset.tierChoice] = select.value || null;
  }
  const vocabularies = {};
  for (const select of form.querySelectorAll("[data-vocabulary-choice]")) {
    vocabularies[select.dataset.vocabularyChoice] = select.value ? Number(select.value) : null;
  }
  const create = form.querySelector("[data-create-codes]");
  return { tiers, vocabularies, create_codes: Boolean(create && create.checked) };
}

function list(blockName, listName, items) {
  const block = document.querySelector(`[${blockName}]`);
  const target = document.querySelector(`[${listName}]`);
  target.replaceChildren(
    ...items.map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }),
  );
  block.hidden = items.length === 0;
}

function showResult(result) {
  const result_ = document.querySelector("[data-result]");
  const count = (name) => result_.querySelector(`[data-count="${name}"]`);
  count("annotations").textContent = String(result.annotations);
  count("by_layer").textContent =
    Object.entries(result.by_layer)
      .map(([layer, n]) => `${wordsOf("data-layer-label", layer)} : ${n}`)
      .join(" · ") || "—";
  count("codes_created").textContent = String(result.codes_created);
  count("attached").textContent = String(result.attached);
  list(
    "data-unmatched-block",
    "data-unmatched",
    result.unmatched.map((u) =>
      word("unmatched", { ...u, reason: wordsOf("data-reason", u.reason) }),
    ),
  );
  list(
    "data-authors-block",
    "data-authors",
    result.authors.filter((a) => !a.found).map((a) => a.name),
  );
  list(
    "data-skipped-block",
    "data-skipped",
    result.skipped_tiers.map((s) => word("skipped", { tier: s.tier, reason: wordsOf("data-reason", s.reason) })),
  );
  form.hidden = true;
  result_.hidden = false;
  result_.querySelector("h2").focus?.();
}

if (form) {
  const input = form.querySelector("[data-eaf-file]");
  const button = form.querySelector("[data-eaf-import]");
  input.addEventListener("change", async () => {
    showError("");
    form.querySelector("[data-preview]").hidden = true;
    const file = input.files[0];
    if (!file) return;
    setStatus(form.dataset.reading);
    try {
      showPreview(await send(file, null));
      setStatus("");
    } catch (error) {
      setStatus("");
      showError(error.message);
    }
  });
  button.addEventListener("click", async () => {
    showError("");
    const file = input.files[0];
    const mapping = mappingOf();
    if (!file) return;
    if (!Object.values(mapping.tiers).some(Boolean)) {
      showError(word("nothing"));
      return;
    }
    button.disabled = true;
    setStatus(form.dataset.importing);
    try {
      showResult(await send(file, mapping));
    } catch (error) {
      showError(error.message);
    } finally {
      setStatus("");
      button.disabled = false;
    }
  });
}
