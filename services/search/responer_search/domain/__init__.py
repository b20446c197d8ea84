"""The search read model's vocabulary: view documents, the query tree, the cursor and the backend port.

Standard library only: the PostgreSQL adapter and a later OpenSearch adapter both import this package.
"""
