"""The OpenSSL settings Python's ``ssl`` module lacks: TLS 1.3 cipher
suites (``SSL_CTX_set_ciphersuites``), the groups list
(``SSL_CTX_set1_groups_list``, HAProxy's ``curves``), built-in DH
parameters (``SSL_CTX_set_tmp_dh``), the session cache and the client CA
names, reached through ctypes on the ``SSL_CTX`` an ``ssl.SSLContext``
wraps, called only while contexts are built; and a client hello callback
with ``Connection.apply``, which copies prebuilt settings of a crt-list
line onto one connection's ``SSL`` during its handshake (no certificate
work: versions, cipher lists, verify mode and flags)."""

from __future__ import annotations

import _ssl
import ctypes
import ssl

_SSL_CTRL_SET_GROUPS_LIST = 92
_SSL_CTRL_SET_TMP_DH = 3
_SSL_CTRL_MODE = 33
_SSL_MODE_NO_AUTO_CHAIN = 0x8
_SSL_CTRL_SET_SESS_CACHE_SIZE = 42
_SSL_CTRL_SET_SESS_CACHE_MODE = 44
_SSL_SESS_CACHE_OFF = 0

_lib = ctypes.CDLL(_ssl.__file__)
_set_ciphersuites = _lib.SSL_CTX_set_ciphersuites
_set_ciphersuites.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_set_ciphersuites.restype = ctypes.c_int
_ctrl = _lib.SSL_CTX_ctrl
_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
_ctrl.restype = ctypes.c_long
_set_timeout = _lib.SSL_CTX_set_timeout
_set_timeout.argtypes = [ctypes.c_void_p, ctypes.c_long]
_set_timeout.restype = ctypes.c_long
_dh_new_by_nid = _lib.DH_new_by_nid
_dh_new_by_nid.argtypes = [ctypes.c_int]
_dh_new_by_nid.restype = ctypes.c_void_p
_dh_get_1024 = _lib.DH_get_1024_160
_dh_get_1024.argtypes = []
_dh_get_1024.restype = ctypes.c_void_p
_dh_free = _lib.DH_free
_dh_free.argtypes = [ctypes.c_void_p]
_dh_free.restype = None
_ERR_clear_error = _lib.ERR_clear_error
_ERR_clear_error.argtypes = []
_ERR_clear_error.restype = None
# RFC 7919 groups by size (OpenSSL's NID_ffdhe2048, NID_ffdhe4096)
_FFDHE = {2048: 1126, 4096: 1128}


def _ssl_ctx(ctx: ssl.SSLContext) -> int:
    """The ``SSL_CTX *`` right after the object header of CPython's
    ``PySSLContext`` (Modules/_ssl.c)."""
    return ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value or 0


def set_ciphersuites(ctx: ssl.SSLContext, suites: str) -> bool:
    return _set_ciphersuites(_ssl_ctx(ctx), suites.encode()) == 1


def set_curves(ctx: ssl.SSLContext, curves: str) -> bool:
    return _ctrl(_ssl_ctx(ctx), _SSL_CTRL_SET_GROUPS_LIST, 0, ctypes.c_char_p(curves.encode())) == 1


def set_dh(ctx: ssl.SSLContext, bits: int) -> bool:
    """Fixed DH parameters of 1024, 2048 or 4096 bits for DHE key exchange;
    False when OpenSSL refuses them (1024 bits under security level 2)."""
    dh = _dh_new_by_nid(_FFDHE[bits]) if bits in _FFDHE else _dh_get_1024()
    if not dh:
        return False
    try:
        ok = _ctrl(_ssl_ctx(ctx), _SSL_CTRL_SET_TMP_DH, 0, dh) == 1
    finally:
        _dh_free(dh)  # the context keeps its own copy
    if not ok:
        _ERR_clear_error()
    return ok


def set_no_auto_chain(ctx: ssl.SSLContext) -> None:
    """Send the chain of the certificate file only, never one OpenSSL would
    build from the ``ca-file`` trust store (HAProxy sets an explicit chain)."""
    _ctrl(_ssl_ctx(ctx), _SSL_CTRL_MODE, _SSL_MODE_NO_AUTO_CHAIN, None)


