"""The realtime runtime, apart from the domain: channel layers and their
sequencer, the WebSocket entry (origin, session, routing), the consumer
runtime base class, and server-specific tweaks imported only where they
apply. Domain apps never import it; only transports (consumers) and
``config`` do.
"""
