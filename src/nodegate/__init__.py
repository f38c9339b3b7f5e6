"""nodegate's local tooling: dev PKI, CRL/OCSP server, local mTLS edge, the whole stack and the CLI."""
