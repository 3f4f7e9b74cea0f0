"""The National Provider Identifier's check: ten digits, the last the Luhn check digit of
``80840`` (the card issuer prefix of US health identifiers) and the first nine."""

from __future__ import annotations


def luhn_digit(payload: str) -> str:
    """The Luhn check digit of a string of digits."""
    total = 0
    for i, char in enumerate(reversed(payload)):
        digit = int(char) * (2 if i % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return str((10 - total % 10) % 10)


def npi_valid(npi: str) -> bool:
    """Ten ASCII digits whose last is the Luhn check digit of ``80840`` + the first nine."""
    return (
        len(npi) == 10
        and npi.isascii()
        and npi.isdigit()
        and luhn_digit("80840" + npi[:9]) == npi[9]
    )
