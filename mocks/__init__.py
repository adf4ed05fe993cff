"""Stand-ins for vendor APIs: vendor-like transports and loopback servers for tests and demos.

The spec-driven mock (``server``) serves what a spec implies; hand-written code here is an
independent oracle for what a spec could get wrong (``vendors/`` stand-ins, the webhook signers,
the SDK conformance runs in ``conformance/``). README's "The rule for mocks" says more.
"""
