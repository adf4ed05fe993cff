"""Stand-ins for vendor APIs: vendor-like transports and loopback servers for tests and demos."""
