"""Settings split by environment: base (shared), local (embedded demo), test, production."""
