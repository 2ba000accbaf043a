"""The synthesis page in Debian's Chromium: columns reordered by dragging, removed and added,
the value changed; the table and its download links follow."""

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, form_headers
from tests.browser.test_pages import _login


def _headers(page: Page) -> list[str]:
    return [text.strip() for text in page.locator(".synthesis-table thead th").all_inner_texts()][
        1:
    ]


def test_columns_dragged_removed_added_and_the_value_changed(
    page: Page, live_server: LiveServer
) -> None:
    _login(page, live_server)
    for code in ("S2", "S3"):
        created = page.request.post(
            f"{live_server.url}/api/v1/studies/{live_server.study_id}/recordings",
            multipart={
                "code": code,
                "file": {"name": "s.mp4", "mimeType": "video/mp4", "buffer": b"not media"},
            },
            headers=form_headers(page),
        )
        assert created.ok, created.text()
    page.goto(f"{live_server.url}/studies/{live_server.study_id}")
    page.get_by_role("link", name="Synthèse des schèmes d'action").click()
    expect(page.locator(".synthesis-table")).to_be_visible()
    assert _headers(page) == ["A8 - 1", "S2", "S3"]
    assert page.locator(".synthesis-table tbody td", has_text="X").count() > 0

    # Drag S3 before A8 - 1 by its handle: the page reloads with the new order. The page's
    # module hides the typed list of numbers in the same step as it makes the list sortable:
    # pressing the handle before that selects text instead.
    expect(page.locator("[data-columns-text]")).to_be_hidden()
    handle = page.locator('[data-columns] li:has-text("S3") .code-handle')
    target = page.locator('[data-columns] li:has-text("A8 - 1")')
    source_box, target_box = handle.bounding_box(), target.bounding_box()
    assert source_box and target_box
    page.mouse.move(source_box["x"] + 4, source_box["y"] + 8)
    page.mouse.down()
    for step in range(1, 11):
        x = source_box["x"] + (target_box["x"] + 5 - source_box["x"]) * step / 10
        page.mouse.move(x, target_box["y"] + 8)
    # SortableJS moves the item on its own clock (every 50 ms): release once it has moved, as a
    # person who watches the list does.
    page.wait_for_function(
        "document.querySelector('[data-columns] li[data-id]').textContent.includes('S3')"
    )
    page.mouse.up()
    second = "document.querySelector('.synthesis-table thead th:nth-child(2)')"
    page.wait_for_function(f"{second}.textContent.trim() === 'S3'")
    assert _headers(page) == ["S3", "A8 - 1", "S2"]
    assert "recordings=" in page.url

    # Remove S2, then add it back from the list.
    page.locator('[data-columns] li:has-text("S2") [data-remove]').click()
    page.wait_for_function(
        "!document.querySelector('.synthesis-table thead').textContent.includes('S2')"
    )
    assert _headers(page) == ["S3", "A8 - 1"]
    page.locator("[data-add-column]").select_option(label="S2")
    page.wait_for_function(
        "document.querySelector('.synthesis-table thead').textContent.includes('S2')"
    )
    assert _headers(page) == ["S3", "A8 - 1", "S2"]

    # Another value: numbers of segments; the CSV link carries the same choice.
    page.locator("[data-synthesis-form] select[name=value]").select_option("count")
    page.wait_for_url("**value=count**")
    first_counts = page.locator(".synthesis-table tbody tr").first.locator("td").all_inner_texts()
    assert first_counts[0] == "0" and first_counts[1].isdigit() and int(first_counts[1]) >= 1
    link = page.locator("a", has_text="CSV").first.get_attribute("href") or ""
    assert "value=count" in link and "format=csv" in link
    csv = page.request.get(f"{live_server.url}{link.replace('&amp;', '&')}")
    # For a French spreadsheet: a BOM, then fields between semicolons.
    assert csv.ok and csv.body().startswith(b"\xef\xbb\xbf")
    assert csv.body().decode("utf-8-sig").splitlines()[0] == "Schèmes d'action;S3;A8 - 1;S2"
