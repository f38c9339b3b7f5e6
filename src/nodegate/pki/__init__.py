"""The development PKI: certificate authorities, the PKI directory on disk, and its CRL/OCSP server."""
