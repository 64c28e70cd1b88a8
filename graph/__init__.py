"""The graph layer: Neo4j projection of taste, and graph queries with two backends."""
