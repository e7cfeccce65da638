"""TLS termination and origination (configuration.txt §5.1 and §5.2 ssl options).

Invariants: certificate material is read and checked with ``cryptography``
while the configuration loads (``certs``, ``crtlist``); every
``ssl.SSLContext`` is built once per bind line and per server when the data
plane starts (``context``), and the only TLS work while serving is OpenSSL's
handshake and the SNI callback's dictionary lookups (``sni``).
"""

from pyhaproxy.tls.certs import Material, TlsError, load_crt
from pyhaproxy.tls.context import BindTLS, ServerTLS

__all__ = ["BindTLS", "Material", "ServerTLS", "TlsError", "load_crt"]
