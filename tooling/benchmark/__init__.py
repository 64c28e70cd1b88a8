"""The project's load benchmark (``manage.py bench``); not part of the test run."""
