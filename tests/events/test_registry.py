"""The registry of wire events (core.events): one spec per type, every request the socket handles declared."""

import pytest
from jsonschema import Draft202012Validator

from chat.consumers import HANDLERS
from core.events import CLIENT, SERVER, all_specs, register, spec_for


def test_every_request_the_socket_handles_is_a_registered_client_request():
    handled = set(HANDLERS) | {"authenticate"}  # authenticate is read before a handler is looked up
    assert {spec.type for spec in all_specs(CLIENT)} == handled


def test_an_event_type_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="already registered"):
        register("ready", direction=SERVER, data={}, description="again", audience="the connection")
    assert spec_for("ready").description.startswith("The connection is authenticated")


def test_a_server_event_must_say_who_receives_it():
    with pytest.raises(ValueError, match="needs an audience"):
        register("never_registered", direction=SERVER, data={}, description="nobody")
    assert spec_for("never_registered") is None


@pytest.mark.parametrize("spec", all_specs(), ids=lambda spec: spec.type)
def test_each_data_schema_is_a_valid_json_schema(spec):
    Draft202012Validator.check_schema(spec.data)
