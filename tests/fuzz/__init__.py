"""Structure-aware DER fuzzing of the authorizer's inputs (tests/functional/test_der_fuzz.py drives it)."""
