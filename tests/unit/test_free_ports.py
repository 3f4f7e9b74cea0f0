"""Ports for the local stack: SeaweedFS also takes each port's +10000 gRPC twin and refuses to
start when one of its ports is another's twin (CI met it once: master 41387, filer 51387)."""

from __future__ import annotations

from faxrelay.localstack import free_ports, usable_port


def test_a_port_that_is_the_twin_of_one_given_is_refused() -> None:
    assert not usable_port(51387, {41387})


def test_a_port_whose_twin_is_given_is_refused() -> None:
    assert not usable_port(41387, {51387})


def test_a_port_given_or_without_room_for_its_twin_is_refused() -> None:
    assert not usable_port(41387, {41387})
    assert not usable_port(60000, set())


def test_an_unrelated_port_is_usable() -> None:
    assert usable_port(41388, {41387, 51387})


def test_free_ports_are_distinct_twin_free_and_avoid_the_given() -> None:
    given = set(free_ports(5))
    ports = free_ports(40, avoid=given)
    assert len(set(ports)) == 40
    chosen = set(ports) | given
    for port in ports:
        assert port not in given
        assert port + 10000 not in chosen
        assert port - 10000 not in chosen
