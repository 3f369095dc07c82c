"""Personal data masked before anything is stored, and CSV cells a spreadsheet cannot run."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Safety net behind phonenumbers: long digit runs it does not know as a number (10+ digits, or + / 00).
_PHONE = re.compile(r"(?<!\w)(?:\+|00)?\d[\d .\-/()]{7,}\d(?!\w)")
_DIGITS = re.compile(r"\d")
MIN_PHONE_DIGITS = 10   # French numbers have 10; a 9-digit code (Erasmus 999884537) is kept
MIN_NATIONAL_DIGITS = 9  # a number phonenumbers finds without + must have 9 digits: '2024-2025' is a year span
# Regions whose national formats are tried (FR first: most numbers students write are French ones);
# numbers written with + or 00 are recognised whatever the region.
PHONE_REGIONS = ("FR", "BE", "CH", "DE", "ES", "IT", "GB", "MA", "DZ", "TN", "SN", "CN", "IN", "BR", "US")


def mask_personal_data(text: str) -> str:
    """'write to jean.dupont@gmail.com or +33 6 12 34 56 78' -> 'write to [email] or [phone]'

    NFKC first: full-width ＠ becomes @, no-break and narrow no-break spaces become spaces, so
    'jean＠gmail.com' and '06 12 34 56 78' written with U+202F are masked like their plain forms."""
    text = unicodedata.normalize("NFKC", text)
    text = _EMAIL.sub("[email]", text)
    if len(_DIGITS.findall(text)) >= 6:   # most questions hold no number: skip the matcher's cost
        for region in PHONE_REGIONS:
            spans = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
                     if m.raw_string.startswith(("+", "00")) or len(_DIGITS.findall(m.raw_string)) >= MIN_NATIONAL_DIGITS]
            for start, end in reversed(spans):
                text = text[:start] + "[phone]" + text[end:]

    def phone(match: re.Match) -> str:
        number = match.group(0)
        international = number.startswith(("+", "00"))
        return "[phone]" if international or sum(ch.isdigit() for ch in number) >= MIN_PHONE_DIGITS else number

    return _PHONE.sub(phone, text)


def inert_cell(value):
    """A CSV cell a spreadsheet shows as text: '=HYPERLINK(...)' or '+33...' would run as a formula."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value
