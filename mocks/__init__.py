"""Stand-ins for vendor APIs: vendor-like transports and servers on loopback, for tests and demos."""
