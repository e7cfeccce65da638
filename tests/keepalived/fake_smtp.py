"""A one-message SMTP server for the e-mail alert test: ``fake_smtp.py PORT OUTFILE``."""

from __future__ import annotations

import socket
import sys


def main() -> None:
    port, out = int(sys.argv[1]), sys.argv[2]
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    while True:
        conn, _ = srv.accept()
        f = conn.makefile("rwb")
        f.write(b"220 fake ESMTP\r\n")
        f.flush()
        data: list[bytes] = []
        while line := f.readline():
            cmd = line[:4].upper()
            if cmd == b"DATA":
                f.write(b"354 go ahead\r\n")
                f.flush()
                while (body := f.readline()) not in (b".\r\n", b""):
                    data.append(body)
                with open(out, "ab") as fh:
                    fh.write(b"".join(data))
                f.write(b"250 queued\r\n")
            elif cmd == b"QUIT":
                f.write(b"221 bye\r\n")
                f.flush()
                break
            else:
                f.write(b"250 ok\r\n")
            f.flush()
        conn.close()


if __name__ == "__main__":
    main()
