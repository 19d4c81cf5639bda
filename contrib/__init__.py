"""Integrations with other people's APIs: the pytest plugin, the pika facade."""
