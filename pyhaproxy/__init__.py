"""pyhaproxy: a load balancer that runs HAProxy configurations unchanged."""

__version__ = "0.1.0"

# The HAProxy release whose behaviour pyhaproxy follows; `.if version_atleast()`
# and `-v` answer with it.
HAPROXY_COMPAT_VERSION = "2.6.12"
