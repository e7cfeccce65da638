"""pykeepalived: VRRP (RFC 3768 / RFC 5798) failover that reads keepalived.conf.

Layout: ``reader`` (lark grammar, ``include``) → ``parser`` (keyword tables per
section) → ``model`` (plain dataclasses); ``packet`` (the VRRP codec) and
``fsm`` (the RFC 5798 state machine, transitions as data) are pure; ``net``,
``instance`` and ``daemon`` are the thin I/O layer; ``cli`` the command line.
"""

VERSION = "2.2.7"
