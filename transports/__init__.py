"""Transports: implementations of :class:`msgbus.transport.Transport`."""
