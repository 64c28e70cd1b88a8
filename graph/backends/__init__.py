"""The two implementations of graph/queries.py: SQL (Django ORM) and Neo4j."""
