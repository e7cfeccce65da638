"""keepalived.conf texts for the interop tests (the same text runs in both daemons)."""

from __future__ import annotations


def instance(
    name: str = "VI_1",
    *,
    state: str = "BACKUP",
    priority: int = 100,
    vrid: int = 51,
    iface: str = "eth0",
    vips: tuple[str, ...] = ("10.70.0.200/24",),
    advert_int: float = 1,
    extra: str = "",
    auth: bool = True,
) -> str:
    vip_lines = "\n".join(f"    {v}" for v in vips)
    auth_block = (
        "  authentication {\n    auth_type PASS\n    auth_pass s3cret\n  }\n" if auth else ""
    )
    return (
        f"vrrp_instance {name} {{\n"
        f"  state {state}\n"
        f"  interface {iface}\n"
        f"  virtual_router_id {vrid}\n"
        f"  priority {priority}\n"
        f"  advert_int {advert_int:g}\n"
        f"{auth_block}"
        f"  virtual_ipaddress {{\n{vip_lines}\n  }}\n"
        f"{extra}"
        "}\n"
    )


GLOBAL = "global_defs {\n  router_id lab\n  enable_script_security\n  script_user root\n}\n"
