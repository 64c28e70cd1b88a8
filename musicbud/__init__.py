"""The musicbud domain: users, the catalogue and taste edges."""
