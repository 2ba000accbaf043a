"""The vocabularies a new study starts with (all editable afterwards)."""

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class DefaultCode:
    label: str
    color: str = "#888888"
    hotkey: str | None = None
    description: str = ""
    children: tuple["DefaultCode", ...] = field(default_factory=tuple)
    label_en: str = ""
    description_en: str = ""


@dataclass(frozen=True)
class DefaultCodebook:
    kind: str
    name: str
    codes: tuple[DefaultCode, ...]
    name_en: str = ""


# Colour-blind-safe palette (Okabe-Ito, then Tol's muted), one colour per scheme.
_PALETTE = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#882255",
)

# In the order of the report's synthesis table, then the case study's own schemes.
SCHEMES = (
    "Se présenter",
    "Écouter / reformuler",
    "Questionner / faire expliquer pour identifier la cohérence du projet avec la réalité du "
    "marché",
    "Questionner / faire expliquer pour comprendre les besoins de la personne",
    "Recentrer / orienter / convaincre",
    "Informer / expliquer",
    "Montrer / faire avec",
    "Inciter à / proposer",
    "Contrôler / vérifier ce qui a été retenu",
    "Questionner / vérifier",
    "Proposer / expliquer",
    "Prendre des notes",
)

# The same in English, in the same order (the interface in English, the ELAN vocabularies).
SCHEMES_EN = (
    "Introduce oneself",
    "Listen / rephrase",
    "Question / have the person explain, to identify how consistent the project is with the "
    "reality of the labour market",
    "Question / have the person explain, to understand their needs",
    "Refocus / guide / convince",
    "Inform / explain",
    "Show / do with the person",
    "Encourage / propose",
    "Check / verify what was retained",
    "Question / check",
    "Propose / explain",
    "Take notes",
)

PHASES = ("Diagnostic", "1ère partie", "2ème partie", "3ème partie")
PHASES_EN = ("Diagnosis", "Part 1", "Part 2", "Part 3")

PRINCIPLES = (
    "Autonomie du bénéficiaire et ses compétences à s'orienter",
    "Co-construction du projet et rôle du conseiller dans cette co-construction",
    "Finalités, et tensions entre le projet de la personne et le marché du travail",
    "Conditions de travail du conseiller (collègues, partenaires, temps, contraintes)",
)
PRINCIPLES_EN = (
    "The beneficiary's autonomy and their competences to orient themselves",
    "Co-construction of the project and the counsellor's role in it",
    "Aims, and tensions between the person's project and the labour market",
    "The counsellor's working conditions (colleagues, partners, time, constraints)",
)


def _category(node: dict[str, Any]) -> DefaultCode:
    return DefaultCode(
        label=node["label"],
        description=node.get("description", ""),
        children=tuple(_category(child) for child in node.get("children", [])),
        label_en=node.get("label_en", ""),
        description_en=node.get("description_en", ""),
    )


def _categories() -> DefaultCodebook:
    text = resources.files("autoconf.schemes").joinpath("categories.json").read_text("utf-8")
    tree = json.loads(text)
    return DefaultCodebook(
        kind="categories",
        name=tree["codebook"],
        codes=tuple(_category(node) for node in tree["nodes"]),
        name_en=tree.get("codebook_en", ""),
    )


def default_codebooks() -> tuple[DefaultCodebook, ...]:
    """Schemes (hotkeys 1–9, 0, -, =), phases, principles to question, category tree."""
    hotkeys = [*"1234567890", "-", "="]
    schemes = tuple(
        DefaultCode(
            label=label, color=_PALETTE[i % len(_PALETTE)], hotkey=hotkeys[i], label_en=english
        )
        for i, (label, english) in enumerate(zip(SCHEMES, SCHEMES_EN, strict=True))
    )
    phase_colors = ("#4E79A7", "#A0CBE8", "#F28E2B", "#FFBE7D")
    phases = tuple(
        DefaultCode(label=label, color=color, label_en=english)
        for label, english, color in zip(PHASES, PHASES_EN, phase_colors, strict=True)
    )
    principles = tuple(
        DefaultCode(label=label, color="#6F4E7C", label_en=english)
        for label, english in zip(PRINCIPLES, PRINCIPLES_EN, strict=True)
    )
    return (
        DefaultCodebook("schemes", "Schèmes d'action", schemes, name_en="Action schemes"),
        DefaultCodebook("phases", "Phases", phases, name_en="Phases"),
        DefaultCodebook(
            "principles", "Principes à questionner", principles, name_en="Principles to question"
        ),
        _categories(),
    )
