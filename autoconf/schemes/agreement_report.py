"""The agreement report (issue 18): a `Comparison` as the tables researchers publish, in the
reader's language, computed once and written by `agreement_files` (CSV, XLSX, HTML) or shown
by the page.

Five sections: the parameters (coders, layer, recordings, total duration, slice length,
overlap threshold), the figures (each with its value, or "non défini" and why, a reading in
words, its method and parameters), per code, the confusion matrix of the slices, and the
stretches where the codings differ (times as researchers write them, `10’02`). Cells keep
what they are (a coefficient, a percentage, a time, seconds), so that a spreadsheet gets
numbers, a page three decimals and a CSV the full value.

Krippendorff's unitizing alphas are written `α u`, `α cu` in text (files); `html_text` gives
them their subscripts on a page.
"""

import math
import re
from collections.abc import Mapping
from contextvars import copy_context
from dataclasses import dataclass, field
from html import escape

from sqlmodel import Session, col, select

from autoconf.i18n import N_, de, ngettext, set_language
from autoconf.i18n import gettext as _
from autoconf.models import Annotation, Recording
from autoconf.schemes import covalidation
from autoconf.schemes.agreement import EMPTY, NO_CODE, SINGLE_CATEGORY, Figure
from autoconf.schemes.comparison import CONSENSUS, Coder, Comparison
from autoconf.schemes.rounds import ROUND_LAYERS, coders_among
from autoconf.schemes.timecode import format_ms
from autoconf.schemes.writers import Reader, number_text


@dataclass(frozen=True)
class Coefficient:
    """A kappa or an alpha: three decimals to read, every decimal in a file."""

    value: float


@dataclass(frozen=True)
class Percent:
    """A percentage (0 to 100): one decimal to read."""

    value: float


@dataclass(frozen=True)
class Time:
    """A time in a recording, written `10’02`."""

    ms: int


@dataclass(frozen=True)
class Seconds:
    """A length, in seconds: one decimal to read (`2,5`), every decimal in a file."""

    ms: int


# A number means a count (int) or a plain value (float); None: not defined.
Cell = str | int | float | Coefficient | Percent | Time | Seconds | None

PARAMETERS, FIGURES, PER_CODE, CONFUSION, DISAGREEMENTS = (
    "parameters",
    "figures",
    "per_code",
    "confusion",
    "disagreements",
)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    header: list[str]
    rows: list[list[Cell]]
    note: str = ""
    # Where a cell links to (a disagreement's start: the recording there), by (row, column).
    links: dict[tuple[int, int], str] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    title: str
    language: str
    headline: list[str]  # the main figures in sentences
    sections: list[Section]

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)


LAYER_LABELS = {
    "schemes": N_("Schèmes d'action"),
    "phases": N_("Phases"),
    "categories": N_("Catégories"),
    "consensus": N_("Consensus"),
}
# Landis & Koch (1977) for the kappas: the upper bound of each level.
_KAPPA_LEVELS = (
    (0.0, N_("moins que le hasard")),
    (0.2, N_("accord léger")),
    (0.4, N_("accord passable")),
    (0.6, N_("accord modéré")),
    (0.8, N_("accord fort")),
    (math.inf, N_("accord presque parfait")),
)
_KAPPAS = ("cohen_kappa", "segment_kappa")
_ALPHAS = ("krippendorff_alpha", "u_alpha", "binary_u_alpha", "cu_alpha", "code_u_alpha")


def researchers_who_coded(session: Session, study_id: int) -> list[int]:
    """The study's coders (`rounds.coders_among`) with a segment on a coding layer (the
    consensus apart)."""
    authors = session.exec(
        select(Annotation.author_id)
        .join(Recording, col(Recording.id) == Annotation.recording_id)
        .where(
            Recording.study_id == study_id,
            col(Annotation.layer).in_(ROUND_LAYERS),
            col(Annotation.end_ms).is_not(None),
        )
        .distinct()
    ).all()
    return sorted(coders_among(session, study_id, (a for a in authors if a is not None)))


