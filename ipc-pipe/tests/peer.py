"""The Python side of ipc-pipe's interop tests: multiprocessing.connection's Client and
Listener, driven by the Rust tests.

    peer.py client ADDRESS KEY MODE
    peer.py listener ADDRESS KEY MODE

ADDRESS is host:port, @abstract or a path; KEY is the authkey, or - for none. The script
prints one line per step and `done` at the end; an exception is printed as
`error <ExceptionType>: <message>` and the exit status is 1.
"""

import os
import sys
import time
from multiprocessing import connection
from multiprocessing.connection import Client, Listener

VALUES = [1, -7, 2**70, 2.5, "text", "ünïcode", b"bytes", None, True, False,
          [1, [2, 3]], (4, "five"), {"a": 1, "b": [None]}, [], {}, ()]


def parse(address):
    if address.startswith("@"):
        return "\0" + address[1:]
    host, sep, port = address.rpartition(":")
    if sep and "/" not in address and port.isdigit():
        return (host, int(port))
    return address


def show(address):
    if isinstance(address, tuple):
        return "%s:%d" % address
    if isinstance(address, bytes):
        address = address.decode()
    if address.startswith("\0"):
        return "@" + address[1:]
    return address


def talk(conn, mode):
    if mode == "bytes":
        conn.send_bytes(b"hello from python")
        print("got", conn.recv_bytes().decode())
    elif mode == "values":
        for v in VALUES:
            conn.send(v)
        back = [conn.recv() for _ in VALUES]
        assert back == VALUES, (back, VALUES)
        assert [type(v) for v in back] == [type(v) for v in VALUES]
        print("values came back equal")
    elif mode == "echo":
        # Whatever the Rust side sends (bytes), sent back, until it closes.
        try:
            while True:
                conn.send_bytes(conn.recv_bytes())
        except EOFError:
            pass
    elif mode == "die_mid_message":
        # A header announcing 1000 bytes, 10 of them, then death.
        os.write(conn.fileno(), (1000).to_bytes(4, "big") + b"0123456789")
        sys.stdout.write("dying\n")
        sys.stdout.flush()
        os._exit(0)
    elif mode == "cycles":
        pass
    else:
        raise SystemExit("unknown mode " + mode)


def main():
    role, address, key, mode = sys.argv[1:5]
    print("python %d.%d" % sys.version_info[:2])
    address = parse(address)
    key = None if key == "-" else key.encode()
    try:
        if role == "client":
            if mode == "cycles":
                for _ in range(int(sys.argv[5])):
                    Client(address, authkey=key).close()
                print("cycles done")
            else:
                conn = Client(address, authkey=key)
                print("connected")
                sys.stdout.flush()
                talk(conn, mode)
        else:
            with Listener(address, authkey=key) as listener:
                print("listening on", show(listener.address))
                sys.stdout.flush()
                conn = listener.accept()
                print("accepted")
                sys.stdout.flush()
                talk(conn, mode)
    except Exception as e:
        print("error %s: %s" % (type(e).__name__, e))
        sys.stdout.flush()
        sys.exit(1)
    print("done")


if __name__ == "__main__":
    main()
