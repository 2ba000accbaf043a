"""The codebook editor page ("Livres de codes"): the trees as rendered, who may edit them."""

from html import unescape
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests import factories

HTML = {"accept": "text/html"}


class CodeTree(HTMLParser):
    """Each rendered code (`li.code-item`) outside <template>: its id, the `data-parent-id`
    of the list holding it, its codebook panel, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.items: list[tuple[int, int | None, int]] = []
        self.fields: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        in_template = any(t == "template" for t, _ in self.stack)
        if tag == "li" and "code-item" in found.get("class", "").split() and not in_template:
            parent = next(a for t, a in reversed(self.stack) if t == "ul")["data-parent-id"]
            panel = next(a for t, a in reversed(self.stack) if "data-book-panel" in a)
            self.items.append(
                (
                    int(found["data-code-id"]),
                    int(parent) if parent else None,
                    int(panel["data-book-panel"]),
                )
            )
        if "data-field" in found and not in_template:
            self.fields.append(found["data-field"])
        if tag not in {"input", "br", "meta", "link", "img", "hr"}:
            self.stack.append((tag, found))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break


def rendered(html: str) -> CodeTree:
    tree = CodeTree()
    tree.feed(html)
    return tree


def api_codes(client: TestClient, study_id: int) -> list[tuple[int, int | None, int]]:
    books: list[dict[str, Any]] = client.get(f"/api/v1/studies/{study_id}/codebooks").json()
    return [(c["id"], c["parent_id"], b["id"]) for b in books for c in b["codes"]]


def test_researcher_gets_the_four_codebooks_as_editable_trees(
    rclient: TestClient, study: dict[str, Any]
) -> None:
    sid = study["id"]
    page = rclient.get(f"/studies/{sid}/codebooks", headers=HTML)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    for name in ("Schèmes d'action", "Phases", "Principes à questionner", "Catégories d'analyse"):
        assert name in unescape(page.text), name
    assert 'role="tablist"' in page.text and page.text.count('role="tab"') == 4
    # Every code, under the list of its parent, in the codebook's depth-first order.
    tree = rendered(page.text)
    assert tree.items == api_codes(rclient, sid)
    categories = factories.codes_by_path(rclient, sid, "categories")
    assert len(categories) == 45
    cv = categories["ACCOMPAGNEMENT/Actions/CV"]
    assert (cv, categories["ACCOMPAGNEMENT/Actions"]) in {(i, p) for i, p, _ in tree.items}
    assert "Faire son CV, valoriser ses compétences" in page.text  # descriptions
    # Editable: fields, move buttons, add forms, the row model for the script.
    assert {"label", "color", "hotkey", "description"} <= set(tree.fields)
    assert {"label_en", "description_en"} <= set(tree.fields)  # English, optional
    assert 'value="Listen / rephrase" data-saved="Listen / rephrase" lang="en"' in page.text
    assert "Libellé en anglais (facultatif)" in page.text
    assert 'data-can-edit="true"' in page.text
    for text in ("Monter", "Descendre", "Rentrer", "Sortir", "Archiver", "Nouveau code"):
        assert text in page.text, text
    assert "<template data-code-template>" in page.text
    assert '<script type="module" src="/static/js/codebook-editor.js">' in page.text
    assert f'href="/studies/{sid}"' in page.text  # breadcrumbs back to the study


def test_codes_are_escaped_and_archived_ones_marked(
    rclient: TestClient, study: dict[str, Any]
) -> None:
    sid = study["id"]
    books = rclient.get(f"/api/v1/studies/{sid}/codebooks").json()
    phases = next(b for b in books if b["kind"] == "phases")
    added = rclient.post(
        f"/api/v1/codebooks/{phases['id']}/codes",
        json={"label": "<b>Clôture</b>", "description": 'Fin "officielle"', "hotkey": "c"},
    )
    assert added.status_code == 201, added.text
    archived = rclient.patch(f"/api/v1/codes/{added.json()['id']}", json={"archived": True})
    assert archived.status_code == 200, archived.text
    page = rclient.get(f"/studies/{sid}/codebooks", headers=HTML)
    assert "<b>Clôture</b>" not in page.text
    assert "&lt;b&gt;Clôture&lt;/b&gt;" in page.text
    assert f'class="code-item archived" data-code-id="{added.json()["id"]}"' in page.text
    assert "4 codes actifs · 1 archivé" in page.text


def test_counsellor_member_sees_the_codebooks_read_only(
    rclient: TestClient, engine: Engine, study: dict[str, Any]
) -> None:
    sid = study["id"]
    who, _ = factories.counsellor_member(engine, rclient, sid, "a8", "A8")
    factories.login(rclient, who)
    page = rclient.get(f"/studies/{sid}/codebooks", headers=HTML)
    assert page.status_code == 200
    assert "Consultation seule" in page.text
    assert 'data-can-edit="false"' in page.text
    tree = rendered(page.text)
    assert tree.items == api_codes(rclient, sid)
    assert tree.fields == []  # no field to edit
    for text in ("data-action", "<template", "Nouveau code", "Supprimer"):
        assert text not in page.text, text
    assert "Se présenter" in page.text and "ACCOMPAGNEMENT" in page.text
    assert '<span lang="en">Listen / rephrase</span>' in page.text  # English, read only


def test_strangers_and_unknown_studies(
    client: TestClient, engine: Engine, researcher: factories.Account
) -> None:
    anonymous = client.get("/studies/1/codebooks", headers=HTML, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/studies/1/codebooks"
    factories.login(client, researcher)
    sid = client.post("/api/v1/studies", json={"name": "Étude CEP"}).json()["id"]
    assert client.get("/studies/424242/codebooks", headers=HTML).status_code == 404
    assert client.get("/studies/99999999999/codebooks", headers=HTML).status_code == 422
    factories.login(client, factories.account(engine, "marc", "researcher"))
    hidden = client.get(f"/studies/{sid}/codebooks", headers=HTML)
    assert hidden.status_code == 404 and "Introuvable" in hidden.text
    # An admin sees every study, and may edit.
    factories.login(client, factories.account(engine, "root", "admin"))
    admin = client.get(f"/studies/{sid}/codebooks", headers=HTML)
    assert admin.status_code == 200 and 'data-can-edit="true"' in admin.text