def build(
    result: Comparison, names: Mapping[Coder, str], codes: Mapping[int, str], language: str
) -> Report:
    """The report of `result` in `language`: `names` the coders' (the consensus included),
    `codes` the recordings' by id."""

    def run() -> Report:
        set_language(language)
        return _Builder(result, names, codes, Reader(language)).report()

    return copy_context().run(run)


def code_label(code: str) -> str:
    """A code's path, or "no code" in the reader's language."""
    return _("(aucun code)") if code == NO_CODE else code


def reading(figure: Figure) -> str:
    """What a figure says in words, or why it is undefined."""
    if figure.value is None:
        if figure.reason == SINGLE_CATEGORY:
            return _(
                "une seule catégorie sur toute la durée (les deux codages pareils partout) : "
                "l'accord attendu par hasard est total"
            )
        if figure.reason == EMPTY:
            return _("rien à comparer")
        return figure.reason or ""
    value = figure.value
    if figure.method in _KAPPAS:
        level = next(label for bound, label in _KAPPA_LEVELS if value <= bound)
        return _("%(level)s selon Landis & Koch") % {"level": _(level)}
    if figure.method in _ALPHAS:
        if value >= 0.8:
            return _("fiable selon Krippendorff (α ≥ 0,800)")
        if value >= 0.667:
            return _("conclusions provisoires seulement selon Krippendorff (0,667 ≤ α < 0,800)")
        return _("insuffisant pour conclure selon Krippendorff (α < 0,667)")
    if figure.method in ("percent", "segment_percent"):
        return _("sans correction du hasard")
    return ""


def display(cell: Cell, reader: Reader) -> str:
    """A cell to read (a page, the HTML document): coefficients with three decimals."""
    if cell is None:
        return "—"
    if isinstance(cell, Coefficient):
        return _decimal(f"{cell.value:.3f}", reader)
    if isinstance(cell, Percent):
        text = _decimal(f"{cell.value:.1f}", reader)
        return text + "\u202f%" if reader.french else text + "%"
    if isinstance(cell, Seconds):
        return _decimal(f"{cell.ms / 1000:.1f}", reader)
    return precise(cell, reader)


_SUBSCRIPT = re.compile(r"α (u|cu)\b")


def html_text(text: str) -> str:
    """`text` as HTML: escaped, the unitizing alphas with their subscripts (`α u` ->
    `α<sub>u</sub>`), a line allowed to break after a slash (`Écouter/reformuler`)."""
    return _SUBSCRIPT.sub(r"α<sub>\1</sub>", escape(text).replace("/", "/<wbr>"))


@dataclass(frozen=True)
class Shown:
    """A cell as a page or the HTML document shows it."""

    text: str
    numeric: bool  # aligned on the right
    link: str = ""


def shown(section: Section, reader: Reader) -> list[list[Shown]]:
    """The section's rows to read."""
    return [
        [
            Shown(
                display(cell, reader),
                cell is not None and not isinstance(cell, str),
                section.links.get((r, c), ""),
            )
            for c, cell in enumerate(row)
        ]
        for r, row in enumerate(section.rows)
    ]


def numeric_columns(section: Section) -> list[bool]:
    """Which columns hold numbers (aligned on the right), the first apart."""
    return [
        index > 0 and any(not isinstance(row[index], str | None) for row in section.rows)
        for index in range(len(section.header))
    ]


