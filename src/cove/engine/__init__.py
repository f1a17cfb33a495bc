"""The engine service layer: containers, their OCI specs and monitors."""
