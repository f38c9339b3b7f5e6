"""Revocation: CRL and OCSP answers, and the mode that decides what a missing answer means."""
