"""CPU and memory amounts in Kubernetes quantity syntax, with the same meaning on every engine.

``500m`` CPUs is half a core; ``512Mi`` is 512 MiB and ``1G`` 10^9 bytes. A Docker-style memory
value (``256m``, ``1g``) would mean something else on a cluster (``256m`` is 0.256 bytes), so it
is refused with the spelling to use instead. Standard library only: the task runtime uses it.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

SUFFIXES = {
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"), "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
# Docker's memory units, and the Kubernetes spelling of each
DOCKER_UNITS = {"b": "", "k": "Ki", "K": "Ki", "m": "Mi", "M": "Mi", "g": "Gi", "G": "Gi",
                "kb": "Ki", "mb": "Mi", "gb": "Gi", "KB": "Ki", "MB": "Mi", "GB": "Gi"}
_QUANTITY = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)([eE][+-]?\d+)?([A-Za-z]*)$")


class QuantityError(ValueError):
    """A CPU or memory amount that is not a valid quantity; the message says what to write."""


def parse_quantity(value: object) -> Decimal:
    """The amount a quantity stands for (``1.5``, ``500m``, ``2Gi``, ``1e3``)."""
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match or match.group(3) not in SUFFIXES:
        raise QuantityError(f"'{text}' is not a Kubernetes quantity (e.g. 500m, 2, 512Mi, 1G)")
    number, exponent, suffix = match.groups()
    try:
        amount = Decimal(number + (exponent or ""))
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise QuantityError(f"'{text}' is not a number") from exc
    return amount * SUFFIXES[suffix]


def cpu_cores(value: object) -> float:
    """CPUs as a number of cores (``500m`` -> 0.5)."""
    try:
        cores = parse_quantity(value)
    except QuantityError:
        raise QuantityError(f"cpu '{value}' is not a CPU amount: write cores (1, 0.5) or millicores (500m)") from None
    if cores <= 0:
        raise QuantityError(f"cpu '{value}' must be more than zero")
    return float(cores)


def memory_bytes(value: object) -> int:
    """Memory as bytes; a Docker-style value is refused with the quantity to write instead."""
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if match and (match.group(3) == "m" or match.group(3) in set(DOCKER_UNITS) - set(SUFFIXES)):
        number, suffix = match.group(1) + (match.group(2) or ""), match.group(3)
        binary = DOCKER_UNITS[suffix]
        use = f"write {number}{binary} (or {number}{binary[0]})" if binary else f"write {number}"
        if suffix == "m":
            raise QuantityError(f"memory '{text}' would be {number} thousandths of a byte (in Kubernetes' "
                                f"quantities m is milli); {use}")
        raise QuantityError(f"memory '{text}' is Docker's spelling, not a Kubernetes quantity; {use}")
    try:
        amount = parse_quantity(text)
    except QuantityError:
        raise QuantityError(f"memory '{text}' is not a memory amount: write e.g. 512Mi or 2Gi (or 1G)") from None
    if amount != amount.to_integral_value() or amount <= 0:
        raise QuantityError(f"memory '{text}' is not a whole number of bytes: write e.g. 512Mi")
    return int(amount)
