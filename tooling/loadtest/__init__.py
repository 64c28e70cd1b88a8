"""The mixed-traffic load test (``manage.py loadtest``): Locust users against the server."""
