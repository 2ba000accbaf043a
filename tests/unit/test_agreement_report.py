"""The agreement report's rows and files, from a hand-built comparison: figures in words
(defined or not), the confusion matrix with its totals, the disagreements at `10’02`, and
the CSV, XLSX and HTML files written for a French or an English reader."""

import csv
import dataclasses
import io

import openpyxl
import pytest

from autoconf.schemes import agreement_files, agreement_report
from autoconf.schemes.agreement import NO_CODE, SINGLE_CATEGORY, Figure, of_slices
from autoconf.schemes.agreement_report import Coefficient, Percent, Seconds, Time
from autoconf.schemes.comparison import CodeFigures, Comparison, Disagreement, SegmentFigures
from autoconf.schemes.writers import Reader

LISTEN, ASK = "Écouter / reformuler", "Questionner / vérifier"
FRENCH, ENGLISH = Reader("fr"), Reader("en")


def _comparison() -> Comparison:
    """Two recordings laid end to end (7 + 3 slices of 1 s); "B" is the consensus."""
    a = [LISTEN] * 4 + [ASK] * 3 + [NO_CODE] * 3
    b = [LISTEN] * 3 + [ASK] * 4 + [ASK] * 2 + [NO_CODE]
    segments = {"overlap_threshold": 0.6}
    return Comparison(
        coders=(3, "consensus"),
        layer="schemes",
        recording_ids=[11, 12],
        duration_ms=10_000,
        sliced=of_slices(a, b, 1_000),
        segments=SegmentFigures(
            threshold=0.6,
            matched=2,
            same_code=1,
            different_code=1,
            only_a=0,
            only_b=1,
            kappa=Figure("segment_kappa", None, SINGLE_CATEGORY, segments),
            percent=Figure("segment_percent", 100 / 3, None, segments),
        ),
        u_alpha=Figure("u_alpha", 0.81, None, {"duration_ms": 10_000}),
        binary_u_alpha=Figure("binary_u_alpha", 0.7, None, {"duration_ms": 10_000}),
        cu_alpha=Figure("cu_alpha", -0.2, None, {"duration_ms": 10_000}),
        per_code=[
            CodeFigures(
                code=LISTEN,
                ms_a=4_000,
                ms_b=3_500,
                kappa=Figure("cohen_kappa", 0.78),
                alpha=Figure("krippendorff_alpha", None, SINGLE_CATEGORY),
                u_alpha=Figure("code_u_alpha", 0.8),
                matched=1,
                only_a=0,
                only_b=0,
            )
        ],
        disagreements=[
            Disagreement(11, 602_000, 603_500, [LISTEN], [ASK], [1], [2]),
            Disagreement(12, 1_000, 3_000, [NO_CODE], [ASK], [], [5]),
        ],
    )


def _report(language: str = "fr", name: str = "Claire") -> agreement_report.Report:
    return agreement_report.build(_comparison(), {3: name}, {11: "A8 - 1", 12: "A8 - 2"}, language)


def test_the_parameters_say_who_what_and_how() -> None:
    report = _report()
    assert report.title == "Accord entre Claire et Consensus"
    rows = report.section("parameters").rows
    assert rows == [
        ["Codeur A", "Claire"],
        ["Codeur B", "Consensus"],
        ["Couche", "Schèmes d'action"],
        ["Enregistrements", "A8 - 1, A8 - 2"],
        ["Durée totale", Time(10_000)],
        ["Longueur d'une tranche (s)", 1.0],
        ["Nombre de tranches", 10],
        ["Seuil de recouvrement des segments", 0.6],
    ]


