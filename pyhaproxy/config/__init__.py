"""The configuration compiler: reader → keywords → model → checks."""
