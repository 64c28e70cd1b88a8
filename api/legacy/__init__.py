"""The legacy API: the routes the musicbud apps already installed call (``/login/``,
``/v1/me/profile/``, ``/bud/top/tracks``, ...), answered from the v1 services and selectors
in the legacy shapes, deprecated, with a Sunset date. See README.md beside this file."""