def precise(cell: Cell, reader: Reader) -> str:
    """A cell in a data file (CSV): every decimal that counts, the reader's decimal mark."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, Coefficient | Percent):
        return number_text(float(cell.value), reader)
    if isinstance(cell, Time):
        return format_ms(cell.ms)
    if isinstance(cell, Seconds):
        return number_text(cell.ms / 1000, reader)
    return number_text(cell, reader)


def _decimal(text: str, reader: Reader) -> str:
    return text.replace(".", ",") if reader.french else text


class _Builder:
    def __init__(
        self,
        result: Comparison,
        names: Mapping[Coder, str],
        codes: Mapping[int, str],
        reader: Reader,
    ) -> None:
        self.result, self.codes, self.reader = result, codes, reader
        self.a, self.b = (self._name(names, coder) for coder in result.coders)

    @staticmethod
    def _name(names: Mapping[Coder, str], coder: Coder) -> str:
        if coder == CONSENSUS:
            return names.get(coder) or _("Consensus")
        if isinstance(coder, str):
            return names.get(coder) or coder
        return names.get(coder) or _("utilisateur n° %(id)s") % {"id": coder}

    def report(self) -> Report:
        return Report(
            title=_("Accord entre %(a)s et %(b)s") % {"a": self.phrase(0), "b": self.phrase(1)},
            language=self.reader.language,
            headline=self.headline(),
            sections=[
                self.parameters(),
                self.figures(),
                self.per_code(),
                self.confusion(),
                self.disagreements(),
            ],
        )

    def phrase(self, index: int) -> str:
        """The coder in a sentence: the co-validation's codings with an article ("le codage
        d'avant la co-validation"), a person or the consensus by their name."""
        name = (self.a, self.b)[index]
        if self.result.coders[index] in covalidation.PSEUDO_CODERS:
            return _("le %(coding)s") % {"coding": name[:1].lower() + name[1:]}
        return name

    def of(self, index: int) -> str:
        """The coder after "de": "du codage d'avant la co-validation", "d'Inès Martin"."""
        name = (self.a, self.b)[index]
        if self.result.coders[index] in covalidation.PSEUDO_CODERS:
            return _("du %(coding)s") % {"coding": name[:1].lower() + name[1:]}
        return de(name)

    def number(self, value: float) -> str:
        return number_text(float(value), self.reader)

    def headline(self) -> list[str]:
        result, sliced = self.result, self.result.sliced
        lines = []
        if sliced.percent.value is not None:
            lines.append(
                _(
                    "Sur %(slices)s tranches de %(slice)s s (%(duration)s en tout), %(a)s et "
                    "%(b)s donnent le même code dans %(percent)s des tranches."
                )
                % {
                    "slices": sliced.slices,
                    "slice": self.number(sliced.slice_ms / 1000),
                    "duration": format_ms(result.duration_ms),
                    "a": self.phrase(0),
                    "b": self.phrase(1),
                    "percent": display(Percent(sliced.percent.value), self.reader),
                }
            )
        for label, figure in (
            (_("κ de Cohen"), sliced.kappa),
            (_("α de Krippendorff"), sliced.alpha),
            (_("α u sur le continuum"), result.u_alpha),
        ):
            lines.append(
                _("%(figure)s : %(value)s — %(reading)s.")
                % {
                    "figure": label,
                    "value": display(self.value(figure), self.reader),
                    "reading": reading(figure),
                }
            )
        segments = result.segments
        lines.append(
            _(
                "Segments : %(matched)s paires appariées (dont %(same)s de même code) ; "
                "sans vis-à-vis, %(only_a)s %(of_a)s et %(only_b)s %(of_b)s."
            )
            % {
                "matched": segments.matched,
                "same": segments.same_code,
                "only_a": segments.only_a,
                "only_b": segments.only_b,
                "of_a": self.of(0),
                "of_b": self.of(1),
            }
        )
        count = len(result.disagreements)
        seconds = Seconds(sum(d.end_ms - d.start_ms for d in result.disagreements))
        lines.append(
            ngettext(
                "%(count)s passage de désaccord (%(seconds)s s en tout).",
                "%(count)s passages de désaccord (%(seconds)s s en tout).",
                count,
            )
            % {"count": count, "seconds": display(seconds, self.reader)}
        )
        return lines

    def value(self, figure: Figure) -> Cell:
        if figure.value is None:
            return _("non défini")
        if figure.method in ("percent", "segment_percent"):
            return Percent(figure.value)
        return Coefficient(figure.value)

    def parameters(self) -> Section:
        result = self.result
        layer = LAYER_LABELS.get(result.layer)
        recordings = result.recording_ids
        rows: list[list[Cell]] = [
            [_("Codeur A"), self.a],
            [_("Codeur B"), self.b],
            [_("Couche"), _(layer) if layer else result.layer],
            [_("Enregistrements"), ", ".join(self.codes.get(i, str(i)) for i in recordings)],
            [_("Durée totale"), Time(result.duration_ms)],
            # as typed (`0,25`), not rounded to a tenth as the lengths of the tables
            [_("Longueur d'une tranche (s)"), result.sliced.slice_ms / 1000],
            [_("Nombre de tranches"), result.sliced.slices],
            [_("Seuil de recouvrement des segments"), result.segments.threshold],
        ]
        note = _(
            "Le consensus est le codage convenu (couche « Consensus »). Plusieurs "
            "enregistrements sont mis bout à bout ; une tranche ne chevauche jamais deux "
            "enregistrements."
        )
        if set(result.coders) == {covalidation.PRIOR, covalidation.COVALIDATED}:
            note += " " + _(
                "Ces deux codages ne portent que sur les segments montrés en co-validation "
                "qui ont reçu une réponse : ailleurs, ils sont vides tous les deux et comptent "
                "comme un accord sur « aucun code » dans les tranches. L'accord sur les "
                "segments, réponse par réponse, est le plus parlant."
            )
        return Section(PARAMETERS, _("Paramètres"), [_("Paramètre"), _("Valeur")], rows, note)

    def figures(self) -> Section:
        result, sliced, segments = self.result, self.result.sliced, self.result.segments
        threshold = self.parameters_text({"overlap_threshold": segments.threshold})
        matching = _(
            "Appariement un à un des segments, comme ELAN : recouvrement / étendue totale "
            "au moins égal au seuil, les paires de même code d'abord"
        )
        rows: list[list[Cell]] = [
            self.figure_row(
                _("Accord observé (pourcentage)"),
                sliced.percent,
                _(
                    "Part des tranches où les deux codages ont le même code ; chaque tranche "
                    "prend le code qui la couvre le plus, « aucun code » compris"
                ),
            ),
            self.figure_row(
                _("κ de Cohen"),
                sliced.kappa,
                _("κ de Cohen (1960) sur les tranches, corrigé du hasard"),
            ),
            self.figure_row(
                _("α de Krippendorff"),
                sliced.alpha,
                _("α de Krippendorff pour données nominales, sur les tranches"),
            ),
            [_("Segments appariés"), segments.matched, "", matching, threshold],
            [_("… de même code"), segments.same_code, "", matching, threshold],
            [_("… de codes différents"), segments.different_code, "", matching, threshold],
            [self.alone(0), segments.only_a, "", matching, threshold],
            [self.alone(1), segments.only_b, "", matching, threshold],
            self.figure_row(
                _("Accord sur les segments (pourcentage)"),
                segments.percent,
                _("Part des paires de même code parmi les paires et les segments seuls"),
            ),
            self.figure_row(
                _("κ sur les segments"),
                segments.kappa,
                _(
                    "κ de Cohen sur les paires et les segments seuls (« kappa modifié » "
                    "d'ELAN, Holle & Rein)"
                ),
            ),
            self.figure_row(
                _("α u sur le continuum"),
                result.u_alpha,
                _(
                    "α u de Krippendorff (2016) à la milliseconde : chaque code, et le temps "
                    "sans code"
                ),
            ),
            self.figure_row(
                _("α binaire sur le continuum"),
                result.binary_u_alpha,
                _("Accord sur l'emplacement des passages codés, quel que soit le code"),
            ),
            self.figure_row(
                _("α cu sur le continuum"),
                result.cu_alpha,
                _("Accord sur le code, là où les deux codages ont un code"),
            ),
        ]
        header = [_("Indice"), _("Valeur"), _("Interprétation"), _("Méthode"), _("Paramètres")]
        return Section(FIGURES, _("Indices d'accord"), header, rows)

    def alone(self, index: int) -> str:
        return _("Segments seuls %(of_coder)s") % {"of_coder": self.of(index)}

    def figure_row(self, label: str, figure: Figure, method: str) -> list[Cell]:
        return [
            label,
            self.value(figure),
            reading(figure),
            method,
            self.parameters_text(figure.parameters),
        ]

    def parameters_text(self, parameters: Mapping[str, object]) -> str:
        parts = []
        for key, value in parameters.items():
            if key == "slice_ms" and isinstance(value, int):
                seconds = self.number(value / 1000)
                parts.append(_("tranches de %(seconds)s s") % {"seconds": seconds})
            elif key == "overlap_threshold" and isinstance(value, int | float):
                threshold = self.number(value)
                parts.append(_("seuil de recouvrement %(threshold)s") % {"threshold": threshold})
            elif key == "duration_ms" and isinstance(value, int):
                parts.append(_("continuum de %(duration)s") % {"duration": format_ms(value)})
            elif key == "level_of_measurement":
                parts.append(_("données nominales"))
        return " ; ".join(parts) if self.reader.french else "; ".join(parts)

    def per_code(self) -> Section:
        header = [
            _("Code"),
            _("Durée (s), %(coder)s") % {"coder": self.a},
            _("Durée (s), %(coder)s") % {"coder": self.b},
            "κ",
            "α",
            "α u",
            _("Segments appariés"),
            self.alone(0),
            self.alone(1),
        ]
        rows: list[list[Cell]] = [
            [
                code.code,
                Seconds(code.ms_a),
                Seconds(code.ms_b),
                self.coefficient(code.kappa),
                self.coefficient(code.alpha),
                self.coefficient(code.u_alpha),
                code.matched,
                code.only_a,
                code.only_b,
            ]
            for code in self.result.per_code
        ]
        note = _(
            "Chaque code contre tout le reste : κ et α sur les tranches, α u sur le continuum "
            "(vide : non défini, une seule catégorie). Segments appariés avec ce code chez les "
            "deux ; seuls : sans vis-à-vis, ou appariés à un autre code."
        )
        return Section(PER_CODE, _("Par code"), header, rows, note)

    @staticmethod
    def coefficient(figure: Figure) -> Cell:
        return None if figure.value is None else Coefficient(figure.value)

    def confusion(self) -> Section:
        table = self.result.sliced.confusion
        present = {a for a in table} | {b for row in table.values() for b in row}
        # "No code" last: the codes in the order of their paths first.
        order = sorted(present, key=lambda code: (code == NO_CODE, code))
        header = [f"{self.a} \\ {self.b}", *(code_label(c) for c in order), _("Total")]
        rows: list[list[Cell]] = []
        for first in order:
            counts = [table.get(first, {}).get(second, 0) for second in order]
            rows.append([code_label(first), *counts, sum(counts)])
        columns = [sum(table.get(a, {}).get(b, 0) for a in order) for b in order]
        rows.append([_("Total"), *columns, sum(columns)])
        note = _("Nombre de tranches : en lignes le code %(of_a)s, en colonnes celui %(of_b)s.") % {
            "of_a": self.of(0),
            "of_b": self.of(1),
        }
        return Section(CONFUSION, _("Matrice de confusion"), header, rows, note)

    def disagreements(self) -> Section:
        header = [
            _("Enregistrement"),
            _("Début"),
            _("Fin"),
            _("Durée (s)"),
            _("Codes %(of_coder)s") % {"of_coder": self.of(0)},
            _("Codes %(of_coder)s") % {"of_coder": self.of(1)},
        ]
        rows: list[list[Cell]] = []
        links: dict[tuple[int, int], str] = {}
        for index, stretch in enumerate(self.result.disagreements):
            rows.append(
                [
                    self.codes.get(stretch.recording_id, str(stretch.recording_id)),
                    Time(stretch.start_ms),
                    Time(stretch.end_ms),
                    Seconds(stretch.end_ms - stretch.start_ms),
                    " | ".join(code_label(c) for c in stretch.codes_a),
                    " | ".join(code_label(c) for c in stretch.codes_b),
                ]
            )
            # The annotator opens at `#t=` milliseconds.
            links[(index, 1)] = f"/recordings/{stretch.recording_id}#t={stretch.start_ms}"
        note = _(
            "Passages où les tranches consécutives diffèrent ; les temps sont ceux de chaque "
            "enregistrement."
        )
        return Section(DISAGREEMENTS, _("Désaccords"), header, rows, note, links)
