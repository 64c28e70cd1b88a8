"""Email addresses as the project stores and compares them: one spelling per address, and no
domain that passes for another (a homograph: ``demo`` spelt with a Cyrillic e, U+0435)."""

from __future__ import annotations

import idna
from django.core.exceptions import ValidationError

from musicbud.display_text import (
    SCRIPTLESS,
    homoglyph_tables,
    script_of,
    scripts_may_mix,
    scripts_of,
)


def email_normalize(address: str) -> str:
    """The stored spelling of ``address``: the local part as given, the domain mapped by
    IDNA's UTS #46 rules (case-folded, width- and compatibility-normalised: fullwidth ``DEMO``
    becomes ``demo``) and written in Unicode, so equivalent spellings of a domain are equal.

    Raises ``ValidationError`` for a domain IDNA refuses, a label mixing scripts, or a
    label that only imitates Latin letters under a Latin top-level domain.
    """
    local, at, domain = address.strip().rpartition("@")
    if not (local and at and domain):
        raise ValidationError("Enter a valid email address.", code="invalid")
    try:
        labels = idna.decode(idna.encode(domain, uts46=True)).split(".")
    except idna.IDNAError:
        raise ValidationError(
            "The email's domain is not a valid internationalised domain name.",
            code="invalid_domain",
        ) from None
    for label in labels:
        _check_label(label, top_level=labels[-1])
    return f"{local}@{'.'.join(labels)}"


def email_normalize_lenient(address: str) -> str:
    """``email_normalize``, or ``address`` unchanged where it refuses (lookups, not writes)."""
    try:
        return email_normalize(address)
    except ValidationError:
        return address.strip()


def _check_label(label: str, *, top_level: str) -> None:
    scripts = scripts_of(label)
    if not scripts_may_mix(scripts):
        raise ValidationError(
            f"The email's domain mixes scripts in '{label}' ({', '.join(sorted(scripts))}), "
            "so it could pass for another domain.",
            code="mixed_script_domain",
        )
    if scripts and scripts != {"LATIN"} and scripts_of(top_level) <= {"LATIN"}:
        letters = {char for char in label if script_of(char) not in SCRIPTLESS}
        confusables = homoglyph_tables()[1]
        found = confusables.is_confusable(label, greedy=True, preferred_aliases=["latin"]) or []
        if {item["character"] for item in found} == letters:
            raise ValidationError(
                f"The email's domain label '{label}' is made only of letters that look "
                "Latin, so it could pass for another domain.",
                code="lookalike_domain",
            )
