"""Settings of the search service (environment, prefix RESPONER_)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator
from responer_runtime.settings import RuntimeSettings


class Settings(RuntimeSettings):
    search_default_limit: int = 50
    search_max_limit: int = 200
    # postgres: the embedded default (schema `search` in the service's database); opensearch: an
    # OpenSearch cluster at search_opensearch_url, indices and aliases named `<index_prefix>-*`.
    search_backend: Literal["postgres", "opensearch"] = "postgres"
    search_opensearch_url: str = ""
    search_opensearch_index_prefix: str = "responer"
    search_consume_batch: int = 200  # events per fetch, indexed in one transaction

    @model_validator(mode="after")
    def _opensearch_needs_a_url(self) -> Settings:
        if self.search_backend == "opensearch" and not self.search_opensearch_url:
            raise ValueError(
                "RESPONER_SEARCH_OPENSEARCH_URL is required when RESPONER_SEARCH_BACKEND=opensearch"
            )
        return self
