"""Samples and ACLs (configuration.txt §7): fetches over a lazily parsed
request (``fetch``), ACL expressions and ``if``/``unless`` conditions compiled
once into closures (``acl``, grammar in ``condition.lark``)."""

from pyhaproxy.sample.acl import (
    PREDEFINED,
    AclError,
    AclPending,
    Condition,
    Test,
    compile_condition,
    parse_expression,
)
from pyhaproxy.sample.fetch import FETCHES, RequestView
from pyhaproxy.sample.ssl_fetches import SSL_FETCHES  # registers the TLS fetches

__all__ = [
    "FETCHES",
    "PREDEFINED",
    "SSL_FETCHES",
    "AclError",
    "AclPending",
    "Condition",
    "RequestView",
    "Test",
    "compile_condition",
    "parse_expression",
]
