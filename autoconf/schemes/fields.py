"""Structured fields a segment may carry, from the theory of the scheme and the analysis grid."""

from autoconf.errors import Invalid

STRUCTURED_FIELDS: dict[str, str] = {
    "but": "But / sous-but",
    "invariants": "Invariants opératoires (concepts et principes d'action)",
    "regles": "Règles d'action",
    "inferences": "Inférences",
    "indicateurs": "Indicateurs / indices prélevés",
    "actions_outils": "Actions et outils",
    "difficultes": "Difficultés",
    "contraintes_ressources": "Contraintes et ressources",
    "evaluation": "Évaluation",
    "prise_de_conscience": "Prise de conscience",
    "regret": "Regret (« ce que j'aurais voulu faire »)",
}


def clean_fields(fields: dict[str, str]) -> dict[str, str]:
    """Keep the known, non-empty fields; an unknown key is an error the user must see."""
    unknown = sorted(set(fields) - set(STRUCTURED_FIELDS))
    if unknown:
        known = ", ".join(STRUCTURED_FIELDS)
        raise Invalid(f"Champ(s) inconnu(s) : {', '.join(unknown)}. Champs possibles : {known}.")
    return {key: value.strip() for key, value in fields.items() if value and value.strip()}
