"""Responer search: the inbox-list and full-text read model, queried over gRPC."""
