"""The music services a user can connect: one module each behind ``base.Provider``, declared
once in ``registry``."""
