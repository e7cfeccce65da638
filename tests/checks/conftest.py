from tests.dataplane.conftest import launcher  # noqa: F401
from tests.tls.conftest import pki, pki_dir  # noqa: F401  (test_ssl.py)