def test_each_figure_has_its_value_or_why_not_a_reading_and_its_method() -> None:
    figures = {row[0]: row for row in _report().section("figures").rows}
    percent = figures["Accord observé (pourcentage)"]
    assert percent[1] == Percent(70.0) and percent[2] == "sans correction du hasard"
    assert percent[4] == "tranches de 1 s"
    kappa = figures["κ de Cohen"]
    assert isinstance(kappa[1], Coefficient) and str(kappa[2]).endswith("selon Landis & Koch")
    assert "Cohen (1960)" in str(kappa[3])
    assert figures["α de Krippendorff"][4] == "tranches de 1 s ; données nominales"
    undefined = figures["κ sur les segments"]
    assert undefined[1] == "non défini"
    assert str(undefined[2]).startswith("une seule catégorie sur toute la durée")
    assert undefined[4] == "seuil de recouvrement 0,6"
    assert figures["α u sur le continuum"][2] == "fiable selon Krippendorff (α ≥ 0,800)"
    assert str(figures["α binaire sur le continuum"][2]).startswith("conclusions provisoires")
    assert str(figures["α cu sur le continuum"][2]).startswith("insuffisant pour conclure")
    assert figures["α cu sur le continuum"][4] == "continuum de 0’10"
    assert figures["Segments appariés"][1] == 2
    assert figures["Segments seuls de Consensus"][1] == 1


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (-0.1, "moins que le hasard"),
        (0.0, "moins que le hasard"),
        (0.2, "accord léger"),
        (0.35, "accord passable"),
        (0.6, "accord modéré"),
        (0.75, "accord fort"),
        (0.81, "accord presque parfait"),
        (1.0, "accord presque parfait"),
    ],
)
def test_kappas_read_on_the_landis_and_koch_scale(value: float, level: str) -> None:
    assert agreement_report.reading(Figure("cohen_kappa", value)) == f"{level} selon Landis & Koch"


def test_per_code_confusion_and_disagreements() -> None:
    report = _report()
    per_code = report.section("per_code")
    assert per_code.header[1:3] == ["Durée (s), Claire", "Durée (s), Consensus"]
    assert per_code.rows == [
        [LISTEN, Seconds(4_000), Seconds(3_500), Coefficient(0.78), None, Coefficient(0.8), 1, 0, 0]
    ]
    confusion = report.section("confusion")
    assert confusion.header == ["Claire \\ Consensus", ASK, LISTEN, "(aucun code)", "Total"]
    assert confusion.rows == [
        [ASK, 3, 0, 0, 3],
        [LISTEN, 1, 3, 0, 4],
        ["(aucun code)", 2, 0, 1, 3],
        ["Total", 6, 3, 1, 10],
    ]
    disagreements = report.section("disagreements")
    assert disagreements.rows == [
        ["A8 - 1", Time(602_000), Time(603_500), Seconds(1_500), LISTEN, ASK],
        ["A8 - 2", Time(1_000), Time(3_000), Seconds(2_000), "(aucun code)", ASK],
    ]
    assert disagreements.links == {
        (0, 1): "/recordings/11#t=602000",
        (1, 1): "/recordings/12#t=1000",
    }
    shown = agreement_report.shown(disagreements, FRENCH)
    assert [cell.text for cell in shown[0]] == ["A8 - 1", "10’02", "10’03", "1,5", LISTEN, ASK]
    assert shown[0][1].link == "/recordings/11#t=602000" and shown[0][1].numeric
    assert agreement_report.numeric_columns(disagreements) == [
        False,
        True,
        True,
        True,
        False,
        False,
    ]


def test_the_headline_says_the_figures_in_sentences() -> None:
    lines = _report().headline
    assert lines[0] == (
        "Sur 10 tranches de 1 s (0’10 en tout), Claire et Consensus donnent le même code "
        "dans 70,0\u202f% des tranches."
    )
    assert lines[-1] == "2 passages de désaccord (3,5 s en tout)."


def test_de_is_elided_before_a_vowel_or_an_h() -> None:
    report = _report(name="Inès Martin")
    assert "sans vis-à-vis, 0 d'Inès Martin et 1 de Consensus." in report.headline[-2]
    figures = {row[0] for row in report.section("figures").rows}
    assert "Segments seuls d'Inès Martin" in figures and "Segments seuls de Consensus" in figures
    assert "en lignes le code d'Inès Martin, en colonnes celui de Consensus" in (
        report.section("confusion").note
    )
    assert report.section("disagreements").header[4] == "Codes d'Inès Martin"
    assert _report(name="Claire").section("disagreements").header[4] == "Codes de Claire"
    english = _report("en", name="Inès Martin")
    assert english.section("disagreements").header[4] == "Codes of Inès Martin"


def test_the_co_validation_pair_is_named_in_a_sentence() -> None:
    result = dataclasses.replace(_comparison(), coders=("prior", "covalidated"))
    names = {
        "prior": "Codage d'avant la co-validation",
        "covalidated": "Codage co-validé avec la conseillère",
    }
    report = agreement_report.build(result, names, {11: "A8 - 1", 12: "A8 - 2"}, "fr")
    assert report.title == (
        "Accord entre le codage d'avant la co-validation et le codage co-validé avec la conseillère"
    )
    assert report.headline[0].startswith("Sur 10 tranches de 1 s (0’10 en tout), le codage d'avant")
    figures = {row[0] for row in report.section("figures").rows}
    assert "Segments seuls du codage d'avant la co-validation" in figures


