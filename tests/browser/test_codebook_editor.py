"""The codebook editor in Chromium, on the demo study: every change reaches the server at
once, refusals show the server's message and the server's state, other pages are told; a
code's English label and description (and the annotator in English showing them)."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Dialog, Locator, Page, expect

from tests.browser.conftest import LiveServer, form_headers


def _login(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Nom d'utilisateur").fill(server.username)
    page.get_by_label("Mot de passe").fill(server.password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(f"{server.url}/studies")


def _open(page: Page, server: LiveServer, kind: str) -> Locator:
    """The editor at the tab of `kind`; that codebook's panel."""
    page.goto(f"{server.url}/studies/{server.study_id}/codebooks#{kind}")
    panel = page.locator(f'[data-book-panel][data-kind="{kind}"]')
    expect(panel).to_be_visible()
    return panel


def _book(page: Page, server: LiveServer, kind: str) -> dict[str, Any]:
    """The codebook of `kind` as the API holds it (read with the page's session)."""
    response = page.request.get(f"{server.url}/api/v1/studies/{server.study_id}/codebooks")
    assert response.ok, response.text()
    book: dict[str, Any] = next(b for b in response.json() if b["kind"] == kind)
    return book


def _code(page: Page, server: LiveServer, kind: str, label: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        c for c in _book(page, server, kind)["codes"] if c["label"] == label
    )
    return found


def _by_id(page: Page, server: LiveServer, kind: str, code_id: int) -> dict[str, Any]:
    found: dict[str, Any] = next(
        c for c in _book(page, server, kind)["codes"] if c["id"] == code_id
    )
    return found


def _eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """`check()`'s first true value, polled; the last value if none came in time."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _siblings(page: Page, server: LiveServer, kind: str, parent_id: int | None) -> list[str]:
    codes = _book(page, server, kind)["codes"]
    return [
        c["label"]
        for c in sorted(codes, key=lambda c: c["position"])
        if c["parent_id"] == parent_id
    ]


def _item(page: Page, code_id: int) -> Locator:
    return page.locator(f'li.code-item[data-code-id="{code_id}"]')


def _row(item: Locator, selector: str) -> Locator:
    """A control of the code's own row (not of its sub-codes)."""
    return item.locator(f":scope > .code-row {selector}")


def _drag(page: Page, handle: Locator, x: float, y: float) -> None:
    """Drag by `handle` to (x, y) as a hand does: press, move in small steps, release."""
    box = handle.bounding_box()
    assert box is not None
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0, y0 + 6, steps=3)
    steps = 30
    for step in range(1, steps + 1):
        page.mouse.move(x0 + (x - x0) * step / steps, y0 + 6 + (y - y0 - 6) * step / steps)
        page.wait_for_timeout(25)  # Sortable animates each swap; a hand is not faster
    page.wait_for_timeout(200)
    page.mouse.up()


def test_add_rename_recolour_describe_and_set_a_hotkey(page: Page, live_server: LiveServer) -> None:
    _login(page, live_server)
    panel = _open(page, live_server, "phases")
    status = page.locator("[data-save-status]")

    new_code = panel.get_by_label("Nouveau code", exact=True)
    new_code.fill("Clôture")
    new_code.press("Enter")
    expect(status).to_have_text("« Clôture » ajouté.")
    expect(new_code).to_have_value("")
    added = _code(page, live_server, "phases", "Clôture")
    assert added["parent_id"] is None and added["position"] == 4
    item = _item(page, added["id"])
    label = _row(item, ".code-label")
    expect(label).to_have_value("Clôture")
    expect(page.get_by_role("tab", name="Phases")).to_contain_text("5")

    label.fill("Clôture de la séance")
    label.press("Enter")
    assert _eventually(
        lambda: _by_id(page, live_server, "phases", added["id"])["label"] == "Clôture de la séance"
    )
    # A sibling already has this label: the server's message, and the server's label back.
    label.fill("Diagnostic")
    label.press("Enter")
    error = item.locator(":scope > [data-code-error]")
    expect(error).to_contain_text("Un code « Diagnostic » existe déjà à cet endroit")
    expect(_row(item, ".code-label")).to_have_value("Clôture de la séance")

    _row(item, ".code-color").fill("#aa3377")
    assert _eventually(
        lambda: _by_id(page, live_server, "phases", added["id"])["color"] == "#aa3377"
    )
    expect(error).to_be_hidden()  # a change that went through clears the message

    description = item.locator(":scope > .code-description")
    expect(description).to_be_hidden()  # empty: shown on demand
    _row(item, '[data-action="describe"]').click()
    expect(description).to_be_focused()
    description.fill("Synthèse et prochaines étapes")
    description.press("Tab")
    assert _eventually(
        lambda: (
            _by_id(page, live_server, "phases", added["id"])["description"]
            == "Synthèse et prochaines étapes"
        )
    )

    hotkey = _row(item, ".code-hotkey")
    hotkey.click()
    page.keyboard.press("c")
    assert _eventually(lambda: _by_id(page, live_server, "phases", added["id"])["hotkey"] == "c")
    # "1" is the hotkey of the scheme "Se présenter" (another codebook of the study).
    hotkey.click()
    page.keyboard.press("1")
    expect(error).to_contain_text("La touche « 1 » est déjà le raccourci du code « Se présenter »")
    expect(_row(item, ".code-hotkey")).to_have_value("c")
    assert _by_id(page, live_server, "phases", added["id"])["hotkey"] == "c"
    _row(item, ".code-hotkey").press("Backspace")
    assert _eventually(lambda: _by_id(page, live_server, "phases", added["id"])["hotkey"] is None)
    expect(error).to_be_hidden()

    page.reload()  # what the page shows after a reload is what was saved
    item = _item(page, added["id"])
    expect(_row(item, ".code-label")).to_have_value("Clôture de la séance")
    expect(_row(item, ".code-color")).to_have_value("#aa3377")
    expect(_row(item, ".code-hotkey")).to_have_value("")
    expect(item.locator(":scope > .code-description")).to_have_value(
        "Synthèse et prochaines étapes"
    )


