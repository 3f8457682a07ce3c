"""CPU and memory amounts mean the same on Docker and on clusters (Kubernetes quantity syntax)."""

from __future__ import annotations

import pytest

from cowait.quantity import QuantityError, cpu_cores, memory_bytes


@pytest.mark.parametrize("value, cores", [("1", 1.0), ("500m", 0.5), ("1.5", 1.5), (2, 2.0), ("250m", 0.25)])
def test_cpu_amounts(value, cores):
    assert cpu_cores(value) == cores


@pytest.mark.parametrize("value, size", [("512Mi", 512 * 2 ** 20), ("2Gi", 2 * 2 ** 30), ("1G", 10 ** 9),
                                         ("1k", 1000), ("1e3", 1000), ("1048576", 2 ** 20), ("1.5Gi", 3 * 2 ** 29)])
def test_memory_amounts(value, size):
    assert memory_bytes(value) == size


@pytest.mark.parametrize("value, fix", [("256m", "write 256Mi (or 256M)"), ("1g", "write 1Gi (or 1G)"),
                                        ("512MB", "write 512Mi (or 512M)"), ("10b", "write 10")])
def test_docker_style_memory_is_refused_with_the_spelling_to_use(value, fix):
    with pytest.raises(QuantityError) as info:
        memory_bytes(value)
    assert str(info.value).startswith(f"memory '{value}' ") and str(info.value).endswith(fix)


@pytest.mark.parametrize("value", ["lots", "-1", "0", "1 CPU"])
def test_not_a_cpu_amount(value):
    with pytest.raises(QuantityError, match=f"cpu '{value}'"):
        cpu_cores(value)


def test_a_fraction_of_a_byte_is_refused():
    with pytest.raises(QuantityError, match="whole number of bytes"):
        memory_bytes("0.5")