def test_the_alphas_get_their_subscripts_in_html() -> None:
    assert agreement_report.html_text("α u sur le continuum") == "α<sub>u</sub> sur le continuum"
    assert agreement_report.html_text("α cu, α binaire, α de Krippendorff") == (
        "α<sub>cu</sub>, α binaire, α de Krippendorff"
    )
    assert agreement_report.html_text("Écouter / reformuler <b>") == (
        "Écouter /<wbr> reformuler &lt;b&gt;"
    )


@pytest.mark.parametrize(
    ("cell", "french", "english", "in_file"),
    [
        (Coefficient(0.4444444), "0,444", "0.444", "0,444444"),
        (Percent(33.333333), "33,3\u202f%", "33.3%", "33,333333"),
        (Time(4_510_000), "1h15’10", "1h15’10", "1h15’10"),
        (Seconds(2_500), "2,5", "2.5", "2,5"),
        (Seconds(15_298), "15,3", "15.3", "15,298"),  # one decimal to read, all in a file
        (Seconds(16_120), "16,1", "16.1", "16,12"),
        (Seconds(0), "0,0", "0.0", "0"),
        (None, "—", "—", ""),
        (7, "7", "7", "7"),
    ],
)
def test_cells_read_as_the_reader_writes(
    cell: agreement_report.Cell, french: str, english: str, in_file: str
) -> None:
    assert agreement_report.display(cell, FRENCH) == french
    assert agreement_report.display(cell, ENGLISH) == english
    assert agreement_report.precise(cell, FRENCH) == in_file


def test_the_csv_puts_the_sections_one_after_another() -> None:
    report = _report(name="=HYPERLINK(1)")
    content = agreement_files.to_csv(report, FRENCH).decode()
    assert content.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(content[1:]), delimiter=";"))
    assert lines[0] == ["Accord entre =HYPERLINK(1) et Consensus"]
    titles = [lines[i + 1][0] for i, line in enumerate(lines) if not line]
    assert titles == [
        "Paramètres",
        "Indices d'accord",
        "Par code",
        "Matrice de confusion",
        "Désaccords",
    ]
    assert ["Codeur A", "'=HYPERLINK(1)"] in lines  # never a formula in a spreadsheet
    assert ["A8 - 1", "10’02", "10’03", "1,5", LISTEN, ASK] in lines
    english = agreement_files.to_csv(_report("en"), ENGLISH).decode()
    assert "A8 - 1,10’02,10’03,1.5," in english


def test_the_xlsx_has_one_sheet_per_section_with_numbers() -> None:
    content = agreement_files.to_xlsx(_report(name="=cmd|x"), FRENCH)
    book = openpyxl.load_workbook(io.BytesIO(content))
    assert book.sheetnames == [
        "Paramètres",
        "Indices d'accord",
        "Par code",
        "Matrice de confusion",
        "Désaccords",
    ]
    parameters = book["Paramètres"]
    assert parameters["B2"].value == "'=cmd|x" and parameters["B7"].value == 1
    figures = book["Indices d'accord"]
    assert figures["B2"].value == pytest.approx(70.0) and figures["B2"].number_format == "0.0"
    assert figures["B3"].number_format == "0.000"
    disagreements = list(book["Désaccords"].iter_rows(values_only=True))
    assert disagreements[1] == ("A8 - 1", "10’02", "10’03", 1.5, LISTEN, ASK)
    assert list(book["Par code"].iter_rows(values_only=True))[1][4] is None  # not defined


def test_the_html_document_escapes_and_links_to_the_player() -> None:
    content = agreement_files.to_html(
        _report(name="<script>x</script>"), FRENCH, "https://autoconf.example"
    ).decode()
    assert "<script>" not in content and "&lt;script&gt;x&lt;/script&gt;" in content
    assert '<a href="https://autoconf.example/recordings/11#t=602000">10’02</a>' in content
    assert '<td class="num">0,700</td>' in content  # the binary alpha, three decimals
    assert "<td>α<sub>cu</sub> sur le continuum</td>" in content
    assert content.count("<table>") == 5 and "<li>2 passages de désaccord" in content
