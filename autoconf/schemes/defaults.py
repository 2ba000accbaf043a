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


@dataclass(frozen=True)
class DefaultCodebook:
    kind: str
    name: str
    codes: tuple[DefaultCode, ...]


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

PHASES = ("Diagnostic", "1ère partie", "2ème partie", "3ème partie")

PRINCIPLES = (
    "Autonomie du bénéficiaire et ses compétences à s'orienter",
    "Co-construction du projet et rôle du conseiller dans cette co-construction",
    "Finalités, et tensions entre le projet de la personne et le marché du travail",
    "Conditions de travail du conseiller (collègues, partenaires, temps, contraintes)",
)


def _category(node: dict[str, Any]) -> DefaultCode:
    return DefaultCode(
        label=node["label"],
        description=node.get("description", ""),
        children=tuple(_category(child) for child in node.get("children", [])),
    )


def _categories() -> DefaultCodebook:
    text = resources.files("autoconf.schemes").joinpath("categories.json").read_text("utf-8")
    tree = json.loads(text)
    return DefaultCodebook(
        kind="categories",
        name=tree["codebook"],
        codes=tuple(_category(node) for node in tree["nodes"]),
    )


def default_codebooks() -> tuple[DefaultCodebook, ...]:
    """Schemes (hotkeys 1–9, 0, -, =), phases, principles to question, category tree."""
    hotkeys = [*"1234567890", "-", "="]
    schemes = tuple(
        DefaultCode(label=label, color=_PALETTE[i % len(_PALETTE)], hotkey=hotkeys[i])
        for i, label in enumerate(SCHEMES)
    )
    phases = tuple(
        DefaultCode(label=label, color=color)
        for label, color in zip(PHASES, ("#4E79A7", "#A0CBE8", "#F28E2B", "#FFBE7D"), strict=True)
    )
    principles = tuple(DefaultCode(label=label, color="#6F4E7C") for label in PRINCIPLES)
    return (
        DefaultCodebook(kind="schemes", name="Schèmes d'action", codes=schemes),
        DefaultCodebook(kind="phases", name="Phases", codes=phases),
        DefaultCodebook(kind="principles", name="Principes à questionner", codes=principles),
        _categories(),
    )