def test_drag_to_reorder_and_to_nest_then_move_with_buttons(
    page: Page, live_server: LiveServer
) -> None:
    _login(page, live_server)
    panel = _open(page, live_server, "principles")
    first, second, third, fourth = _siblings(page, live_server, "principles", None)
    ids = {c["label"]: c["id"] for c in _book(page, live_server, "principles")["codes"]}

    # The fourth dragged above the first.
    target = _row(_item(page, ids[first]), ".code-label").bounding_box()
    assert target is not None
    _drag(page, _row(_item(page, ids[fourth]), ".code-handle"), target["x"] + 200, target["y"] + 3)
    expected = [fourth, first, second, third]
    assert _eventually(lambda: _siblings(page, live_server, "principles", None) == expected)
    labels = panel.locator("ul.code-root > li.code-item > .code-row .code-label")
    assert labels.evaluate_all("fields => fields.map((field) => field.value)") == expected

    # The third dropped into the (empty) sub-list of the second: now its sub-code.
    into = _item(page, ids[second]).locator(":scope > ul.code-children").bounding_box()
    assert into is not None
    _drag(
        page,
        _row(_item(page, ids[third]), ".code-handle"),
        into["x"] + 150,
        into["y"] + into["height"] / 2,
    )
    assert _eventually(
        lambda: _code(page, live_server, "principles", third)["parent_id"] == ids[second]
    )
    nested = _item(page, ids[second]).locator(
        f':scope > ul.code-children > [data-code-id="{ids[third]}"]'
    )
    expect(nested).to_have_count(1)

    # The same moves with the keyboard buttons: out, up, in.
    item = _item(page, ids[third])
    _row(item, '[data-action="outdent"]').click()  # "Sortir": right after its former parent
    assert _eventually(
        lambda: _siblings(page, live_server, "principles", None) == [fourth, first, second, third]
    )
    expect(_row(item, '[data-action="outdent"]')).to_have_attribute("aria-disabled", "true")
    _row(item, '[data-action="up"]').click()  # "Monter"
    assert _eventually(
        lambda: _siblings(page, live_server, "principles", None) == [fourth, first, third, second]
    )
    expect(_row(item, '[data-action="up"]')).to_be_focused()  # the keyboard user keeps their place
    page.keyboard.press("Enter")  # "Monter" again, from the keyboard
    assert _eventually(
        lambda: _siblings(page, live_server, "principles", None) == [fourth, third, first, second]
    )
    _row(item, '[data-action="indent"]').click()  # "Rentrer": under the code above
    assert _eventually(
        lambda: _code(page, live_server, "principles", third)["parent_id"] == ids[fourth]
    )
    assert _siblings(page, live_server, "principles", None) == [fourth, first, second]
    expect(_row(item, '[data-action="down"]')).to_have_attribute("aria-disabled", "true")

    page.reload()  # the page shows the tree the server holds
    expect(
        _item(page, ids[fourth]).locator(
            f':scope > ul.code-children > [data-code-id="{ids[third]}"]'
        )
    ).to_have_count(1)


