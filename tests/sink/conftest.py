"""The sink's end-to-end tests run on an embedded broker and on the Kafka cluster (`broker_url`)."""

from __future__ import annotations

import pytest

from tests.kit.services import COMPONENT_BROKERS
from tests.kit.services import broker_url as component_broker_url


@pytest.fixture(params=COMPONENT_BROKERS)
def broker_url(request: pytest.FixtureRequest) -> str:
    """The end-to-end tests' broker: an embedded one, and the Kafka cluster."""
    return component_broker_url(request)