def set_session_cache(ctx: ssl.SSLContext, size: int, lifetime: int) -> None:
    """``tune.ssl.cachesize`` (0: no session cache, tickets still resume)
    and ``tune.ssl.lifetime`` (seconds) on a server-side context."""
    ptr = _ssl_ctx(ctx)
    if size:
        _ctrl(ptr, _SSL_CTRL_SET_SESS_CACHE_SIZE, size, None)
    else:
        _ctrl(ptr, _SSL_CTRL_SET_SESS_CACHE_MODE, _SSL_SESS_CACHE_OFF, None)
    _set_timeout(ptr, lifetime)


# --- per-connection settings of a crt-list line (the SSL object, not the
# SSL_CTX: OpenSSL copies versions, cipher lists, the verify mode and flags
# into each SSL when it is created, and SSL_set_SSL_CTX does not copy them
# again; HAProxy 2.6 leaves the groups ("curves") of the first context)

_SSL_CTRL_SET_MIN_PROTO_VERSION = 123
_SSL_CTRL_SET_MAX_PROTO_VERSION = 124
_SSL_CLIENT_HELLO_SUCCESS = 1
DEFAULT_SUITES = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
_TLSEXT_TYPE_SERVER_NAME = 0

_ssl_ctrl = _lib.SSL_ctrl
_ssl_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
_ssl_ctrl.restype = ctypes.c_long
_ssl_set_verify = _lib.SSL_set_verify
_ssl_set_verify.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
_ssl_set_verify.restype = None
_ctx_verify_mode = _lib.SSL_CTX_get_verify_mode
_ctx_verify_mode.argtypes = [ctypes.c_void_p]
_ctx_verify_mode.restype = ctypes.c_int
_ctx_verify_cb = _lib.SSL_CTX_get_verify_callback
_ctx_verify_cb.argtypes = [ctypes.c_void_p]
_ctx_verify_cb.restype = ctypes.c_void_p
_ssl_set_cipher_list = _lib.SSL_set_cipher_list
_ssl_set_cipher_list.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_ssl_set_cipher_list.restype = ctypes.c_int
_ssl_set_ciphersuites = _lib.SSL_set_ciphersuites
_ssl_set_ciphersuites.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_ssl_set_ciphersuites.restype = ctypes.c_int
_ctx_param = _lib.SSL_CTX_get0_param
_ctx_param.argtypes = [ctypes.c_void_p]
_ctx_param.restype = ctypes.c_void_p
_ssl_param = _lib.SSL_get0_param
_ssl_param.argtypes = [ctypes.c_void_p]
_ssl_param.restype = ctypes.c_void_p
_param_get_flags = _lib.X509_VERIFY_PARAM_get_flags
_param_get_flags.argtypes = [ctypes.c_void_p]
_param_get_flags.restype = ctypes.c_ulong
_param_set_flags = _lib.X509_VERIFY_PARAM_set_flags
_param_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
_param_set_flags.restype = ctypes.c_int
_param_clear_flags = _lib.X509_VERIFY_PARAM_clear_flags
_param_clear_flags.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
_param_clear_flags.restype = ctypes.c_int
_ALL_FLAGS = (1 << (8 * ctypes.sizeof(ctypes.c_ulong))) - 1
_load_client_ca = _lib.SSL_load_client_CA_file
_load_client_ca.argtypes = [ctypes.c_char_p]
_load_client_ca.restype = ctypes.c_void_p
_set_client_ca = _lib.SSL_CTX_set_client_CA_list
_set_client_ca.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
_set_client_ca.restype = None
_hello_get0_ext = _lib.SSL_client_hello_get0_ext
_hello_get0_ext.argtypes = [
    ctypes.c_void_p,
    ctypes.c_uint,
    ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte)),
    ctypes.POINTER(ctypes.c_size_t),
]
_hello_get0_ext.restype = ctypes.c_int
HELLO_CB = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.c_void_p
)
_set_hello_cb = _lib.SSL_CTX_set_client_hello_cb
_set_hello_cb.argtypes = [ctypes.c_void_p, HELLO_CB, ctypes.c_void_p]
_set_hello_cb.restype = None


