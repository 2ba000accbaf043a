"""Structured fields a segment may carry, from the theory of the scheme and the analysis grid."""

from autoconf.errors import Invalid
from autoconf.i18n import N_

STRUCTURED_FIELDS: dict[str, str] = {
    "but": N_("But / sous-but"),
    "invariants": N_("Invariants opératoires (concepts et principes d'action)"),
    "regles": N_("Règles d'action"),
    "inferences": N_("Inférences"),
    "indicateurs": N_("Indicateurs / indices prélevés"),
    "actions_outils": N_("Actions et outils"),
    "difficultes": N_("Difficultés"),
    "contraintes_ressources": N_("Contraintes et ressources"),
    "evaluation": N_("Évaluation"),
    "prise_de_conscience": N_("Prise de conscience"),
    "regret": N_("Regret (« ce que j'aurais voulu faire »)"),
}


def clean_fields(fields: dict[str, str]) -> dict[str, str]:
    """Keep the known, non-empty fields; an unknown key is an error the user must see."""
    unknown = sorted(set(fields) - set(STRUCTURED_FIELDS))
    if unknown:
        known = ", ".join(STRUCTURED_FIELDS)
        raise Invalid(f"Champ(s) inconnu(s) : {', '.join(unknown)}. Champs possibles : {known}.")
    return {key: value.strip() for key, value in fields.items() if value and value.strip()}
