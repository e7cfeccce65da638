"""The HTTPS frontend of conf/examples/ceph-rgw.cfg (Red Hat "Load Balancer
Administration", appendix A) end to end: HTTPS in, round robin over two
plain HTTP gateways, with the example's certificate (example.com.pem)."""

from __future__ import annotations

import re

from tests.dataplane.conftest import ROOT
from tests.dataplane.servers import free_port
from tests.tls.tlsutil import get, hello

EXAMPLES = ROOT / "conf" / "examples"


def test_ceph_https_end_to_end(launcher, http_servers):
    cfg = (EXAMPLES / "ceph-rgw.cfg").read_text()
    http, https = free_port(), free_port()
    a, b = http_servers
    cfg = cfg.replace("127.0.0.1:8080", f"127.0.0.1:{http}")
    cfg = cfg.replace("127.0.0.1:8443", f"127.0.0.1:{https}")
    cfg = cfg.replace("crt example.com.pem", f"crt {EXAMPLES / 'example.com.pem'}")
    cfg = cfg.replace("127.0.2.71:80", f"127.0.0.1:{a.port}")
    cfg = cfg.replace("127.0.2.80:80", f"127.0.0.1:{b.port}")
    cfg = re.sub(r"\n\s*log [^\n]*", "\n", cfg)  # no syslog in the test
    # in the foreground, where the launcher stops it (a daemon would outlive the test)
    cfg = re.sub(r"\n\s*daemon\b", "\n", cfg)
    launcher.start(cfg, wait=[http, https])
    served = hello(https, "example.com")
    assert served.cn == "example.com"
    bodies = {get(https, sni="example.com").rpartition(b"\r\n\r\n")[2] for _ in range(4)}
    assert len(bodies) == 2  # both gateways answered
    assert served.version == "TLSv1.3"