def test_a_used_code_is_archived_rather_than_deleted(page: Page, live_server: LiveServer) -> None:
    _login(page, live_server)
    panel = _open(page, live_server, "schemes")
    questions: list[str] = []

    def accept(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    used = _code(page, live_server, "schemes", "Écouter / reformuler")
    item = _item(page, used["id"])
    _row(item, '[data-action="delete"]').click()
    error = item.locator(":scope > [data-code-error]")
    expect(error).to_contain_text("est utilisé par 1 annotation(s)")
    assert questions == [
        "Supprimer le code « Écouter / reformuler » ? Cette action est irréversible."
    ]
    assert _code(page, live_server, "schemes", "Écouter / reformuler")["archived"] is False

    error.get_by_role("button", name="Archiver plutôt").click()
    expect(item).to_have_class("code-item archived")
    expect(_row(item, "[data-archived-badge]")).to_be_visible()
    expect(_row(item, '[data-action="archive"]')).to_have_text("Désarchiver")
    expect(page.locator("[data-save-status]")).to_contain_text("« Écouter / reformuler » archivé")
    assert _eventually(
        lambda: _code(page, live_server, "schemes", "Écouter / reformuler")["archived"]
    )
    expect(panel.locator("[data-book-summary]")).to_have_text("11 codes actifs · 1 archivé")

    _row(item, '[data-action="archive"]').click()  # "Désarchiver": back, with its hotkey
    assert _eventually(
        lambda: not _code(page, live_server, "schemes", "Écouter / reformuler")["archived"]
    )
    expect(item).to_have_class("code-item")

    # A sub-code added under a scheme, then deleted: nothing uses it.
    parent = _item(page, _code(page, live_server, "schemes", "Se présenter")["id"])
    _row(parent, '[data-action="add-child"]').click()
    child_label = parent.get_by_label("Nouveau sous-code de « Se présenter »")
    child_label.fill("Présenter le cadre")
    child_label.press("Enter")
    child = _eventually(
        lambda: next(
            (
                c
                for c in _book(page, live_server, "schemes")["codes"]
                if c["label"] == "Présenter le cadre"
            ),
            None,
        )
    )
    assert child["parent_id"] == _code(page, live_server, "schemes", "Se présenter")["id"]
    expect(_item(page, child["id"])).to_be_visible()
    _row(_item(page, child["id"]), '[data-action="delete"]').click()
    expect(_item(page, child["id"])).to_have_count(0)
    assert _eventually(
        lambda: all(c["id"] != child["id"] for c in _book(page, live_server, "schemes")["codes"])
    )
    assert (
        questions[-1] == "Supprimer le code « Présenter le cadre » ? Cette action est irréversible."
    )


def test_other_pages_are_told_of_each_change(page: Page, live_server: LiveServer) -> None:
    _login(page, live_server)
    other = page.context.new_page()
    _open(other, live_server, "phases")  # a second editor, as another tab would be
    other.evaluate(
        """() => {
          window.heard = [];
          window.listener = new BroadcastChannel("autoconf.codebooks");
          window.listener.onmessage = (event) => window.heard.push(event.data);
        }"""
    )
    _open(page, live_server, "phases")
    code = _code(page, live_server, "phases", "1ère partie")
    label = _row(_item(page, code["id"]), ".code-label")
    label.fill("Première partie")
    label.press("Enter")
    other.wait_for_function("window.heard.length > 0")
    book_id = _book(page, live_server, "phases")["id"]
    assert other.evaluate("window.heard") == [
        {"study_id": live_server.study_id, "codebook_id": book_id}
    ]
    # The other editor reads the codebook again and shows the change.
    expect(_row(_item(other, code["id"]), ".code-label")).to_have_value("Première partie")
    expect(other.locator("[data-save-status]")).to_have_text(
        "Ce livre de codes a été modifié dans un autre onglet ; il est à jour."
    )


def test_a_code_in_english_too(page: Page, live_server: LiveServer, screenshots: Path) -> None:
    """A code's English label and description: a compact line under the code, shown when set
    (the defaults have English labels), else by "Anglais"; saved at once, emptied at will.
    The annotator of a user whose interface is in English shows the English labels."""
    _login(page, live_server)
    panel = _open(page, live_server, "schemes")
    listen = _item(page, _code(page, live_server, "schemes", "Écouter / reformuler")["id"])
    english = listen.locator(":scope > .code-english")
    expect(english).to_be_visible()
    label_en = english.get_by_label("Libellé en anglais (facultatif)")
    expect(label_en).to_have_value("Listen / rephrase")
    expect(english.locator("textarea")).to_be_hidden()  # no English description yet
    page.set_viewport_size({"width": 1366, "height": 900})
    panel.screenshot(path=str(screenshots / "codebook-english-schemes.png"))

    page.locator('[data-book-tab][data-kind="phases"]').click()
    panel = page.locator('[data-book-panel][data-kind="phases"]')
    new_code = panel.get_by_label("Nouveau code", exact=True)
    new_code.fill("Clôture")
    new_code.press("Enter")
    expect(page.locator("[data-save-status]")).to_have_text("« Clôture » ajouté.")
    added = _code(page, live_server, "phases", "Clôture")
    assert (added["label_en"], added["description_en"]) == ("", "")
    item = _item(page, added["id"])
    english = item.locator(":scope > .code-english")
    expect(english).to_be_hidden()  # none yet: shown on demand
    _row(item, '[data-action="english"]').click()
    label_en = english.get_by_label("Libellé en anglais (facultatif)")
    expect(label_en).to_be_focused()
    label_en.fill("  Closing\n ")
    label_en.press("Enter")
    assert _eventually(
        lambda: _by_id(page, live_server, "phases", added["id"])["label_en"] == "Closing"
    )
    expect(label_en).to_have_value("Closing")
    description_en = english.get_by_label("Description en anglais (facultative)")
    expect(description_en).to_be_visible()
    description_en.fill("Summary and next steps")
    description_en.press("Tab")
    assert _eventually(
        lambda: (
            _by_id(page, live_server, "phases", added["id"])["description_en"]
            == "Summary and next steps"
        )
    )
    assert _by_id(page, live_server, "phases", added["id"])["label"] == "Clôture"
    _row(item, '[data-action="describe"]').click()
    item.locator(":scope > .code-description").fill("Synthèse et prochaines étapes")
    label_en.click()  # leaving the description saves it
    assert _eventually(
        lambda: (
            _by_id(page, live_server, "phases", added["id"])["description"]
            == "Synthèse et prochaines étapes"
        )
    )
    panel.screenshot(path=str(screenshots / "codebook-english-phases.png"))

    # Emptied: no English label any more (optional), and Escape gives back the saved one.
    diagnostic = _item(page, _code(page, live_server, "phases", "Diagnostic")["id"])
    diagnostic_en = diagnostic.locator(':scope > .code-english [data-field="label_en"]')
    diagnostic_en.fill("Diag")
    diagnostic_en.press("Escape")
    expect(diagnostic_en).to_have_value("Diagnosis")
    diagnostic_en.fill("")
    diagnostic_en.press("Enter")
    assert _eventually(lambda: _code(page, live_server, "phases", "Diagnostic")["label_en"] == "")
    expect(item.locator(":scope > [data-code-error]")).to_be_hidden()

    page.reload()  # what the page shows after a reload is what was saved
    item = _item(page, added["id"])
    expect(item.locator(':scope > .code-english [data-field="label_en"]')).to_have_value("Closing")
    expect(item.locator(':scope > .code-english [data-field="description_en"]')).to_have_value(
        "Summary and next steps"
    )
    expect(diagnostic.locator(":scope > .code-english")).to_be_hidden()
    page.locator('[data-book-tab][data-kind="categories"]').click()
    categories = page.locator('[data-book-panel][data-kind="categories"]')
    expect(categories.get_by_label("Libellé en anglais (facultatif)").first).to_have_value(
        "SUPPORT"
    )
    categories.screenshot(path=str(screenshots / "codebook-english-categories.png"))

    # The annotator in English: the codes by their English labels.
    headers = form_headers(page)
    switched = page.request.post(
        f"{live_server.url}/me/language", form={"language": "en"}, headers=headers
    )
    assert switched.ok, switched.text()
    try:
        page.goto(f"{live_server.url}/studies/{live_server.study_id}")
        page.get_by_role("link", name="A8 - 1").first.click()
        page.wait_for_function("document.documentElement.dataset.annotatorReady === '1'")
        options = page.locator('select[data-filter="code"] option')
        labels = options.evaluate_all("nodes => nodes.map((node) => node.textContent.trim())")
        assert "Listen / rephrase" in labels and "Closing" in labels
        assert "Diagnostic" in labels  # no English label: the French one
        assert "Écouter / reformuler" not in labels
    finally:
        back = page.request.post(
            f"{live_server.url}/me/language", form={"language": "fr"}, headers=headers
        )
        assert back.ok, back.text()