def set_client_ca_names(ctx: ssl.SSLContext, cafile: str) -> bool:
    """The CA names a server sends in its CertificateRequest: the subjects
    of ``cafile`` (HAProxy does so unless ``no-ca-names``)."""
    names = _load_client_ca(cafile.encode())
    if not names:
        _ERR_clear_error()
        return False
    _set_client_ca(_ssl_ctx(ctx), names)  # the context owns the list
    return True


class Connection:
    """What a crt-list line sets on each connection it is selected for,
    read once from its built context; ``apply`` runs in the handshake."""

    __slots__ = ("lo", "hi", "ciphers", "suites", "verify", "verify_cb", "verify_flags")

    def __init__(
        self, ctx: ssl.SSLContext, ciphers: str | None = None, suites: str | None = None
    ) -> None:
        """``ciphers`` and ``suites`` (already accepted by OpenSSL on the
        context): None keeps the connection's own."""
        self.lo, self.hi = int(ctx.minimum_version), int(ctx.maximum_version)
        self.ciphers = ciphers.encode() if ciphers else None
        self.suites = suites.encode() if suites else None
        ptr = _ssl_ctx(ctx)
        self.verify, self.verify_cb = _ctx_verify_mode(ptr), _ctx_verify_cb(ptr)
        # CRL checking (``verify_flags``) lives in the context's X509_VERIFY_PARAM,
        # also copied into each connection
        self.verify_flags = _param_get_flags(_ctx_param(ptr))

    def apply(self, ssl_ptr: int) -> None:
        _ssl_ctrl(ssl_ptr, _SSL_CTRL_SET_MIN_PROTO_VERSION, self.lo, None)
        _ssl_ctrl(ssl_ptr, _SSL_CTRL_SET_MAX_PROTO_VERSION, self.hi, None)
        if self.ciphers is not None:
            _ssl_set_cipher_list(ssl_ptr, self.ciphers)
        if self.suites is not None:
            _ssl_set_ciphersuites(ssl_ptr, self.suites)
        _ssl_set_verify(ssl_ptr, self.verify, self.verify_cb)
        param = _ssl_param(ssl_ptr)
        _param_clear_flags(param, _ALL_FLAGS)
        _param_set_flags(param, self.verify_flags)


def hello_server_name(ssl_ptr: int) -> str | None:
    """The host name of the ClientHello's server_name extension (RFC 6066
    §3), read in the client hello callback."""
    data = ctypes.POINTER(ctypes.c_ubyte)()
    size = ctypes.c_size_t()
    if not _hello_get0_ext(
        ssl_ptr, _TLSEXT_TYPE_SERVER_NAME, ctypes.byref(data), ctypes.byref(size)
    ):
        return None
    raw = ctypes.string_at(data, size.value)
    # ServerNameList length (2), name type (1, host_name = 0), length (2), name
    if len(raw) < 5 or raw[2] != 0:
        return None
    n = int.from_bytes(raw[3:5], "big")
    return raw[5 : 5 + n].decode("ascii", "replace") or None


def set_client_hello_cb(ctx: ssl.SSLContext, func) -> object:
    """Run ``func(ssl_ptr)`` on each ClientHello, before OpenSSL negotiates
    the version or reads the key shares (HAProxy's ``ssl_sock_switchctx_cbk``
    is such a callback).  Returns the C callback: the caller keeps it alive."""

    def cb(ssl_ptr, alert, arg):
        try:
            func(ssl_ptr)
        except Exception:  # noqa: BLE001  (never unwind through OpenSSL)
            pass
        return _SSL_CLIENT_HELLO_SUCCESS

    c_cb = HELLO_CB(cb)
    _set_hello_cb(_ssl_ctx(ctx), c_cb, None)
    return c_cb
