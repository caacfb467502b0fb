"""Shared pieces of the hostile-input suite: a guard that proves no connection was attempted."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def no_connections(monkeypatch):
    """Records every outgoing connection attempt and refuses it; tests assert the list stays empty."""
    attempts: list[tuple] = []

    def refuse(address, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        attempts.append(address)
        raise ConnectionRefusedError(f"test guard: connection to {address} attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts
